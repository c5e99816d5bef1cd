package main

import (
	"bytes"
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

	"github.com/cloakroom/cloakroom/internal/fakeapi"
	"github.com/cloakroom/cloakroom/internal/testutil"
	"github.com/cloakroom/cloakroom/tokenize"
)

// vault export from the embedded store, import into Redis, and a replica on Redis
// restores a token minted before the move; the export holds no value in the clear;
// an import under another master key is refused.
func TestVaultExportImport(t *testing.T) {
	bin := buildBinary(t)
	up := fakeapi.Start(t, fakeapi.Options{})
	dir := t.TempDir()
	upCA := writeUpstreamCA(t, up, dir)
	a := filepath.Join(dir, "a")
	upURL := "https://localhost:" + strings.Split(up.Addr, ":")[1] + "/v1/messages"
	secret := "ghp_" + "R8cJ2mWq7Lx9TzK4vNp3Ys6Hd1Fb0Ge5Ua2S"
	post := func(addr, caFile, text string) string {
		t.Helper()
		pool := x509.NewCertPool()
		ca, _ := os.ReadFile(caFile)
		pool.AppendCertsFromPEM(ca)
		tr := &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: addr, User: url.UserPassword("alice", "x")}), TLSClientConfig: &tls.Config{RootCAs: pool}}
		defer tr.CloseIdleConnections()
		q, _ := json.Marshal(text)
		resp, err := (&http.Client{Transport: tr}).Post(upURL, "application/json", strings.NewReader(`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":`+string(q)+`}]}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return echoText(t, b, false)
	}

	addrA, _, _, stopA := startStoppable(t, bin, "--data-dir", a, "--intercept", "localhost", "--upstream-ca", upCA)
	post(addrA, filepath.Join(a, "ca.pem"), "GITHUB_TOKEN="+secret)
	tok := regexp.MustCompile(tokenize.Pattern).Find(up.Last().Body)
	if tok == nil {
		t.Fatal("no token upstream")
	}
	stopA() // the embedded store is one process's at a time

	vault := func(stdin []byte, env []string, args ...string) (string, string, error) {
		cmd := exec.Command(bin, append([]string{"vault"}, args...)...)
		cmd.Env = append(append(os.Environ(), masterKeyEnv+"="), env...)
		cmd.Stdin = bytes.NewReader(stdin)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		return out.String(), errOut.String(), err
	}
	export, msg, err := vault(nil, nil, "export", "--data-dir", a)
	if err != nil || !strings.Contains(msg, "exported 1 tokens") {
		t.Fatalf("export: %v %s", err, msg)
	}
	if strings.Contains(export, secret) || !strings.Contains(export, `"cloakroom_vault_export":"1"`) || !strings.Contains(export, string(tok[len(tok)-20:])) {
		t.Fatalf("export holds the value in the clear, or lacks the header or the token: %s", export)
	}

	rs, _, prefix := testutil.RedisServer(t)
	redisURL := "redis://" + rs.Addr() + "/0"
	b := filepath.Join(dir, "b")
	other, _ := tokenize.GenerateMasterKey()
	if _, msg, err := vault([]byte(export), []string{masterKeyEnv + "=" + base64.StdEncoding.EncodeToString(other)},
		"import", "--data-dir", b, "--redis", redisURL, "--redis-prefix", prefix); err == nil || !strings.Contains(msg, "master key differs") {
		t.Fatalf("import under another key: %v %s", err, msg)
	}
	if n, _ := rs.Client(t).DBSize(t.Context()).Result(); n != 0 {
		t.Fatalf("the refused import left %d keys in Redis (a wrong key fingerprint?)", n)
	}
	keyFile := filepath.Join(a, "master.key")
	if _, msg, err := vault([]byte(export), nil, "import", "--data-dir", b, "--redis", redisURL, "--redis-prefix", prefix, "--master-key-file", keyFile); err != nil || !strings.Contains(msg, "imported 1 tokens") {
		t.Fatalf("import: %v %s", err, msg)
	}

	addrB, _, _ := startServe(t, bin, "--data-dir", b, "--redis", redisURL, "--redis-prefix", prefix, "--master-key-file", keyFile,
		"--ca-cert", filepath.Join(a, "ca.pem"), "--ca-key", filepath.Join(a, "ca-key.pem"), "--intercept", "localhost", "--upstream-ca", upCA)
	if got := post(addrB, filepath.Join(a, "ca.pem"), "echo "+string(tok)); got != "echo "+secret {
		t.Errorf("after the move: got %q, want the token restored", got)
	}
}
