package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloakroom/cloakroom/internal/fakeapi"
)

// freeAddr returns a loopback address nobody listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	return freeAddrs(t, 1)[0]
}

// freeAddrs returns n different loopback addresses nobody listens on right now: each
// is held until all are chosen, so that the system cannot hand out one twice (two
// calls of freeAddr may get the same port, which serve refuses for --listen and
// --admin).
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	addrs := make([]string, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs
}

// startServe runs the real binary's serve command, as the README says, and waits
// until the admin endpoint is ready.
func startServe(t *testing.T, bin string, args ...string) (proxyAddr, adminAddr string, stderr *syncBuf) {
	proxyAddr, adminAddr, stderr, _ = startStoppable(t, bin, args...)
	return
}

// startStoppable is startServe that also returns a function stopping the process.
func startStoppable(t *testing.T, bin string, args ...string) (proxyAddr, adminAddr string, stderr *syncBuf, stop func()) {
	return startWithEnv(t, bin, nil, args...)
}

// startWithEnv is startStoppable with extra environment variables.
func startWithEnv(t *testing.T, bin string, env []string, args ...string) (proxyAddr, adminAddr string, stderr *syncBuf, stop func()) {
	t.Helper()
	addrs := freeAddrs(t, 2)
	proxyAddr, adminAddr = addrs[0], addrs[1]
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, append([]string{"serve", "--listen", proxyAddr, "--admin", adminAddr}, args...)...)
	stderr = &syncBuf{}
	cmd.Stderr = stderr
	cmd.Env = append(append(os.Environ(), "HTTPS_PROXY=", "HTTP_PROXY=", masterKeyEnv+"="), env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = cmd.Process.Signal(os.Interrupt)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				cancel()
				<-done
			}
			cancel()
		})
	}
	t.Cleanup(stop)
	for i := 0; i < 200; i++ {
		resp, err := http.Get("http://" + adminAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return proxyAddr, adminAddr, stderr, stop
			}
		}
		select {
		case <-done:
			t.Fatalf("serve exited early: %s", stderr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not become ready: %s", stderr)
	return
}

// writeUpstreamCA writes the fake upstream's CA into dir, for --upstream-ca, and
// returns its path.
func writeUpstreamCA(t *testing.T, up *fakeapi.Server, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "upstream-ca.pem")
	if err := os.WriteFile(path, up.CAPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "cloakroom")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// TestServeWithCurl is the foundation's "done when": the real binary with zero config
// (but a temporary data dir), curl through it with an AWS key, a GitHub token, a PEM
// key and a postgres URI; the upstream sees tokens only, and the echo comes back
// restored, streaming and not.
func TestServeWithCurl(t *testing.T) {
	curl := needCurl(t)
	bin := buildBinary(t)
	up := fakeapi.Start(t, fakeapi.Options{})
	dir := t.TempDir()
	upCA := writeUpstreamCA(t, up, dir)
	data := filepath.Join(dir, "data")
	proxyAddr, adminAddr, stderr := startServe(t, bin, "--data-dir", data, "--intercept", "localhost", "--upstream-ca", upCA)

	// First start: CA, key, master key and store exist with the right modes, and the
	// environment lines were printed.
	for name, mode := range map[string]os.FileMode{"ca.pem": 0o644, "ca-key.pem": 0o600, "master.key": 0o600, "vault.db": 0o600, "ca-bundle.pem": 0o644, "audit.jsonl": 0o600} {
		fi, err := os.Stat(filepath.Join(data, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: got mode %v, want %v", name, fi.Mode().Perm(), mode)
		}
	}
	for _, want := range []string{"HTTPS_PROXY=http://" + proxyAddr, "NODE_EXTRA_CA_CERTS=" + filepath.Join(data, "ca.pem"), "SSL_CERT_FILE=" + filepath.Join(data, "ca-bundle.pem"), "REQUESTS_CA_BUNDLE=", "CODEX_CA_CERTIFICATE="} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("startup output lacks %q", want)
		}
	}

	secrets := []string{
		"AKIAZ3MQPWRT7YUXK2NB",
		"Zq8s3cR9vTx1/K7MDENGbPxRfiCYwJalrXUtnFEM",
		"ghp_" + "R8cJ2mWq7Lx9TzK4vNp3Ys6Hd1Fb0Ge5Ua2S", // checksum not valid: caught by context
		"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACDx3fD2rS8pK1vQ7mZ9cW4uY6tE0bN5hJ2gL3kP8oX1sQAAAJgq9Zr7KvWa\n-----END OPENSSH PRIVATE KEY-----",
		"Vt4nR8qL2mXw9KcZ",
	}
	prompt := "AWS_ACCESS_KEY_ID=" + secrets[0] + "\naws_secret_access_key = " + secrets[1] +
		"\nexport GITHUB_TOKEN=" + secrets[2] + "\n" + secrets[3] +
		"\npsql postgres://deploy:" + secrets[4] + "@db.prod.internal:5432/app\n"
	promptJSON, _ := json.Marshal(prompt)
	upURL := "https://localhost:" + strings.Split(up.Addr, ":")[1] + "/v1/messages"

	for _, stream := range []bool{false, true} {
		body := `{"model":"claude-sonnet-4-5","max_tokens":100,"stream":` + map[bool]string{true: "true", false: "false"}[stream] +
			`,"messages":[{"role":"user","content":` + string(promptJSON) + `}]}`
		cmd := exec.Command(curl, "-sS", "--fail-with-body", "--proxy", "http://"+proxyAddr,
			"--cacert", filepath.Join(data, "ca.pem"), "-H", "content-type: application/json",
			"--data-binary", "@-", upURL)
		cmd.Stdin = strings.NewReader(body)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("curl (stream=%v): %v\n%s\nproxy log:\n%s", stream, err, out, stderr)
		}
		fwd := up.Last().Body
		for i, s := range secrets {
			esc, _ := json.Marshal(s)
			if bytes.Contains(fwd, esc[1:len(esc)-1]) {
				t.Errorf("stream=%v: secret %d reached the upstream", stream, i)
			}
		}
		if c := strings.Count(string(fwd), "cloak_"); c < len(secrets) {
			t.Errorf("stream=%v: upstream body has %d tokens, want >= %d", stream, c, len(secrets))
		}
		text := echoText(t, out, stream)
		if text != prompt {
			t.Errorf("stream=%v: restored echo differs:\n got %q\nwant %q", stream, text, prompt)
		}
	}

	// Logs, audit and metrics hold no planted value.
	audit, err := os.ReadFile(filepath.Join(data, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + adminAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var metrics bytes.Buffer
	_, _ = metrics.ReadFrom(resp.Body)
	resp.Body.Close()
	store, _ := os.ReadFile(filepath.Join(data, "vault.db"))
	for i, s := range secrets {
		for _, line := range strings.Split(s, "\n") {
			if len(line) < 12 || strings.HasPrefix(line, "-----") {
				continue
			}
			for name, sink := range map[string][]byte{"log": stderr.Bytes(), "audit": audit, "metrics": metrics.Bytes(), "store": store} {
				if bytes.Contains(sink, []byte(line)) {
					t.Errorf("secret %d found in the %s", i, name)
				}
			}
		}
	}
	if n := bytes.Count(audit, []byte(`"type":"request"`)); n != 2 {
		t.Errorf("got %d request records, want 2", n)
	}
	// Each restore into the two responses is a decision on record.
	if n := bytes.Count(audit, []byte(`"type":"decision","time"`)); n == 0 {
		t.Error("no decision records")
	}
}

// echoText pulls the assistant text out of an Anthropic response or stream.
func echoText(t *testing.T, body []byte, stream bool) string {
	t.Helper()
	if !stream {
		var m struct{ Content []struct{ Type, Text string } }
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("response: %v: %s", err, body)
		}
		for _, c := range m.Content {
			if c.Type == "text" {
				return c.Text
			}
		}
		return ""
	}
	var text strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var ev struct {
			Delta struct{ Type, Text string }
		}
		if json.Unmarshal([]byte(data), &ev) == nil && ev.Delta.Type == "text_delta" {
			text.WriteString(ev.Delta.Text)
		}
	}
	return text.String()
}

