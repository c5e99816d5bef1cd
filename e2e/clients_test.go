package e2e_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// nodeRunTimeout bounds one run of a Node client.
const nodeRunTimeout = 60 * time.Second

// inCI reports whether the suite runs in CI, where a client that cannot be installed
// or run fails the test instead of skipping it.
func inCI() bool { return os.Getenv("CI") == "true" }

// nodeClients returns the directory holding the installed Node clients
// (e2e/node). Without node on PATH it skips the test, or fails it in CI; with node
// but without the packages it fails and says to run ./setup.
func nodeClients(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		if inCI() {
			t.Fatal("node is not on PATH, and CI=true: the Node clients must run in CI (install Node.js 20 or later)")
		}
		t.Skip("node is not on PATH: skipping the Node clients (install Node.js 20 or later, then run e2e/setup)")
	}
	dir, err := filepath.Abs("node")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json")); err != nil {
		t.Fatal("the Node clients are not installed: run ./setup in e2e (it runs npm ci in e2e/node)")
	}
	return dir
}

// nodeBin returns the path of an installed client's executable (node_modules/.bin).
func nodeBin(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(nodeClients(t), "node_modules", ".bin", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is not installed (%v): run ./setup in e2e", name, err)
	}
	return p
}

// clientEnv is the whole environment a client runs with: PATH, HOME (a fresh
// directory from the test, so no user configuration, credentials or caches are read)
// and the variables the test names. Nothing else is inherited, so a developer's own
// HTTPS_PROXY or API keys cannot change what is tested.
func clientEnv(home string, vars ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TMPDIR=" + os.TempDir(), "LANG=C.UTF-8"}
	return append(env, vars...)
}

// run runs cmd to completion and returns its stdout; a failure to start, a non-zero
// exit or a timeout fails the test with the command's stderr.
func run(t *testing.T, ctx context.Context, cmd *exec.Cmd) []byte {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		t.Fatalf("%s: %v\nstderr:\n%s", filepath.Base(cmd.Path), err, tail(stderr.String(), 4000))
	}
	return stdout.Bytes()
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// countIn counts the occurrences of sub in b.
func countIn(b []byte, sub string) int { return bytes.Count(b, []byte(sub)) }
