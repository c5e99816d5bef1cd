package main

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// parseEnvFlags parses args as env does and resolves them with the environment env.
func parseEnvFlags(t *testing.T, args []string, env map[string]string) (agentEnv, error) {
	t.Helper()
	fs := flag.NewFlagSet("env", flag.ContinueOnError)
	o := addEnvFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return o.resolve(fs, func(k string) string { return env[k] })
}

func TestEnvFlags(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("cra_fromFile\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	openFile := filepath.Join(dir, "open-token")
	if err := os.WriteFile(openFile, []byte("cra_x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfg, []byte("listen: 0.0.0.0:9999\ndata_dir: "+filepath.Join(dir, "cfgdata")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		wantProxy string
		wantDir   string
		wantErr   string
	}{
		{name: "defaults", args: []string{"--data-dir", dir}, wantProxy: "http://127.0.0.1:8080", wantDir: dir},
		{name: "any address is reached on the loopback", args: []string{"--listen", ":7070", "--data-dir", dir}, wantProxy: "http://127.0.0.1:7070"},
		{name: "ipv6 any", args: []string{"--listen", "[::]:7070", "--data-dir", dir}, wantProxy: "http://[::1]:7070"},
		{name: "relative dir made absolute", args: []string{"--data-dir", "rel"}, wantDir: mustAbs(t, "rel")},
		{name: "token file", args: []string{"--agent", "ci-bot", "--token-file", tokenFile, "--data-dir", dir}, wantProxy: "http://ci-bot:cra_fromFile@127.0.0.1:8080"},
		{name: "credentials from the environment", args: []string{"--data-dir", dir}, env: map[string]string{agentNameEnv: "dev", agentTokenEnv: "cra_env"}, wantProxy: "http://dev:cra_env@127.0.0.1:8080"},
		{name: "flag name wins", args: []string{"--agent", "other", "--data-dir", dir}, env: map[string]string{agentNameEnv: "dev", agentTokenEnv: "cra_env"}, wantProxy: "http://other:cra_env@127.0.0.1:8080"},
		{name: "name without token", args: []string{"--agent", "dev", "--data-dir", dir}, wantProxy: "http://dev@127.0.0.1:8080"},
		{name: "config file", args: []string{"--config", cfg}, wantProxy: "http://127.0.0.1:9999", wantDir: filepath.Join(dir, "cfgdata")},
		{name: "flags win over the config", args: []string{"--config", cfg, "--listen", "127.0.0.2:1"}, wantProxy: "http://127.0.0.2:1"},
		{name: "token without name", args: []string{"--data-dir", dir}, env: map[string]string{agentTokenEnv: "cra_env"}, wantErr: "needs the agent's name"},
		{name: "bad name", args: []string{"--agent", "a b", "--data-dir", dir}, wantErr: "agent \"a b\""},
		{name: "reserved name", args: []string{"--agent", "default", "--data-dir", dir}, wantErr: "reserved"},
		{name: "token file others can read", args: []string{"--agent", "a", "--token-file", openFile, "--data-dir", dir}, wantErr: "chmod 600"},
		{name: "missing token file", args: []string{"--agent", "a", "--token-file", filepath.Join(dir, "nope"), "--data-dir", dir}, wantErr: "agent token"},
		{name: "token with a space", args: []string{"--agent", "a", "--data-dir", dir}, env: map[string]string{agentTokenEnv: "cra_a b"}, wantErr: "printable ASCII"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := parseEnvFlags(t, tt.args, tt.env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantProxy != "" && e.proxyURL() != tt.wantProxy {
				t.Errorf("proxy URL: got %s, want %s", e.proxyURL(), tt.wantProxy)
			}
			if tt.wantDir != "" && e.dir != tt.wantDir {
				t.Errorf("data dir: got %s, want %s", e.dir, tt.wantDir)
			}
		})
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestEnvCommandErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "bad shell", args: []string{"env", "--shell", "tcsh"}, want: "bash, zsh or fish"},
		{name: "stray argument", args: []string{"env", "x"}, want: "no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tt.args, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), tt.want) {
				t.Fatalf("got exit %d, stderr %q; want failure mentioning %q", code, stderr.String(), tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout: got %q, want nothing (it is eval'd)", stdout.String())
			}
		})
	}
}

// TestEnvEvalInShells runs the real binary the way the README says, in every shell
// installed (bash always), with a data directory and a token that need quoting,
// and reads each variable back from the shell.
func TestEnvEvalInShells(t *testing.T) {
	bin := buildBinary(t)
	root := t.TempDir()
	dir := filepath.Join(root, `data dir 'single' "double" $HOME `+"`tick`"+` back\slash two\\ end\`)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(root, "agent token")
	token := "cra_Zx-9_q" // the alphabet of GenerateAgentToken
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	want := agentEnv{listen: "127.0.0.1:18080", dir: dir, agent: "ci-bot", token: token}.vars()
	if want[0].Value != "http://ci-bot:"+token+"@127.0.0.1:18080" {
		t.Fatalf("HTTPS_PROXY: got %s", want[0].Value)
	}
	flags := `--listen 127.0.0.1:18080 --data-dir "$DATA" --agent ci-bot --token-file "$TOKEN_FILE"`
	shells := []struct {
		shell, script string
	}{
		{"bash", `eval "$("$BIN" env ` + flags + `)" && env -0`},
		{"zsh", `eval "$("$BIN" env --shell zsh ` + flags + `)" && env -0`},
		{"fish", `"$BIN" env --shell fish ` + flags + ` | source; and env -0`},
	}
	for _, sh := range shells {
		t.Run(sh.shell, func(t *testing.T) {
			path, err := exec.LookPath(sh.shell)
			if err != nil {
				if sh.shell == "bash" || os.Getenv("CI") == "true" {
					t.Fatalf("%s is required (scripts/test installs it in CI)", sh.shell)
				}
				t.Skipf("%s not installed", sh.shell)
			}
			cmd := exec.Command(path, "-c", sh.script)
			cmd.Env = append(cleanEnv(), "BIN="+bin, "DATA="+dir, "TOKEN_FILE="+tokenFile)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s: %v\n%s", sh.shell, err, stderr.String())
			}
			got := map[string]string{}
			for _, kv := range strings.Split(string(out), "\x00") {
				if k, v, ok := strings.Cut(kv, "="); ok {
					got[k] = v
				}
			}
			for _, v := range want {
				if got[v.Name] != v.Value {
					t.Errorf("%s: got %q, want %q", v.Name, got[v.Name], v.Value)
				}
			}
			// The data dir holds no CA: env says so on stderr, which eval never sees.
			if !strings.Contains(stderr.String(), "holds no CA yet") {
				t.Errorf("stderr lacks the missing-CA warning: %q", stderr.String())
			}
		})
	}
}

// cleanEnv is the test's environment without the variables env sets or reads.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(name) {
		case "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE",
			"REQUESTS_CA_BUNDLE", "CODEX_CA_CERTIFICATE", agentNameEnv, agentTokenEnv:
			continue
		}
		out = append(out, kv)
	}
	return out
}

// The gateway hint names the header and the credentials; serve's first-start
// lines carry none.
func TestEnvLines(t *testing.T) {
	e := agentEnv{listen: "127.0.0.1:8080", dir: "/d", agent: "ci-bot", token: "cra_t"}
	lines := e.lines("bash")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "# ") || !strings.Contains(last, "X-Cloakroom-Agent: ci-bot:cra_t") {
		t.Errorf("gateway hint: got %q", last)
	}
	for _, l := range e.lines("fish")[:len(e.vars())] {
		if !strings.HasPrefix(l, "set -gx ") {
			t.Errorf("fish line %q does not use set -gx", l)
		}
	}
	for _, l := range envLines("0.0.0.0:8080", "/d") {
		if strings.HasPrefix(l, "#") || strings.Contains(l, "@") {
			t.Errorf("serve's lines carry credentials or a hint: %q", l)
		}
		if strings.Contains(l, "0.0.0.0") {
			t.Errorf("line %q points at the unspecified address", l)
		}
	}
}
