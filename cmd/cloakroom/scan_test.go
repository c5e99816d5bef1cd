package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloakroom/cloakroom/detect"
)

// catalogSample returns the first true-positive sample of a catalog rule: its text
// and the secret in it. Secrets in tests come from the catalog, never from literals.
func catalogSample(t *testing.T, id string) (text, secret string) {
	t.Helper()
	for _, r := range detect.DefaultRules() {
		if r.ID == id && len(r.TruePositives) > 0 {
			s := r.TruePositives[0]
			return s.Text, s.Secret
		}
	}
	t.Fatalf("no rule %q with a true positive in the catalog", id)
	return "", ""
}

// TestScanBinary builds the real binary once and runs cloakroom scan on files,
// directories and stdin.
func TestScanBinary(t *testing.T) {
	bin := buildBinary(t)
	for _, tc := range []struct {
		name string
		run  func(*testing.T, string)
	}{
		{"text file", testScanTextFile},
		{"errors", testScanErrors},
		{"JSON on stdin", testScanJSONStdin},
		{"JSON member names", testScanJSONMemberNames},
		{"not JSON", testScanNotJSON},
		{"directory", testScanDirectory},
		{"SARIF", testScanSARIF},
		{"config", testScanConfig},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, bin) })
	}
}

type scanRun struct {
	stdout, stderr string
	code           int
}

// runScan runs "bin scan args..." in dir with stdin (nil: /dev/null, a
// terminal-like character device).
func runScan(t *testing.T, bin, dir string, stdin []byte, args ...string) scanRun {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"scan"}, args...)...)
	cmd.Dir = dir
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run scan: %v", err)
	}
	return scanRun{out.String(), errb.String(), code}
}

// jsonFindings parses JSON lines output.
func jsonFindings(t *testing.T, out string) []map[string]any {
	t.Helper()
	var fs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("output line %q is not a JSON object: %v", sc.Text(), err)
		}
		fs = append(fs, m)
	}
	return fs
}

func num(m map[string]any, k string) int {
	f, _ := m[k].(float64)
	return int(f)
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// noSecrets fails if any of the secrets shows in the run's output.
func noSecrets(t *testing.T, r scanRun, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(r.stdout, s) || strings.Contains(r.stderr, s) {
			t.Errorf("the output holds a secret in full (rule sample of %d bytes)", len(s))
		}
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func testScanTextFile(t *testing.T, bin string) {
	awsText, aws := catalogSample(t, "aws-access-key-id")
	ghText, gh := catalogSample(t, "github-pat")
	dir := t.TempDir()
	input := "# config\n\n" + awsText + "\nname = \"héllo\"; " + ghText + "\n"
	writeFile(t, filepath.Join(dir, "app.env"), []byte(input))
	writeFile(t, filepath.Join(dir, "clean.txt"), []byte("nothing to see here\n"))

	r := runScan(t, bin, dir, nil, "--format", "json", "app.env")
	if r.code != 1 {
		t.Fatalf("exit code: got %d, want 1 (findings); stderr %s", r.code, r.stderr)
	}
	noSecrets(t, r, aws, gh)
	fs := jsonFindings(t, r.stdout)
	want := []struct {
		rule, secret string
		line         int
	}{{"aws-access-key-id", aws, 3}, {"github-pat", gh, 4}}
	if len(fs) != len(want) {
		t.Fatalf("got %d findings, want %d: %s", len(fs), len(want), r.stdout)
	}
	for i, w := range want {
		f := fs[i]
		start, end := num(f, "start"), num(f, "end")
		if start < 0 || end > len(input) || input[start:end] != w.secret {
			t.Errorf("finding %d: input[start:end] is not the planted secret (start %d, end %d)", i, start, end)
		}
		if got := str(f, "rule"); got != w.rule {
			t.Errorf("finding %d: rule: got %q, want %q", i, got, w.rule)
		}
		if got := str(f, "path"); got != "app.env" {
			t.Errorf("finding %d: path: got %q, want app.env", i, got)
		}
		if got := num(f, "line"); got != w.line {
			t.Errorf("finding %d: line: got %d, want %d", i, got, w.line)
		}
		lineStart := strings.LastIndexByte(input[:start], '\n') + 1
		if got, wantCol := num(f, "column"), start-lineStart+1; got != wantCol {
			t.Errorf("finding %d: column: got %d, want %d", i, got, wantCol)
		}
		if p := str(f, "preview"); p == "" || strings.Contains(p, w.secret) {
			t.Errorf("finding %d: preview %q is empty or holds the secret", i, p)
		}
		if _, ok := f["secret"]; ok {
			t.Errorf("finding %d: has a secret field without --show-secrets", i)
		}
		if _, ok := f["json_path"]; ok {
			t.Errorf("finding %d: has a json_path for text input", i)
		}
	}

	// Text format: one line per finding, path:line:col rule class preview.
	r = runScan(t, bin, dir, nil, "app.env")
	if r.code != 1 {
		t.Fatalf("text: exit code: got %d, want 1", r.code)
	}
	noSecrets(t, r, aws, gh)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "app.env:3:") || !strings.Contains(lines[0], " aws-access-key-id ") {
		t.Fatalf("text output: got %q, want 2 lines, the first app.env:3:... aws-access-key-id ...", r.stdout)
	}

	// --show-secrets, flags after the path.
	r = runScan(t, bin, dir, nil, "app.env", "--format", "json", "--show-secrets")
	fs = jsonFindings(t, r.stdout)
	if r.code != 1 || len(fs) != 2 || str(fs[0], "secret") != aws || str(fs[1], "secret") != gh {
		t.Fatalf("--show-secrets: got exit %d and %d findings with secrets %v, want 1, 2, the planted secrets", r.code, len(fs), []string{str(fs[0], "secret")})
	}
	r = runScan(t, bin, dir, nil, "--show-secrets", "app.env")
	if !strings.Contains(r.stdout, gh) {
		t.Error("text --show-secrets: the output lacks the secret")
	}

	r = runScan(t, bin, dir, nil, "clean.txt")
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("clean file: got exit %d and output %q, want 0 and none", r.code, r.stdout)
	}
}

