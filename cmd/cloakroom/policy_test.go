package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloakroom/cloakroom/configs"
	"github.com/cloakroom/cloakroom/resolver"
)

// policyRun is the outcome of one cloakroom policy command.
type policyRun struct {
	code           int
	stdout, stderr string
}

func runPolicy(t *testing.T, args ...string) policyRun {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"policy"}, args...), &stdout, &stderr)
	return policyRun{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// writePolicyFiles writes files (name to content) into a new directory and returns it.
func writePolicyFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const (
	policyCmdAllowAll = "package cloakroom\n\ndecision := {\"effect\": \"allow\", \"reason\": \"allow all\"}\n"
	// policyCmdBroken has a syntax error on line 3.
	policyCmdBroken = "package cloakroom\n\ndecision := {\"effect\": }\n\nx := 1\n"
)

func TestPolicyEval(t *testing.T) {
	dir := writePolicyFiles(t, map[string]string{
		"allow.rego":     policyCmdAllowAll,
		"broken.rego":    policyCmdBroken,
		"string.rego":    "package cloakroom\n\ndecision := \"allow\"\n",
		"conflict.rego":  "package cloakroom\n\ndecision := {\"effect\": \"allow\"}\n\ndecision := {\"effect\": \"deny\"} if input.direction\n",
		"restore.json":   `{"token": {"class": "aws", "submitted_by": ["alice"]}, "requester": {"principal": "alice"}, "direction": "restore"}`,
		"other.json":     `{"token": {"class": "aws", "submitted_by": ["alice"]}, "requester": {"principal": "bob"}, "direction": "restore"}`,
		"egress.json":    `{"token": {"class": "github"}, "requester": {"principal": "alice"}, "direction": "egress", "destination": {"host": "api.github.com", "method": "GET", "path": "/user"}, "grants": []}`,
		"empty.json":     "  \n",
		"notjson.json":   "direction: restore\n",
		"array.json":     `[{"direction": "restore"}]`,
		"two.json":       `{"direction": "restore"} {}`,
		"misspelt.json":  `{"direction": "restore", "requestor": {"principal": "alice"}}`,
		"direction.json": `{"direction": "restore"}`,
	})
	p := func(name string) string { return filepath.Join(dir, name) }
	tests := []struct {
		name        string
		args        []string
		wantCode    int
		wantEffect  string
		wantReason  string // substring
		wantPolicy  string
		wantStderr  []string // substrings
		wantNoStdin bool
	}{
		{name: "default allows submitter", args: []string{"--input", p("restore.json")}, wantEffect: "allow", wantReason: "submitted", wantPolicy: resolver.PolicyVersion(configs.Policy)},
		{name: "default denies other", args: []string{"--input", p("other.json")}, wantEffect: "deny", wantPolicy: resolver.PolicyVersion(configs.Policy)},
		{name: "default asks for egress", args: []string{"--input", p("egress.json")}, wantEffect: "approve", wantReason: `"api.github.com" after approval`, wantPolicy: resolver.PolicyVersion(configs.Policy)},
		{name: "policy file", args: []string{"--policy", p("allow.rego"), "--input", p("other.json")}, wantEffect: "allow", wantReason: "allow all", wantPolicy: resolver.PolicyVersion([]byte(policyCmdAllowAll))},
		{name: "malformed decision is a deny", args: []string{"--policy", p("string.rego"), "--input", p("direction.json")}, wantEffect: "deny", wantReason: "policy decision is a string", wantPolicy: resolver.PolicyVersion([]byte("package cloakroom\n\ndecision := \"allow\"\n"))},
		{name: "syntax error names the line", args: []string{"--policy", p("broken.rego"), "--input", p("restore.json")}, wantCode: 2, wantStderr: []string{p("broken.rego") + ":3:", "rego_parse_error"}},
		{name: "missing policy", args: []string{"--policy", p("missing.rego"), "--input", p("restore.json")}, wantCode: 2, wantStderr: []string{p("missing.rego")}},
		{name: "evaluation error", args: []string{"--policy", p("conflict.rego"), "--input", p("direction.json")}, wantCode: 2, wantStderr: []string{"evaluate policy", "conflict"}},
		{name: "no input", args: []string{}, wantCode: 2, wantStderr: []string{"--input FILE|- is required"}},
		{name: "missing input", args: []string{"--input", p("missing.json")}, wantCode: 2, wantStderr: []string{p("missing.json")}},
		{name: "empty input", args: []string{"--input", p("empty.json")}, wantCode: 2, wantStderr: []string{"is empty"}},
		{name: "input not JSON", args: []string{"--input", p("notjson.json")}, wantCode: 2, wantStderr: []string{"is not JSON"}},
		{name: "input not an object", args: []string{"--input", p("array.json")}, wantCode: 2, wantStderr: []string{"is not a JSON object"}},
		{name: "two values", args: []string{"--input", p("two.json")}, wantCode: 2, wantStderr: []string{"more than one JSON value"}},
		{name: "misspelt member", args: []string{"--input", p("misspelt.json")}, wantCode: 2, wantStderr: []string{`unknown member "requestor"`, "requester"}},
		{name: "extra argument", args: []string{"--input", p("restore.json"), "extra"}, wantCode: 2, wantStderr: []string{`unexpected argument "extra"`}},
		{name: "unknown flag", args: []string{"--inptu", p("restore.json")}, wantCode: 2, wantStderr: []string{"-inptu"}},
		{name: "help", args: []string{"-h"}, wantCode: 0, wantStderr: []string{"usage: cloakroom policy eval", "-input"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runPolicy(t, append([]string{"eval"}, tt.args...)...)
			if r.code != tt.wantCode {
				t.Fatalf("got exit %d, want %d (stdout %q, stderr %q)", r.code, tt.wantCode, r.stdout, r.stderr)
			}
			for _, want := range tt.wantStderr {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("got stderr %q, want it to contain %q", r.stderr, want)
				}
			}
			if tt.wantEffect == "" {
				if r.stdout != "" {
					t.Errorf("got stdout %q, want none", r.stdout)
				}
				return
			}
			if r.stderr != "" {
				t.Errorf("got stderr %q, want none", r.stderr)
			}
			got := decodePolicyDecision(t, r.stdout)
			if got.Effect != tt.wantEffect || !strings.Contains(got.Reason, tt.wantReason) || got.Policy != tt.wantPolicy {
				t.Fatalf("got %+v, want effect %q, reason containing %q, policy %q", got, tt.wantEffect, tt.wantReason, tt.wantPolicy)
			}
		})
	}
}

