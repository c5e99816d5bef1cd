package main

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cloakroom/cloakroom/internal/fakeapi"
	"github.com/cloakroom/cloakroom/proxy"
	"github.com/cloakroom/cloakroom/tokenize"
)

func TestRunSecretValues(t *testing.T) {
	existing := filepath.Join(t.TempDir(), "key.json")
	if err := os.WriteFile(existing, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		env   string
		want  string // the value registered, "" for none
		token string // the agent's token
	}{
		{name: "github token", env: "GITHUB_TOKEN=ghp_abcdefghijklmnop", want: "ghp_abcdefghijklmnop"},
		{name: "api key", env: "OPENAI_API_KEY=sk-proj-abcdefgh", want: "sk-proj-abcdefgh"},
		{name: "aws secret", env: "AWS_SECRET_ACCESS_KEY=Zq8s3cR9vTx1/K7MDENGbPxRfiCYwJalrXUtnFEM", want: "Zq8s3cR9vTx1/K7MDENGbPxRfiCYwJalrXUtnFEM"},
		{name: "client secret", env: "OAUTH_CLIENT_SECRET=s3cr3t-value", want: "s3cr3t-value"},
		{name: "password in the name", env: "PGPASSWORD=hunter2hunter2", want: "hunter2hunter2"},
		{name: "mysql pwd", env: "MYSQL_PWD=hunter2hunter2", want: "hunter2hunter2"},
		{name: "lowercase name", env: "my_service_token=abcdefgh12", want: "abcdefgh12"},
		{name: "database url password", env: "DATABASE_URL=postgres://app:Vt4nR8qL2mXw9KcZ@db:5432/prod", want: "Vt4nR8qL2mXw9KcZ"},
		{name: "url password too short", env: "DATABASE_URL=postgres://app:short@db/prod"},
		{name: "url without password", env: "DATABASE_URL=postgres://app@db/prod"},
		{name: "working directory", env: "PWD=/home/someone/project"},
		{name: "ordinary variable", env: "EDITOR=/usr/bin/vim"},
		{name: "too short", env: "API_TOKEN=abc123"},
		{name: "boolean setting", env: "DISABLE_TOKEN=disabled"},
		{name: "number", env: "MAX_TOKENS=1000000000"},
		{name: "placeholder", env: "API_KEY=xxxxxxxxxxxx"},
		{name: "path to a file", env: "GOOGLE_CREDENTIALS=" + existing},
		{name: "file name", env: "GITHUB_TOKEN_FILE=/run/secrets/gh"},
		{name: "key id", env: "AWS_ACCESS_KEY_ID=AKIAZ3MQPWRT7YUXK2NB"},
		{name: "token url", env: "ACTIONS_ID_TOKEN_REQUEST_URL=https://example.com/x"},
		{name: "proxy we set", env: "HTTPS_PROXY=http://a:cra_longtoken@127.0.0.1:8080"},
		{name: "lowercase proxy we set", env: "https_proxy=http://a:cra_longtoken@127.0.0.1:8080"},
		{name: "agent name", env: agentNameEnv + "=ci-bot-runner"},
		{name: "bad name", env: "1TOKEN=abcdefghijkl"},
		{name: "agent token from a file", env: "HOME=/home/x", token: "cra_fromAfile", want: "cra_fromAfile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := agentEnv{listen: "127.0.0.1:8080", dir: "/d", agent: "a", token: tt.token}
			got := secretValues([]string{tt.env}, e)
			var values []string
			for _, v := range got {
				values = append(values, v.Value)
			}
			switch {
			case tt.want == "" && len(got) != 0:
				t.Errorf("got %d values registered, want none", len(got))
			case tt.want != "" && (len(got) != 1 || got[0].Value != tt.want):
				t.Errorf("got %d values (want %q among them: %v), want exactly it", len(got), tt.want, slices.Contains(values, tt.want))
			}
		})
	}
}