func testScanErrors(t *testing.T, bin string) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "ok.txt"), []byte("fine\n"))
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"missing file", []string{"nope.txt"}, "nope.txt"},
		{"missing file among good ones", []string{"ok.txt", "nope.txt"}, "nope.txt"},
		{"unknown format", []string{"--format", "xml", "ok.txt"}, "--format"},
		{"unknown flag", []string{"--bogus", "ok.txt"}, "bogus"},
		{"missing config", []string{"--config", "nope.yaml", "ok.txt"}, "read config"},
		{"no path and stdin a terminal", nil, "terminal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runScan(t, bin, dir, nil, tt.args...)
			if r.code != 2 {
				t.Fatalf("exit code: got %d, want 2; stderr %s", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.wantErr) {
				t.Fatalf("stderr: got %q, want it to mention %q", r.stderr, tt.wantErr)
			}
		})
	}
	r := runScan(t, bin, dir, nil, "-h")
	if r.code != 0 || !strings.Contains(r.stderr, "usage: cloakroom scan") {
		t.Fatalf("-h: got exit %d, stderr %q; want 0 and the usage", r.code, r.stderr)
	}
}

// jsonString returns s as the content of a JSON string literal, as encoding/json
// writes it (without HTML escaping).
func jsonString(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	out := strings.TrimSpace(b.String())
	return out[1 : len(out)-1]
}