// decodePolicyDecision reads policy eval's output: exactly one JSON object with exactly
// the members effect, reason and policy, on one line.
func decodePolicyDecision(t *testing.T, out string) policyDecision {
	t.Helper()
	if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
		t.Fatalf("got output %q, want one line", out)
	}
	var members map[string]any
	if err := json.Unmarshal([]byte(out), &members); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	if len(members) != 3 {
		t.Fatalf("got members %v, want effect, reason and policy", members)
	}
	var d policyDecision
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	return d
}

func TestPolicyEvalStdin(t *testing.T) {
	tests := []struct {
		name       string
		stdin      string
		wantCode   int
		wantEffect string
	}{
		{name: "restore", stdin: `{"direction": "restore", "requester": {"principal": "alice"}, "token": {"submitted_by": ["alice"]}}`, wantEffect: "allow"},
		{name: "api", stdin: `{"direction": "api", "token": {"class": "aws"}, "destination": {"host": "api.github.com"}}`, wantEffect: "deny"},
		{name: "not JSON", stdin: "{", wantCode: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := policyCmd([]string{"eval", "--input", "-"}, strings.NewReader(tt.stdin), &stdout, &stderr)
			if code != tt.wantCode {
				t.Fatalf("got exit %d, want %d (stderr %q)", code, tt.wantCode, stderr.String())
			}
			if tt.wantCode != 0 {
				if !strings.Contains(stderr.String(), "standard input") {
					t.Fatalf("got stderr %q, want it to name standard input", stderr.String())
				}
				return
			}
			if got := decodePolicyDecision(t, stdout.String()); got.Effect != tt.wantEffect {
				t.Fatalf("got %+v, want effect %q", got, tt.wantEffect)
			}
		})
	}
}

const policyCmdPassingTests = `package cloakroom_test

import data.cloakroom

test_allows if {
	cloakroom.decision.effect == "allow"
}

test_reason if {
	cloakroom.decision.reason == "allow all"
}
`

