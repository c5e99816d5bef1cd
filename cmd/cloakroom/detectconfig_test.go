package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cloakroom/cloakroom/detect"
)

// detectGitleaks is a small gitleaks config: one rule to import, one Go cannot
// compile.
const detectGitleaks = `
[extend]
useDefault = true

[[rules]]
id = "widget-key"
description = "Widget API key"
regex = '''\b(wdg_[a-z0-9]{24})\b'''
keywords = ["wdg_"]

[[rules]]
id = "pcre-only"
regex = '''(?<=key=)[a-z]{20}'''
keywords = ["key="]
`

// detectYAML is the documented detect: section, uncommented, with a relative
// gitleaks_config.
const detectYAML = `
detect:
  pii: true
  disable: [twilio-api-key]
  gitleaks_config: rules/gitleaks.toml
  rules:
    - id: acme-internal-token
      class: acme
      description: Acme service token
      regex: 'acme_[a-z0-9]{32}'
      keywords: [acme_]
      entropy: 3.5
      allowlist:
        values: [acme_00000000000000000000000000000000]
        regexes: ['^acme_test_']
  allowlist:
    values: [sk_test_shared_demo_key]
    regexes: ['^AKIA[A-Z0-9]{12}TEST$']
    stopwords: [dummy]
    rules: [jwt]
    paths: ['tools[*].input_schema', 'metadata.user_id']
`

// writeDetectConfig writes detectYAML and its gitleaks config into a temporary
// directory and returns the config file's path.
func writeDetectConfig(t *testing.T, yaml string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "rules"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules", "gitleaks.toml"), []byte(detectGitleaks), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "cloakroom.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// repeatTo repeats s to n bytes: a fixed stand-in for random token characters.
func repeatTo(s string, n int) string { return strings.Repeat(s, n/len(s)+1)[:n] }

func TestServeDetectSection(t *testing.T) {
	path := writeDetectConfig(t, detectYAML)
	c, err := parseServe([]string{"--config", path})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(filepath.Dir(path), "rules", "gitleaks.toml"); c.Detect.GitleaksConfig != want {
		t.Errorf("gitleaks_config: got %q, want %q (relative to the config file)", c.Detect.GitleaksConfig, want)
	}
	det, warnings, err := loadDetector(c.Detect)
	if err != nil {
		t.Fatalf("loadDetector: %v", err)
	}
	if w := strings.Join(warnings, "\n"); !strings.Contains(w, `rule "pcre-only" not imported`) {
		t.Errorf("warnings: got %q, want the rule Go cannot compile named", warnings)
	}
	ids := map[string]bool{}
	for _, r := range det.Rules() {
		ids[r.ID] = true
	}
	for id, want := range map[string]bool{"acme-internal-token": true, "widget-key": true, "pii-email": true, "twilio-api-key": false, "github-pat": true} {
		if ids[id] != want {
			t.Errorf("rule %s: got enabled %v, want %v", id, ids[id], want)
		}
	}
	acme := "acme_" + repeatTo("q7m2x9k4h3n8p1z5w6", 32)
	widget := "wdg_" + repeatTo("h3n8p1", 24)
	in := "ACME=" + acme + " widget " + widget + " demo sk_test_shared_demo_key"
	var got []string
	for _, f := range det.Scan([]byte(in)) {
		got = append(got, f.RuleID+":"+in[f.Start:f.End])
	}
	if want := []string{"acme-internal-token:" + acme, "widget-key:" + widget}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if !det.SkipPath("tools[0].input_schema") || det.SkipPath("tools[0].name") {
		t.Error("SkipPath: got the wrong answer for tools[0], want input_schema skipped and name scanned")
	}
}

func TestLoadDetectorFile(t *testing.T) {
	det, warnings, err := loadDetectorFile("")
	if err != nil || len(warnings) > 0 {
		t.Fatalf("no config: got %v, %q", err, warnings)
	}
	if got, want := len(det.Rules()), len(detect.DefaultRules()); got != want {
		t.Errorf("no config: got %d rules, want the %d built-in", got, want)
	}
	det, _, err = loadDetectorFile(writeDetectConfig(t, detectYAML))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(det.Rules()), len(detect.DefaultRules())+len(detect.PIIRules())+2-1; got != want {
		t.Errorf("with config: got %d rules, want %d (catalog + pii + 2 added - 1 disabled)", got, want)
	}
}

func TestDetectConfigErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		wants      []string
	}{
		{name: "unknown key", yaml: "detect:\n  pi: true\n", wants: []string{"pi"}},
		{name: "rule without regex", yaml: "detect:\n  rules:\n    - id: x\n", wants: []string{`detect: rules[0] "x": regex: required`}},
		{name: "no keywords", yaml: "detect:\n  rules:\n    - id: x\n      regex: '[a-z]+_key=(\\w+)'\n", wants: []string{`rules[0] "x": keywords`}},
		{name: "bad allowlist rule", yaml: "detect:\n  allowlist:\n    rules: [no-such-rule]\n", wants: []string{`no rule "no-such-rule"`}},
		{name: "unknown disabled", yaml: "detect:\n  disable: [nope]\n", wants: []string{`disabled rule "nope"`}},
		{name: "missing gitleaks file", yaml: "detect:\n  gitleaks_config: nope.toml\n", wants: []string{"gitleaks_config", "nope.toml"}},
		{name: "gathered", yaml: "detect:\n  rules:\n    - id: a\n    - id: b\n      regex: '('\n", wants: []string{`rules[0] "a"`, `rules[1] "b"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeDetectConfig(t, tt.yaml)
			_, _, err := loadDetectorFile(path)
			if err == nil {
				t.Fatalf("loadDetectorFile: got nil error, want one mentioning %q", tt.wants)
			}
			for _, w := range tt.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("loadDetectorFile: got %q, want it to mention %q", err, w)
				}
			}
			// serve refuses to start with the same message.
			var stdout, stderr bytes.Buffer
			code := run([]string{"serve", "--data-dir", filepath.Join(t.TempDir(), "d"), "--config", path}, &stdout, &stderr)
			if code == 0 || !strings.Contains(stderr.String(), tt.wants[0]) {
				t.Errorf("serve: got exit %d, stderr %q; want failure mentioning %q", code, stderr.String(), tt.wants[0])
			}
		})
	}
}