// TestServeRestartKeepsState: the CA and tokens survive a restart; the CA is not
// regenerated and the environment lines are not printed again.
func TestServeRestartKeepsState(t *testing.T) {
	bin := buildBinary(t)
	data := filepath.Join(t.TempDir(), "data")
	_, _, first, stop := startStoppable(t, bin, "--data-dir", data)
	ca1, _ := os.ReadFile(filepath.Join(data, "ca.pem"))
	if !strings.Contains(first.String(), "A new CA was created") {
		t.Fatalf("first start did not announce the new CA: %s", first)
	}
	// A second process on the same embedded store must fail fast and clearly.
	addrs := freeAddrs(t, 2)
	out, err := exec.Command(bin, "serve", "--data-dir", data, "--listen", addrs[0], "--admin", addrs[1]).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "lock") {
		t.Fatalf("second serve on one data dir: err %v, output %s; want a clear lock error", err, out)
	}
	stop()
	_, _, second, _ := startStoppable(t, bin, "--data-dir", data)
	ca2, _ := os.ReadFile(filepath.Join(data, "ca.pem"))
	if !bytes.Equal(ca1, ca2) || len(ca1) == 0 {
		t.Fatal("the CA changed across a restart")
	}
	if strings.Contains(second.String(), "A new CA was created") {
		t.Fatal("a restart announced a new CA")
	}
}