func testScanJSONStdin(t *testing.T, bin string) {
	_, gh := catalogSample(t, "github-pat")
	_, pem := catalogSample(t, "private-key")
	pwKey, pw := "password", ""
	for _, r := range detect.DefaultRules() {
		if r.ID == "generic-json-password" && len(r.TruePositives) > 0 {
			pwKey, pw = r.TruePositives[0].Key, r.TruePositives[0].Secret
		}
	}
	if pw == "" {
		t.Fatal("no generic-json-password sample in the catalog")
	}
	// The token with one character written as a \u escape, as some encoders do.
	ghEscaped := gh[:6] + fmt.Sprintf(`\u%04x`, gh[6]) + gh[7:]
	args := `{"cmd":"export GITHUB_TOKEN=` + gh + `\nls"}`
	b64Text := "deploy notes\nGITHUB_TOKEN=" + gh + "\nthanks!\n"
	body := `{"model":"m","messages":[` +
		`{"role":"user","content":"key:\n` + jsonString(t, pem) + `\nend"},` +
		`{"role":"user","content":"tok \ud83d\ude00 ` + ghEscaped + ` é"},` +
		`{"role":"assistant","tool_calls":[{"function":{"name":"bash","arguments":` + `"` + jsonString(t, args) + `"` + `}}]},` +
		`{"role":"user","content":[{"type":"text","text":"x"}],"config":{"` + pwKey + `":"` + jsonString(t, pw) + `"}},` +
		`{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:text/plain;base64,` + base64.StdEncoding.EncodeToString([]byte(b64Text)) + `"}}]}` +
		`]}`
	if !json.Valid([]byte(body)) {
		t.Fatalf("test body is not JSON: %s", body)
	}
	want := []struct {
		rule, path string
		raw        string // body[start:end]
	}{
		{"private-key", "messages[0].content", jsonString(t, pem)},
		{"github-pat", "messages[1].content", ghEscaped},
		{"github-pat", "messages[2].tool_calls[0].function.arguments#.cmd", gh},
		{"generic-json-password", "messages[3].config." + pwKey, jsonString(t, pw)},
		{"github-pat", "messages[4].content[0].image_url.url(base64)", ""}, // checked below
	}
	for _, args := range [][]string{{"--format", "json", "-"}, {"--format=json"}} {
		r := runScan(t, bin, t.TempDir(), []byte(body), args...)
		if r.code != 1 {
			t.Fatalf("%v: exit code: got %d, want 1; stderr %s", args, r.code, r.stderr)
		}
		noSecrets(t, r, gh, pem, pw)
		fs := jsonFindings(t, r.stdout)
		if len(fs) != len(want) {
			t.Fatalf("%v: got %d findings, want %d: %s", args, len(fs), len(want), r.stdout)
		}
		for i, w := range want {
			f := fs[i]
			start, end := num(f, "start"), num(f, "end")
			if str(f, "rule") != w.rule || str(f, "json_path") != w.path || str(f, "path") != "<stdin>" {
				t.Errorf("finding %d: got rule %q, json_path %q, path %q; want %q, %q, <stdin>", i, str(f, "rule"), str(f, "json_path"), str(f, "path"), w.rule, w.path)
			}
			if start < 0 || end > len(body) || start > end {
				t.Fatalf("finding %d: span [%d,%d) out of range", i, start, end)
			}
			raw := body[start:end]
			if w.raw != "" && raw != w.raw {
				t.Errorf("finding %d: raw span: got %d bytes, want the secret as written in the body (%d bytes)", i, len(raw), len(w.raw))
			}
			if w.raw == "" {
				dec, err := base64.StdEncoding.DecodeString(raw)
				if err != nil || !strings.Contains(string(dec), gh) {
					t.Errorf("finding %d: the raw span does not decode (base64) to text holding the secret: %v", i, err)
				}
			}
			if got, wantLine := num(f, "line"), 1; got != wantLine {
				t.Errorf("finding %d: line: got %d, want %d", i, got, wantLine)
			}
			if got, wantCol := num(f, "column"), start+1; got != wantCol {
				t.Errorf("finding %d: column: got %d, want %d", i, got, wantCol)
			}
		}
	}
}

func testScanJSONMemberNames(t *testing.T, bin string) {
	_, gh := catalogSample(t, "github-pat")
	_, aws := catalogSample(t, "aws-access-key-id")
	body := `{"env":{"` + gh + `":{"note":"key ` + aws + `"}}}`
	r := runScan(t, bin, t.TempDir(), []byte(body), "--format", "json")
	noSecrets(t, r, gh, aws)
	fs := jsonFindings(t, r.stdout)
	if r.code != 1 || len(fs) != 2 {
		t.Fatalf("got exit %d and %d findings, want 1 and 2: %s", r.code, len(fs), r.stdout)
	}
	if fs[0]["member_name"] != true || str(fs[0], "json_path") != "env" || body[num(fs[0], "start"):num(fs[0], "end")] != gh {
		t.Errorf("member name finding: got %v, want member_name, json_path env, the token's span", fs[0])
	}
	if got, want := str(fs[1], "json_path"), "env.<redacted>.note"; got != want {
		t.Errorf("value under a secret name: json_path got %q, want %q", got, want)
	}
	r = runScan(t, bin, t.TempDir(), []byte(body), "--format", "json", "--show-secrets")
	if fs = jsonFindings(t, r.stdout); len(fs) != 2 || str(fs[1], "json_path") != "env."+gh+".note" {
		t.Errorf("--show-secrets: got %d findings, want the value's path with the name as written", len(fs))
	}
}