// randomSecret returns n characters that no rule recognises in prose.
func randomSecret(t *testing.T, n int) string {
	t.Helper()
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// runRig is a real serve process in front of the fake upstream, for cloakroom run.
type runRig struct {
	bin, curl, dir, data string
	proxyAddr, upURL     string
	up                   *fakeapi.Server
	stderr               *syncBuf
	baseArgs             []string
}

func newRunRig(t *testing.T, serveArgs ...string) *runRig {
	t.Helper()
	r := &runRig{curl: needCurl(t), bin: buildBinary(t), dir: t.TempDir()}
	r.up = fakeapi.Start(t, fakeapi.Options{})
	upCA := filepath.Join(r.dir, "upstream-ca.pem")
	if err := os.WriteFile(upCA, r.up.CAPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	r.data = filepath.Join(r.dir, "data")
	r.proxyAddr, _, r.stderr = startServe(t, r.bin, append([]string{"--data-dir", r.data, "--intercept", "localhost", "--upstream-ca", upCA}, serveArgs...)...)
	r.upURL = "https://localhost:" + strings.Split(r.up.Addr, ":")[1] + "/v1/messages"
	r.baseArgs = []string{"run", "--listen", r.proxyAddr, "--data-dir", r.data}
	return r
}

// modelScript is a shell script that sends a model request holding $SECRET in
// prose through the proxy, with the proxy and CA bundle cloakroom run sets.
const modelScript = `printf '{"model":"claude-sonnet-4-5","max_tokens":50,"messages":[{"role":"user","content":"the billing service answers to %s, remember it"}]}' "$MY_SERVICE_TOKEN" |
	"$CURL" -sS --fail-with-body --noproxy '' --proxy "$HTTPS_PROXY" --cacert "$SSL_CERT_FILE" -H 'content-type: application/json' --data-binary @- "$UP_URL"`

// run runs the binary with args and extra environment; it returns stdout, stderr
// and the exit code.
func (r *runRig) run(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(r.bin, args...)
	cmd.Env = append(append(cleanEnv(), "CURL="+r.curl, "UP_URL="+r.upURL), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return stdout.String(), stderr.String(), 0
	case errors.As(err, &ee):
		return stdout.String(), stderr.String(), ee.ExitCode()
	}
	t.Fatalf("run %v: %v", args, err)
	return "", "", -1
}

// TestRunCommand runs the real cloakroom run against a real serve: registration,
// exit codes, environment and signals.
func TestRunCommand(t *testing.T) {
	r := newRunRig(t)
	t.Run("registers environment secrets", r.testRegisters)
	t.Run("exit codes", r.testExitCodes)
	t.Run("signals", r.testSignals)
}

// testRegisters is the "done when" for cloakroom run: a value no rule
// recognises reaches the upstream in the clear through a plain proxied request,
// but once cloakroom run has registered it from the environment, the upstream sees
// a token, and the response brings the value back.
func (r *runRig) testRegisters(t *testing.T) {
	secret := randomSecret(t, 24)
	env := []string{"MY_SERVICE_TOKEN=" + secret}

	// Without run: no rule finds it, the upstream gets it (the control).
	out, errOut, code := r.run(t, env, append(r.baseArgs, "--no-register", "--", "sh", "-c", modelScript)...)
	if code != 0 {
		t.Fatalf("run --no-register: exit %d: %s %s\nproxy log:\n%s", code, out, errOut, r.stderr)
	}
	if !bytes.Contains(r.up.Last().Body, []byte(secret)) {
		t.Fatal("control: a rule already recognises the value; the test proves nothing")
	}

	out, errOut, code = r.run(t, env, append(r.baseArgs, "-v", "--", "sh", "-c", modelScript)...)
	if code != 0 {
		t.Fatalf("run: exit %d: %s %s\nproxy log:\n%s", code, out, errOut, r.stderr)
	}
	fwd := r.up.Last().Body
	if bytes.Contains(fwd, []byte(secret)) {
		t.Fatal("the registered value reached the upstream")
	}
	spans := tokenize.Find(fwd)
	if len(spans) != 1 || spans[0].Token.Class != proxy.KnownClass {
		t.Fatalf("upstream body holds %d tokens (%v), want one of class %s", len(spans), spans, proxy.KnownClass)
	}
	if !strings.Contains(out, secret) {
		t.Errorf("the echo was not restored for the agent that registered the value")
	}
	if !strings.Contains(errOut, "1 values registered") || !strings.Contains(errOut, "MY_SERVICE_TOKEN") || strings.Contains(errOut, secret) {
		t.Errorf("-v output: got %q, want the count and the name, never the value", errOut)
	}
	// Registered values stay known for every later request, run or not.
	if out, errOut, code := r.run(t, env, "run", "--no-register", "--listen", r.proxyAddr, "--data-dir", r.data, "--", "sh", "-c", modelScript); code != 0 || bytes.Contains(r.up.Last().Body, []byte(secret)) {
		t.Fatalf("a later request: exit %d (%s %s); value reached upstream: %v", code, out, errOut, bytes.Contains(r.up.Last().Body, []byte(secret)))
	}
	if strings.Contains(r.stderr.String(), secret) {
		t.Error("the value is in the proxy's log")
	}
}

// testExitCodes: the command's exit code is run's; run's own failures have their
// own codes and clear messages.
func (r *runRig) testExitCodes(t *testing.T) {
	unused := freeAddr(t)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{name: "success", args: append(r.baseArgs, "--", "true"), wantCode: 0},
		{name: "exit code passed on", args: append(r.baseArgs, "--", "sh", "-c", "exit 7"), wantCode: 7},
		{name: "without --", args: append(r.baseArgs, "sh", "-c", "exit 3"), wantCode: 3},
		{name: "command not found", args: append(r.baseArgs, "--", "no-such-command-cloakroom"), wantCode: 127, wantErr: "no-such-command-cloakroom"},
		{name: "no command", args: r.baseArgs, wantCode: 2, wantErr: "no command"},
		{name: "proxy unreachable", args: []string{"run", "--listen", unused, "--data-dir", r.data, "--", "true"}, wantCode: 125, wantErr: "--no-register"},
		{name: "proxy unreachable, not registering", args: []string{"run", "--listen", unused, "--data-dir", r.data, "--no-register", "--", "sh", "-c", "exit 4"}, wantCode: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := r.run(t, []string{"API_TOKEN=abcdefghijklmnop"}, tt.args...)
			if code != tt.wantCode || !strings.Contains(errOut, tt.wantErr) {
				t.Fatalf("got exit %d, stderr %q; want %d mentioning %q", code, errOut, tt.wantCode, tt.wantErr)
			}
		})
	}
	// The command sees the environment of cloakroom env and its own.
	out, errOut, code := r.run(t, []string{"KEEP_ME=yes", "https_proxy=http://stale:1"}, append(r.baseArgs, "--", "sh", "-c", `printf '%s|%s|%s|%s' "$HTTPS_PROXY" "$https_proxy" "$SSL_CERT_FILE" "$KEEP_ME"`)...)
	want := "http://" + r.proxyAddr + "|http://" + r.proxyAddr + "|" + filepath.Join(r.data, bundleFile) + "|yes"
	if code != 0 || out != want {
		t.Errorf("environment: got %q (exit %d, %s), want %q", out, code, errOut, want)
	}
}

