package main

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloakroom/cloakroom/configs"
	"github.com/cloakroom/cloakroom/detect"
	"github.com/cloakroom/cloakroom/internal/fakeapi"
	"github.com/cloakroom/cloakroom/tokenize"
)

// The whole approval loop with the real binary: a token sent to an egress host is
// refused with an approval id; `cloakroom approvals approve` grants it; the retried
// request reaches the upstream with the real value; the one-shot grant is then
// spent; an agent's credentials cannot approve; the admin API cannot be reached
// through the proxy; editing the policy file changes the outcome.
func TestApprovalThroughCLI(t *testing.T) {
	bin := buildBinary(t)
	up := fakeapi.Start(t, fakeapi.Options{})
	dir := t.TempDir()
	upCA := writeUpstreamCA(t, up, dir)
	// The fake plays the egress host at 127.0.0.1 (model traffic goes to localhost).
	policyPath := filepath.Join(dir, "policy.rego")
	writePolicy := func(approval bool) {
		src := bytes.Replace(configs.Policy, []byte(`"hosts": ["api.github.com"], "approval": true`),
			[]byte(`"hosts": ["127.0.0.1"], "approval": `+map[bool]string{true: "true", false: "false"}[approval]), 1)
		if bytes.Equal(src, configs.Policy) {
			t.Fatal("the default policy no longer has the rule this test edits")
		}
		tmp := policyPath + ".tmp"
		if err := os.WriteFile(tmp, src, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, policyPath); err != nil {
			t.Fatal(err)
		}
	}
	writePolicy(true)
	data := filepath.Join(dir, "data")
	proxyAddr, adminAddr, logs := startServe(t, bin, "--data-dir", data, "--intercept", "localhost",
		"--upstream-ca", upCA, "--policy", policyPath)

	caPEM, err := os.ReadFile(filepath.Join(data, caCertFile))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := func(principal string) *http.Client {
		u := &url.URL{Scheme: "http", Host: proxyAddr, User: url.UserPassword(principal, "x")}
		tr := &http.Transport{Proxy: http.ProxyURL(u), TLSClientConfig: &tls.Config{RootCAs: pool}}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr}
	}
	port := strings.Split(up.Addr, ":")[1]

	secret := "ghp_" + randomBase62(t, 30)
	secret += detect.GitHubChecksum(secret[4:])
	body := `{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"GITHUB_TOKEN=` + secret + `"}]}`
	resp, err := client("alice").Post("https://localhost:"+port+"/v1/messages", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	spans := tokenize.Find(up.Last().Body)
	if resp.StatusCode != 200 || len(spans) != 1 {
		t.Fatalf("model request: %d, %d tokens upstream", resp.StatusCode, len(spans))
	}
	tok := spans[0].Token.String()

	github := func(principal string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", "https://127.0.0.1:"+port+"/user", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := client(principal).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	sawValue := func() int {
		n := 0
		for _, r := range up.Requests() {
			if r.Path == "/user" && r.Header.Get("Authorization") == "Bearer "+secret {
				n++
			}
		}
		return n
	}
	cli := func(env []string, args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"approvals"}, args...)...)
		cmd.Env = append(append(os.Environ(), adminURLEnv+"=http://"+adminAddr, "HTTPS_PROXY=http://"+proxyAddr, "HTTP_PROXY=http://"+proxyAddr), env...)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}

	resp = github("alice")
	id := resp.Header.Get("X-Cloakroom-Approval")
	if resp.StatusCode != http.StatusForbidden || id == "" {
		t.Fatalf("egress before approval: %d, approval %q", resp.StatusCode, id)
	}
	if sawValue() != 0 {
		t.Fatal("the value left before approval")
	}
	out, code := cli(nil, "list", "--data-dir", data)
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, tok) || strings.Contains(out, secret) {
		t.Fatalf("approvals list (exit %d):\n%s", code, out)
	}
	// An agent's credentials are not the admin token.
	out, code = cli([]string{adminTokenEnv + "=x-agent-credential-000"}, "approve", id)
	if code != 1 || !strings.Contains(out, "401") {
		t.Fatalf("approve with an agent's credential: exit %d:\n%s", code, out)
	}
	out, code = cli(nil, "approve", id, "--data-dir", data, "--by", "secops")
	if code != 0 || !strings.Contains(out, "granted once") {
		t.Fatalf("approvals approve (exit %d):\n%s", code, out)
	}
	if resp := github("alice"); resp.StatusCode != 200 || sawValue() != 1 {
		t.Fatalf("after approval: %d, value seen %d times", resp.StatusCode, sawValue())
	}
	if resp := github("alice"); resp.StatusCode != http.StatusForbidden || sawValue() != 1 {
		t.Fatalf("one-shot grant reused: %d", resp.StatusCode)
	}
	if resp := github("bob"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("bob: got %d, want 403", resp.StatusCode)
	}
	out, code = cli(nil, "approve", id, "--data-dir", data)
	if code != 1 || !strings.Contains(out, "no longer pending") {
		t.Fatalf("approving twice (exit %d):\n%s", code, out)
	}

	// The admin API is out of the proxy's reach.
	req, _ := http.NewRequest("GET", "http://"+adminAddr+"/v1/approvals", nil)
	tokenBytes, _ := os.ReadFile(filepath.Join(data, adminTokenFile))
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tokenBytes)))
	if resp, err := client("alice").Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("admin API through the proxy: %v %v, want 403", err, resp)
	}

	// A policy edit without approval lets the token through once it is reloaded.
	writePolicy(false)
	deadline := time.Now().Add(15 * time.Second)
	for github("alice").StatusCode != 200 {
		if time.Now().After(deadline) {
			t.Fatalf("the edited policy was not picked up:\n%s", logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "policy loaded") {
		t.Fatalf("no log of the reload:\n%s", logs)
	}
	for _, text := range []string{logs.String(), readFile(t, filepath.Join(data, "audit.jsonl"))} {
		if strings.Contains(text, secret) {
			t.Fatal("the secret reached the logs or the audit trail")
		}
	}
	var granted, requested int
	for _, line := range strings.Split(readFile(t, filepath.Join(data, "audit.jsonl")), "\n") {
		var d struct{ Type, Event, By string }
		_ = json.Unmarshal([]byte(line), &d)
		switch {
		case d.Event == "granted" && d.By == "secops":
			granted++
		case d.Event == "approval_requested":
			requested++
		}
	}
	if granted != 1 || requested < 2 {
		t.Fatalf("audit trail: %d grants by secops, %d approval requests", granted, requested)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func randomBase62(t *testing.T, n int) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
