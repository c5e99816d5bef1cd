package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/cloakroom/cloakroom/internal/fakeapi"
)

// TestAgentsWithCurl: credentials made by `cloakroom agent add`, configured in a
// file with require_auth; curl without them gets 407, with them gets through over
// HTTP/2 inside the tunnel with gzip and zstd request bodies redacted; the gateway
// route takes the agent header.
func TestAgentsWithCurl(t *testing.T) {
	curl := needCurl(t)
	bin := buildBinary(t)
	up := fakeapi.Start(t, fakeapi.Options{})
	dir := t.TempDir()
	upCA := writeUpstreamCA(t, up, dir)
	out, err := exec.Command(bin, "agent", "add", "ci-bot").CombinedOutput()
	if err != nil {
		t.Fatalf("agent add: %v: %s", err, out)
	}
	token := regexp.MustCompile(`ci-bot:(cra_[A-Za-z0-9_-]+)@`).FindSubmatch(out)
	sum := regexp.MustCompile(`token_sha256: ([0-9a-f]{64})`).FindSubmatch(out)
	if token == nil || sum == nil {
		t.Fatalf("agent add printed no token or hash: %s", out)
	}
	upPort := strings.Split(up.Addr, ":")[1]
	cfgPath := filepath.Join(dir, "cloakroom.yaml")
	cfg := "require_auth: true\nagents:\n  - name: ci-bot\n    token_sha256: " + string(sum[1]) +
		"\ngateway:\n  local: https://localhost:" + upPort + "\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	proxyAddr, _, stderr := startServe(t, bin, "--config", cfgPath, "--data-dir", data, "--intercept", "localhost", "--upstream-ca", upCA)
	upURL := "https://localhost:" + upPort + "/v1/messages"
	secret := "ghp_" + "R8cJ2mWq7Lx9TzK4vNp3Ys6Hd1Fb0Ge5Ua2S"
	body := `{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"export GITHUB_TOKEN=` + secret + `"}]}`

	curlDo := func(args ...string) (string, error) {
		cmd := exec.Command(curl, append([]string{"-sS", "--cacert", filepath.Join(data, "ca.pem")}, args...)...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// No credentials: the CONNECT is refused with 407.
	got, err := curlDo("--proxy", "http://"+proxyAddr, "-w", "connect=%{http_connect}", "-o", "/dev/null", upURL)
	if err == nil || !strings.Contains(got, "connect=407") {
		t.Errorf("without credentials: got %v %q, want a 407 CONNECT", err, got)
	}

	gz := func(b string) []byte {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		_, _ = w.Write([]byte(b))
		_ = w.Close()
		return buf.Bytes()
	}
	zs := func(b string) []byte {
		enc, _ := zstd.NewWriter(nil)
		return enc.EncodeAll([]byte(b), nil)
	}
	for name, enc := range map[string]struct {
		coding string
		data   []byte
	}{"identity": {"", []byte(body)}, "gzip": {"gzip", gz(body)}, "zstd": {"zstd", zs(body)}} {
		file := filepath.Join(dir, name+".body")
		if err := os.WriteFile(file, enc.data, 0o600); err != nil {
			t.Fatal(err)
		}
		args := []string{"--fail-with-body", "--http2", "--proxy", "http://ci-bot:" + string(token[1]) + "@" + proxyAddr,
			"-H", "content-type: application/json", "--data-binary", "@" + file, "-w", "\nproto=%{http_version}", upURL}
		if enc.coding != "" {
			args = append(args, "-H", "content-encoding: "+enc.coding)
		}
		got, err := curlDo(args...)
		if err != nil {
			t.Fatalf("%s: curl: %v: %s\n%s", name, err, got, stderr)
		}
		if !strings.Contains(got, "proto=2") || !strings.Contains(got, secret) {
			t.Errorf("%s: got %q, want HTTP/2 and the secret restored", name, got)
		}
		if bytes.Contains(up.Last().Body, []byte(secret)) {
			t.Errorf("%s: the secret reached the upstream", name)
		}
	}

	// Gateway route with the agent header.
	got, err = curlDo("--fail-with-body", "-H", "X-Cloakroom-Agent: ci-bot:"+string(token[1]), "-H", "content-type: application/json",
		"--data-binary", body, "http://"+proxyAddr+"/local/v1/messages")
	if err != nil || !strings.Contains(got, secret) {
		t.Errorf("gateway: %v %q", err, got)
	}
	if last := up.Last(); bytes.Contains(last.Body, []byte(secret)) || last.Header.Get("X-Cloakroom-Agent") != "" {
		t.Error("gateway forwarded the secret or the agent header")
	}
	audit, _ := os.ReadFile(filepath.Join(data, "audit.jsonl"))
	for _, line := range bytes.Split(bytes.TrimSpace(audit), []byte("\n")) {
		var rec struct{ Principal string }
		if err := json.Unmarshal(line, &rec); err != nil || rec.Principal != "ci-bot" {
			t.Errorf("audit record %s: want principal ci-bot", line)
		}
	}
	if strings.Contains(stderr.String(), string(token[1])) || bytes.Contains(audit, token[1]) {
		t.Error("the agent token reached the log or audit")
	}
}

func needCurl(t *testing.T) string {
	t.Helper()
	curl, err := exec.LookPath("curl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("curl is required in CI")
		}
		t.Skip("curl not installed")
	}
	return curl
}
