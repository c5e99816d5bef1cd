package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cloakroom/cloakroom/internal/fakeapi"
	"github.com/cloakroom/cloakroom/internal/testutil"
	"github.com/cloakroom/cloakroom/proxy"
	"github.com/cloakroom/cloakroom/tokenize"
)

// Two real replicas against one real redis-server, sharing the CA by files and the
// master key by file (A) and by environment (B): a secret sent through A is a token
// upstream; the token echoed back through B is restored for the principal that sent
// it and withheld from another. A third replica with another master key refuses to
// start, naming both fingerprints.
func TestReplicasShareOneVault(t *testing.T) {
	bin := buildBinary(t)
	rs, _, prefix := testutil.RedisServer(t)
	up := fakeapi.Start(t, fakeapi.Options{})
	dir := t.TempDir()
	write := func(name string, b []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	upCA := write("upstream-ca.pem", up.CAPEM, 0o600)
	certPEM, keyPEM, err := proxy.GenerateCA("shared test CA")
	if err != nil {
		t.Fatal(err)
	}
	caCert, caKey := write("ca.pem", certPEM, 0o644), write("ca-key.pem", keyPEM, 0o600)
	key, _ := tokenize.GenerateMasterKey()
	keyB64 := base64.StdEncoding.EncodeToString(key)
	keyFile := write("master.key", []byte(keyB64+"\n"), 0o600)
	redisURL := "redis://" + rs.Addr() + "/0"
	common := []string{"--redis", redisURL, "--redis-prefix", prefix, "--ca-cert", caCert, "--ca-key", caKey,
		"--intercept", "localhost", "--upstream-ca", upCA}

	addrA, _, logA, _ := startWithEnv(t, bin, nil, append(common, "--data-dir", filepath.Join(dir, "a"), "--master-key-file", keyFile)...)
	addrB, _, logB, _ := startWithEnv(t, bin, []string{masterKeyEnv + "=" + keyB64}, append(common, "--data-dir", filepath.Join(dir, "b"))...)

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	client := func(addr, principal string) *http.Client {
		u := &url.URL{Scheme: "http", Host: addr, User: url.UserPassword(principal, "x")}
		tr := &http.Transport{Proxy: http.ProxyURL(u), TLSClientConfig: &tls.Config{RootCAs: pool}}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr}
	}
	upURL := "https://localhost:" + strings.Split(up.Addr, ":")[1] + "/v1/messages"
	send := func(c *http.Client, text string) string {
		t.Helper()
		q, _ := json.Marshal(text)
		body := `{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":` + string(q) + `}]}`
		resp, err := c.Post(upURL, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
		return echoText(t, b, false)
	}

	secret := "ghp_" + "R8cJ2mWq7Lx9TzK4vNp3Ys6Hd1Fb0Ge5Ua2S"
	if got := send(client(addrA, "alice"), "export GITHUB_TOKEN="+secret); got != "export GITHUB_TOKEN="+secret {
		t.Fatalf("through A: got %q", got)
	}
	fwd := up.Last().Body
	tok := regexp.MustCompile(tokenize.Pattern).Find(fwd)
	if bytes.Contains(fwd, []byte(secret)) || tok == nil {
		t.Fatalf("A forwarded the secret or no token: %s", fwd)
	}
	if got := send(client(addrB, "alice"), "echo "+string(tok)); got != "echo "+secret {
		t.Errorf("through B for alice: got %q, want the secret restored", got)
	}
	if got := send(client(addrB, "bob"), "echo "+string(tok)); got != "echo "+string(tok) {
		t.Errorf("through B for bob: got %q, want the token withheld", got)
	}

	// Known values cross replicas: a value B never saw, tokenized through A with its
	// key name, is caught by B in prose where no rule matches. B hears of it through
	// Redis pub/sub, moments later: bounded retries.
	aws := "Zq8s3cR9vTx1/K7MDENGbPxRfiCYwJalrXUtnFEM"
	send(client(addrA, "alice"), "AWS_SECRET_ACCESS_KEY="+aws)
	caught := false
	for range 50 {
		send(client(addrB, "alice"), "did you paste "+aws+" on purpose?")
		if !bytes.Contains(up.Last().Body, []byte(aws)) {
			caught = true
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !caught {
		t.Error("replica B never treated a value tokenized through A as known")
	}

	// A replica with another master key must not join.
	other, _ := tokenize.GenerateMasterKey()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // it must exit, not serve
	defer cancel()
	addrs := freeAddrs(t, 2)
	cmd := exec.CommandContext(ctx, bin, append([]string{"serve", "--listen", addrs[0], "--admin", addrs[1], "--data-dir", filepath.Join(dir, "c")}, common...)...)
	cmd.Env = append(os.Environ(), "HTTPS_PROXY=", masterKeyEnv+"="+base64.StdEncoding.EncodeToString(other))
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "master key differs") || !strings.Contains(string(out), "refusing to start") {
		t.Errorf("a replica with another key: got %v: %s", err, out)
	}
	for name, log := range map[string]string{"A": logA.String(), "B": logB.String(), "C": string(out)} {
		if strings.Contains(log, secret) || strings.Contains(log, keyB64) {
			t.Errorf("replica %s logged the secret or the master key", name)
		}
	}
}

// The real binary on a real Redis Cluster and a real Sentinel: it starts, answers
// ready, and a secret sent through it becomes a token upstream.
func TestServeRedisModes(t *testing.T) {
	bin := buildBinary(t)
	up := fakeapi.Start(t, fakeapi.Options{})
	dir := t.TempDir()
	upCA := writeUpstreamCA(t, up, dir)
	nodes := testutil.RedisCluster(t)
	sentinel, master := testutil.RedisSentinel(t)
	for _, tc := range []struct{ mode, url string }{
		{"cluster", "redis://" + nodes[0] + "?addr=" + nodes[1] + "&addr=" + nodes[2]},
		{"sentinel", "redis://" + sentinel + "/0?master_name=" + master},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			data := filepath.Join(dir, tc.mode)
			addr, _, stderr := startServe(t, bin, "--data-dir", data, "--redis", tc.url, "--redis-mode", tc.mode, "--token-ttl", "1h",
				"--intercept", "localhost", "--upstream-ca", upCA)
			pool := x509.NewCertPool()
			ca, _ := os.ReadFile(filepath.Join(data, "ca.pem"))
			pool.AppendCertsFromPEM(ca)
			tr := &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: addr}), TLSClientConfig: &tls.Config{RootCAs: pool}}
			defer tr.CloseIdleConnections()
			secret := "ghp_" + "R8cJ2mWq7Lx9TzK4vNp3Ys6Hd1Fb0Ge5Ua2S"
			body := `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"GITHUB_TOKEN=` + secret + `"}]}`
			resp, err := (&http.Client{Transport: tr}).Post("https://localhost:"+strings.Split(up.Addr, ":")[1]+"/v1/messages", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(got), secret) || bytes.Contains(up.Last().Body, []byte(secret)) {
				t.Fatalf("status %d, restored %v, upstream saw the secret %v\n%s", resp.StatusCode, strings.Contains(string(got), secret), bytes.Contains(up.Last().Body, []byte(secret)), stderr)
			}
		})
	}
}

func TestRedisClientErrorsHideTheURL(t *testing.T) {
	for _, tc := range []struct{ mode, url, want string }{
		{"standalone", "redis://user:hunter2secret@[::1", "does not parse"},
		{"sentinel", "redis://user:hunter2secret@sentinel:26379/0", "master_name"},
		{"cluster", "redis://user:hunter2secret@node:6379?bogus=1", "seed nodes"},
	} {
		_, _, err := redisClient(tc.mode, tc.url)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "hunter2secret") {
			t.Errorf("%s: got %v, want an error mentioning %q and not the password", tc.mode, err, tc.want)
		}
	}
}