func testScanNotJSON(t *testing.T, bin string) {
	_, aws := catalogSample(t, "aws-access-key-id")
	tests := []struct {
		name  string
		input string
	}{
		{"brace but not JSON", "{ this is not json: aws_access_key_id = " + aws + "\n"},
		{"plain text", "text\n  aws_access_key_id = " + aws + " more\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runScan(t, bin, t.TempDir(), []byte(tt.input), "--format", "json", "-")
			fs := jsonFindings(t, r.stdout)
			if r.code != 1 || len(fs) != 1 {
				t.Fatalf("got exit %d and %d findings, want 1 and 1", r.code, len(fs))
			}
			if s, e := num(fs[0], "start"), num(fs[0], "end"); tt.input[s:e] != aws || fs[0]["json_path"] != nil {
				t.Fatalf("got span [%d,%d) and json_path %v, want the secret's span and no json_path", s, e, fs[0]["json_path"])
			}
		})
	}
}

func testScanDirectory(t *testing.T, bin string) {
	awsText, aws := catalogSample(t, "aws-access-key-id")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "tree", "a.txt"), []byte(awsText+"\n"))
	writeFile(t, filepath.Join(dir, "tree", "sub", "deep", "b.yaml"), []byte("x: 1\n"+awsText+"\n"))
	writeFile(t, filepath.Join(dir, "tree", "clean.md"), []byte("# nothing\n"))
	writeFile(t, filepath.Join(dir, "tree", ".git", "config"), []byte(awsText+"\n"))
	writeFile(t, filepath.Join(dir, "tree", "blob.bin"), []byte("\x00\x01"+awsText+"\n"))
	writeFile(t, filepath.Join(dir, "tree", "big.log"), []byte(strings.Repeat("x", 300)+awsText+"\n"))

	r := runScan(t, bin, dir, nil, "--format", "json", "--max-bytes", "200", "tree")
	if r.code != 1 {
		t.Fatalf("exit code: got %d, want 1; stderr %s", r.code, r.stderr)
	}
	noSecrets(t, r, aws)
	var paths []string
	for _, f := range jsonFindings(t, r.stdout) {
		paths = append(paths, str(f, "path"))
	}
	want := []string{filepath.Join("tree", "a.txt"), filepath.Join("tree", "sub", "deep", "b.yaml")}
	if strings.Join(paths, ",") != strings.Join(want, ",") {
		t.Fatalf("paths with findings: got %v, want %v", paths, want)
	}
	for _, note := range []string{"skipped " + filepath.Join("tree", "blob.bin") + ": binary", "skipped " + filepath.Join("tree", "big.log") + ": larger than 200 bytes"} {
		if !strings.Contains(r.stderr, note) {
			t.Errorf("stderr lacks %q: %s", note, r.stderr)
		}
	}
	if strings.Contains(r.stderr, ".git") {
		t.Errorf("stderr mentions .git, which must be skipped silently: %s", r.stderr)
	}

	// Stdin given as a file (not a terminal) with no PATH is scanned.
	r = runScan(t, bin, dir, []byte("nothing secret\n"))
	if r.code != 0 {
		t.Fatalf("clean stdin: exit code got %d, want 0; stderr %s", r.code, r.stderr)
	}
}