// testSignals: a signal sent to cloakroom run reaches the command.
func (r *runRig) testSignals(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGTERM")
	}
	cmd := exec.Command(r.bin, append(r.baseArgs, "--", "sh", "-c", `trap 'exit 42' TERM; echo ready; while :; do sleep 0.05; done`)...)
	cmd.Env = cleanEnv()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	buf := make([]byte, 6)
	if _, err := io.ReadFull(stdout, buf); err != nil || string(buf) != "ready\n" {
		t.Fatalf("the command did not start: %q %v", buf, err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 42 {
			t.Fatalf("got %v, want exit 42 from the command's TERM trap", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the command did not get SIGTERM")
	}
}

// TestRunAgentCredentials: with agents required, run registers as the agent and
// the command's proxy URL carries its credentials; wrong ones fail clearly.
func TestRunAgentCredentials(t *testing.T) {
	token, sum, err := proxy.GenerateAgentToken()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfg, []byte("require_auth: true\nagents:\n  - name: ci-bot\n    token_sha256: "+sum+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := newRunRig(t, "--config", cfg)
	secret := randomSecret(t, 24)
	env := []string{"MY_SERVICE_TOKEN=" + secret}

	out, errOut, code := r.run(t, env, append(r.baseArgs, "--", "sh", "-c", modelScript)...)
	if code != 125 || !strings.Contains(errOut, "refused the agent credentials") {
		t.Fatalf("without credentials: exit %d, %s %s; want 125 and the refusal", code, out, errOut)
	}
	out, errOut, code = r.run(t, env, append(r.baseArgs, "--agent", "ci-bot", "--token-file", tokenFile, "--", "sh", "-c", modelScript)...)
	if code != 0 {
		t.Fatalf("with credentials: exit %d: %s %s\nproxy log:\n%s", code, out, errOut, r.stderr)
	}
	if bytes.Contains(r.up.Last().Body, []byte(secret)) || !strings.Contains(out, secret) {
		t.Fatalf("the value reached the upstream (%v) or was not restored to ci-bot (%v)", bytes.Contains(r.up.Last().Body, []byte(secret)), strings.Contains(out, secret))
	}
	// The agent's own token, in its proxy URL, is a known value too.
	if strings.Contains(r.stderr.String(), token) || strings.Contains(r.stderr.String(), secret) {
		t.Error("a credential or value is in the proxy's log")
	}
	_, errOut, code = r.run(t, env, append(r.baseArgs, "--agent", "ci-bot", "--", "true")...)
	if code != 125 || !strings.Contains(errOut, "refused the agent credentials") {
		t.Fatalf("a name without its token: exit %d, %s", code, errOut)
	}
}