func TestPolicyTest(t *testing.T) {
	tests := []struct {
		name       string
		files      map[string]string
		args       []string // after the directory
		wantCode   int
		wantStdout []string // substrings
		wantStderr []string
		notStdout  []string
	}{
		{
			name:       "passing",
			files:      map[string]string{"policy.rego": policyCmdAllowAll, "policy_test.rego": policyCmdPassingTests},
			wantStdout: []string{"PASS: 2/2"},
			notStdout:  []string{"test_allows", "FAIL"},
		},
		{
			name:       "passing verbose",
			files:      map[string]string{"policy.rego": policyCmdAllowAll, "policy_test.rego": policyCmdPassingTests},
			args:       []string{"--verbose"},
			wantStdout: []string{"data.cloakroom_test.test_allows: PASS", "data.cloakroom_test.test_reason: PASS", "PASS: 2/2"},
		},
		{
			name: "failing",
			files: map[string]string{"policy.rego": policyCmdAllowAll, "policy_test.rego": policyCmdPassingTests +
				"\ntest_denies if {\n\tcloakroom.decision.effect == \"deny\"\n}\n"},
			wantCode:   1,
			wantStdout: []string{"data.cloakroom_test.test_denies: FAIL", "policy_test.rego:14:", "PASS: 2/3", "FAIL: 1/3"},
		},
		{
			name: "test error",
			files: map[string]string{"policy.rego": policyCmdAllowAll, "policy_test.rego": policyCmdPassingTests +
				"\ntest_error if {\n\tto_number(\"x\") == 1\n}\n"},
			wantCode:   2,
			wantStdout: []string{"data.cloakroom_test.test_error", "policy_test.rego:14: eval_builtin_error", "ERROR: 1/3"},
		},
		{
			name:       "syntax error",
			files:      map[string]string{"policy.rego": policyCmdBroken, "policy_test.rego": policyCmdPassingTests},
			wantCode:   2,
			wantStderr: []string{"policy.rego:3:", "rego_parse_error"},
		},
		{
			name:       "strict as the engine",
			files:      map[string]string{"policy.rego": policyCmdAllowAll + "\nunused if {\n\tx := 1\n}\n", "policy_test.rego": policyCmdPassingTests},
			wantCode:   2,
			wantStderr: []string{"policy.rego:6:", "assigned var x unused"},
		},
		{
			name:       "no network built-ins",
			files:      map[string]string{"policy.rego": policyCmdAllowAll, "policy_test.rego": policyCmdPassingTests + "\ntest_http if {\n\thttp.send({\"method\": \"GET\", \"url\": \"http://127.0.0.1:1\"})\n}\n"},
			wantCode:   2,
			wantStderr: []string{"http.send"},
		},
		{
			name: "only .rego files, no hidden directories",
			files: map[string]string{
				"policy.rego": policyCmdAllowAll, "policy_test.rego": policyCmdPassingTests + "\ntest_no_data if {\n\tnot data.x\n}\n",
				"data.json": `{"x": 1}`, "notes.yaml": "x: 1\n", ".git/broken.rego": policyCmdBroken, "sub/more_test.rego": "package more_test\n\ntest_more if {\n\ttrue\n}\n",
			},
			wantStdout: []string{"PASS: 4/4"},
		},
		{
			name:       "no tests",
			files:      map[string]string{"policy.rego": policyCmdAllowAll},
			wantCode:   2,
			wantStderr: []string{"no tests"},
		},
		{
			name:       "no rego files",
			files:      map[string]string{"readme.md": "x"},
			wantCode:   2,
			wantStderr: []string{"no .rego files"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writePolicyFiles(t, tt.files)
			r := runPolicy(t, append(append([]string{"test"}, tt.args...), dir)...)
			if r.code != tt.wantCode {
				t.Fatalf("got exit %d, want %d (stdout %q, stderr %q)", r.code, tt.wantCode, r.stdout, r.stderr)
			}
			for _, want := range tt.wantStdout {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("got stdout %q, want it to contain %q", r.stdout, want)
				}
			}
			for _, not := range tt.notStdout {
				if strings.Contains(r.stdout, not) {
					t.Errorf("got stdout %q, want it without %q", r.stdout, not)
				}
			}
			for _, want := range tt.wantStderr {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("got stderr %q, want it to contain %q", r.stderr, want)
				}
			}
		})
	}
}

// TestPolicyTestDefault runs the default policy's own tests, as the README tells
// the security team to.
func TestPolicyTestDefault(t *testing.T) {
	r := runPolicy(t, "test", filepath.Join("..", "..", "configs"))
	if r.code != 0 || !strings.Contains(r.stdout, "PASS: ") || strings.Contains(r.stdout, "FAIL") {
		t.Fatalf("got exit %d, stdout %q, stderr %q; want every test to pass", r.code, r.stdout, r.stderr)
	}
	// The embedded default is the file the tests ran on.
	src, err := os.ReadFile(filepath.Join("..", "..", "configs", "policy.rego"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(src, configs.Policy) {
		t.Fatal("configs.Policy differs from configs/policy.rego")
	}
}

func TestPolicyUsage(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "no command", args: nil, wantCode: 2, wantStderr: "usage: cloakroom policy eval"},
		{name: "help", args: []string{"-h"}, wantCode: 0, wantStdout: "usage: cloakroom policy eval"},
		{name: "unknown command", args: []string{"check"}, wantCode: 2, wantStderr: `unknown command "check"`},
		{name: "test help", args: []string{"test", "-h"}, wantCode: 0, wantStderr: "-verbose"},
		{name: "test missing path", args: []string{"test", filepath.Join(t.TempDir(), "missing")}, wantCode: 2, wantStderr: "missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runPolicy(t, tt.args...)
			if r.code != tt.wantCode || !strings.Contains(r.stdout, tt.wantStdout) || !strings.Contains(r.stderr, tt.wantStderr) {
				t.Fatalf("got exit %d, stdout %q, stderr %q; want %d, %q, %q", r.code, r.stdout, r.stderr, tt.wantCode, tt.wantStdout, tt.wantStderr)
			}
		})
	}
}