func testScanSARIF(t *testing.T, bin string) {
	awsText, aws := catalogSample(t, "aws-access-key-id")
	dir := t.TempDir()
	input := "line one\n  " + awsText + "\n"
	writeFile(t, filepath.Join(dir, "sub dir", "x.env"), []byte(input))
	r := runScan(t, bin, dir, nil, "--format", "sarif", ".")
	if r.code != 1 {
		t.Fatalf("exit code: got %d, want 1; stderr %s", r.code, r.stderr)
	}
	noSecrets(t, r, aws)
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string `json:"name"`
					Rules []struct {
						ID string `json:"id"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Message   struct {
					Text string `json:"text"`
				} `json:"message"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
						Region struct {
							StartLine  int `json:"startLine"`
							ByteOffset int `json:"byteOffset"`
							ByteLength int `json:"byteLength"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &log); err != nil {
		t.Fatalf("SARIF output does not parse: %v", err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 || log.Runs[0].Tool.Driver.Name != "cloakroom" {
		t.Fatalf("got version %q, %d runs; want 2.1.0 and 1 run by cloakroom", log.Version, len(log.Runs))
	}
	run := log.Runs[0]
	if got, want := len(run.Tool.Driver.Rules), len(detect.DefaultRules()); got != want {
		t.Errorf("driver rules: got %d, want the catalog's %d", got, want)
	}
	if len(run.Results) != 1 {
		t.Fatalf("got %d results, want 1", len(run.Results))
	}
	res := run.Results[0]
	if res.RuleIndex < 0 || res.RuleIndex >= len(run.Tool.Driver.Rules) || run.Tool.Driver.Rules[res.RuleIndex].ID != res.RuleID || res.RuleID != "aws-access-key-id" {
		t.Errorf("result rule: got %q at index %d, want aws-access-key-id, indexed", res.RuleID, res.RuleIndex)
	}
	loc := res.Locations[0].PhysicalLocation
	if loc.ArtifactLocation.URI != "sub%20dir/x.env" {
		t.Errorf("uri: got %q, want sub%%20dir/x.env", loc.ArtifactLocation.URI)
	}
	if reg := loc.Region; reg.StartLine != 2 || input[reg.ByteOffset:reg.ByteOffset+reg.ByteLength] != aws {
		t.Errorf("region: got line %d, bytes [%d,+%d), want line 2 and the secret's bytes", reg.StartLine, reg.ByteOffset, reg.ByteLength)
	}

	// No findings: still a valid log, with an empty results array.
	writeFile(t, filepath.Join(dir, "clean", "c.txt"), []byte("clean\n"))
	r = runScan(t, bin, dir, nil, "--format", "sarif", "clean")
	if r.code != 0 || !strings.Contains(r.stdout, `"results": []`) {
		t.Fatalf("clean: got exit %d and %s, want 0 and an empty results array", r.code, r.stdout)
	}
}

func TestPreview(t *testing.T) {
	tests := []struct {
		name, secret, want string
	}{
		{"token", "AKIA" + strings.Repeat("Q", 16), "AKIA…(20)"},
		{"short", "abcdefgh", "ab…(8)"},
		{"tiny", "abc", "…(3)"},
		{"stops at a newline", "-----BEGIN\nKEY", "---…(14)"},
		{"stops at non-ASCII", "é" + strings.Repeat("x", 20), "…(22)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := preview([]byte(tt.secret)); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseScan(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		wantPaths []string
		wantFmt   string
		wantErr   bool
	}{
		{"defaults", nil, nil, "text", false},
		{"flags first", []string{"--format", "json", "a", "b"}, []string{"a", "b"}, "json", false},
		{"flags between and after", []string{"a", "--format=sarif", "b", "--show-secrets"}, []string{"a", "b"}, "sarif", false},
		{"stdin", []string{"-", "--format", "json"}, []string{"-"}, "json", false},
		{"double dash", []string{"--", "--format", "-x"}, []string{"--format", "-x"}, "text", false},
		{"bad format", []string{"--format", "yaml"}, nil, "", true},
		{"bad max bytes", []string{"--max-bytes", "0"}, nil, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseScan(tt.args, &bytes.Buffer{})
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if strings.Join(o.paths, "|") != strings.Join(tt.wantPaths, "|") || o.format != tt.wantFmt {
				t.Fatalf("got paths %q, format %q; want %q, %q", o.paths, o.format, tt.wantPaths, tt.wantFmt)
			}
		})
	}
}

// --config: the detect: section of serve's config file adds custom rules and
// allowlists JSON paths, exactly as the proxy applies them.
func testScanConfig(t *testing.T, bin string) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "cloakroom.yaml"), []byte(`listen: 127.0.0.1:8080
detect:
  rules:
    - id: acme-token
      class: acme
      regex: 'acme_[a-z0-9]{32}'
  allowlist:
    paths: ['metadata.*']
`))
	tok := "acme_" + strings.Repeat("k3", 16)
	body := `{"messages":[{"role":"user","content":"deploy with ` + tok + `"}],"metadata":{"note":"` + tok + `"}}`
	r := runScan(t, bin, dir, []byte(body), "--config", "cloakroom.yaml", "--format", "json")
	if r.code != 1 {
		t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], `"rule":"acme-token"`) || !strings.Contains(lines[0], `"json_path":"messages[0].content"`) {
		t.Errorf("got %q, want one acme-token finding outside the allowlisted path", r.stdout)
	}
	// Without the config the custom token is not a finding at all.
	if r := runScan(t, bin, dir, []byte(body), "--format", "json"); r.code != 0 {
		t.Errorf("without --config: exit %d: %s", r.code, r.stdout)
	}
}