// syncBuf is a bytes.Buffer safe to read while a process writes to it.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuf) Bytes() []byte { return []byte(s.String()) }

func TestServeConfigErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	shortKey := filepath.Join(dir, "short.key")
	if err := os.WriteFile(shortKey, []byte("c2hvcnQ=\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	openKey := filepath.Join(dir, "open.key")
	if err := os.WriteFile(openKey, []byte("c2hvcnQ=\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		yaml string
		args []string
		want string
	}{
		{name: "unknown key", yaml: "listn: x\n", want: "listn"},
		{name: "bad other hosts", args: []string{"--other-hosts", "drop"}, want: "tunnel or block"},
		{name: "bad redis url", args: []string{"--redis", "http://x"}, want: "redis://"},
		{name: "bad body limit", yaml: "max_body_bytes: -1\n", want: "max_body_bytes"},
		{name: "same addresses", args: []string{"--listen", "127.0.0.1:1", "--admin", "127.0.0.1:1"}, want: "must differ"},
		{name: "bad intercept", yaml: "hosts:\n  add: [\"https://x/\"]\n", want: "intercept host"},
		{name: "empty intercept", yaml: "hosts:\n  intercept: []\n", want: "intercept nothing"},
		{name: "auth without agents", args: []string{"--require-auth"}, want: "require_auth needs at least one configured agent"},
		{name: "ca cert without key", args: []string{"--ca-cert", "x.pem"}, want: "ca_cert and ca_key go together"},
		{name: "short master key", args: []string{"--master-key-file", shortKey}, want: "want 32 random bytes"},
		{name: "master key readable by others", args: []string{"--master-key-file", openKey}, want: openKey},
		{name: "bad agent hash", yaml: "agents:\n  - name: a\n    token_sha256: zz\n", want: "64 hex digits"},
		{name: "plain http gateway", yaml: "gateway:\n  x: http://foo\n", want: "must be an https URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"serve", "--data-dir", filepath.Join(dir, tt.name)}, tt.args...)
			if tt.yaml != "" {
				if err := os.WriteFile(cfg, []byte(tt.yaml), 0o600); err != nil {
					t.Fatal(err)
				}
				args = append(args, "--config", cfg)
			}
			var stdout, stderr bytes.Buffer
			code := run(args, &stdout, &stderr)
			if code == 0 || !strings.Contains(stderr.String(), tt.want) {
				t.Fatalf("got exit %d, stderr %q; want failure mentioning %q", code, stderr.String(), tt.want)
			}
		})
	}
}

// The shipped configs/cloakroom.yaml parses and says what the defaults are: loading
// it changes nothing.
func TestShippedConfigIsTheDefaults(t *testing.T) {
	withFile, err := parseServe([]string{"--config", filepath.Join("..", "..", "configs", "cloakroom.yaml")})
	if err != nil {
		t.Fatalf("configs/cloakroom.yaml: %v", err)
	}
	defaults, err := parseServe(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(withFile, defaults) {
		t.Errorf("the shipped config differs from the defaults:\n file     %+v\n defaults %+v", withFile, defaults)
	}
}

// Every serve flag is documented in the README's configuration table and in
// configs/cloakroom.yaml (which names each key's flag in brackets).
func TestServeFlagsDocumented(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(filepath.Join("..", "..", "configs", "cloakroom.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	help, err := exec.Command(buildBinary(t), "serve", "-h").CombinedOutput()
	if err != nil {
		t.Fatalf("serve -h: %v", err)
	}
	flags := regexp.MustCompile(`(?m)^  -([a-z-]+)`).FindAllStringSubmatch(string(help), -1)
	if len(flags) < 10 {
		t.Fatalf("found %d flags in serve -h output: %s", len(flags), help)
	}
	for _, f := range flags {
		name := "--" + f[1]
		if !bytes.Contains(readme, []byte("`"+name)) {
			t.Errorf("README does not document %s", name)
		}
		if name != "--config" && !regexp.MustCompile(regexp.QuoteMeta(name)+`[\],]`).Match(cfg) {
			t.Errorf("configs/cloakroom.yaml does not name %s", name)
		}
	}
}
