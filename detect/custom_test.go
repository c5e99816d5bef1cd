package detect

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// sectionYAML is a detect: section as a user writes it.
const sectionYAML = `
disable: [twilio-api-key]
pii: true
rules:
  - id: acme-internal-token
    class: acme
    description: Acme internal service token
    regex: 'acme_[a-z0-9]{32}'
    entropy: 3.5
    allowlist:
      values: [acme_00000000000000000000000000000000]
      regexes: ['^acme_test']
  - id: acme-session
    regex: '(?i)acme[_-]session\s*=\s*(?P<secret>[A-Za-z0-9]{24})'
    keywords: [acme_session, acme-session]
allowlist:
  values: [shared-demo-password-1]
  rules: [jwt]
  paths: ['tools[*].input_schema', 'metadata.user_id']
`

func TestFileConfigYAML(t *testing.T) {
	var fc FileConfig
	dec := yaml.NewDecoder(strings.NewReader(sectionYAML))
	dec.KnownFields(true)
	if err := dec.Decode(&fc); err != nil {
		t.Fatal(err)
	}
	cfg, warnings, err := fc.Build(nil)
	if err != nil || len(warnings) > 0 {
		t.Fatalf("Build: got %v and warnings %q, want neither", err, warnings)
	}
	if !cfg.PII || !slices.Equal(cfg.Disabled, []string{"twilio-api-key"}) {
		t.Errorf("got PII %v Disabled %v, want true [twilio-api-key]", cfg.PII, cfg.Disabled)
	}
	if !slices.Equal(cfg.Allowlist.Paths, []string{"tools[*].input_schema", "metadata.user_id"}) {
		t.Errorf("allowlist paths: got %q", cfg.Allowlist.Paths)
	}
	d, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	tok := "acme_" + fake("acme-tok", "abcdefghijklmnopqrstuvwxyz0123456789", 32)
	sess := fake("acme-sess", csAlnum, 24)
	tests := []struct {
		name, input string
		want        []string // rule:class:secret
	}{
		{name: "derived keyword", input: "token " + tok + " rotated", want: []string{"acme-internal-token:acme:" + tok}},
		{name: "keyword case folded", input: "x ACME_" + tok[5:], want: nil}, // the regex is case-sensitive
		{name: "low entropy", input: "acme_" + strings.Repeat("ab", 16), want: nil},
		{name: "rule allowlist value", input: "acme_" + strings.Repeat("0", 32), want: nil},
		{name: "rule allowlist regex", input: "acme_test" + fake("t", "abcdefghijklmnopqrstuvwxyz0123456789", 28), want: nil},
		{name: "named group and default class", input: "ACME-SESSION = " + sess, want: []string{"acme-session:secret:" + sess}},
		{name: "pii on", input: "mail " + fake("pii-l", "abcdefghijklmnopqrstuvwxyz", 8) + "@" + fake("pii-d", "abcdefghijklmnopqrstuvwxyz", 8) + ".org",
			want: []string{"pii-email:email:" + fake("pii-l", "abcdefghijklmnopqrstuvwxyz", 8) + "@" + fake("pii-d", "abcdefghijklmnopqrstuvwxyz", 8) + ".org"}},
		{name: "global value", input: "DB_PASSWORD=shared-demo-password-1", want: nil},
		{name: "allowlisted rule", input: "Authorization: Bearer " + fakeJWT("custom"), want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, f := range d.Scan([]byte(tt.input)) {
				got = append(got, f.RuleID+":"+f.Class+":"+tt.input[f.Start:f.End])
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if !d.SkipPath("tools[3].input_schema.properties.token") || d.SkipPath("tools[3].name") {
		t.Error("SkipPath: got the wrong answer for tools[3]: want input_schema skipped, name scanned")
	}
}

func TestBuildErrors(t *testing.T) {
	ok := FileRule{ID: "ok-rule", Regex: `okk_[a-z]{10}`}
	tests := []struct {
		name  string
		fc    FileConfig
		wants []string
	}{
		{name: "missing regex", fc: FileConfig{Rules: []FileRule{{ID: "a"}}}, wants: []string{`rules[0] "a": regex: required`}},
		{name: "missing id", fc: FileConfig{Rules: []FileRule{{Regex: `abc_\w+`}}}, wants: []string{`rules[0] "": id: required`}},
		{name: "bad regex", fc: FileConfig{Rules: []FileRule{{ID: "a", Regex: `abc(`}}}, wants: []string{`rules[0] "a": regex:`, "missing closing )"}},
		{name: "no keyword derivable", fc: FileConfig{Rules: []FileRule{{ID: "a", Regex: `[a-z]+_token=\w+`}}},
			wants: []string{`rules[0] "a": keywords: none given`}},
		{name: "one-byte prefix", fc: FileConfig{Rules: []FileRule{{ID: "a", Regex: `(?:x|ab)\w+`}}},
			wants: []string{`rules[0] "a": keywords`}},
		{name: "short keyword", fc: FileConfig{Rules: []FileRule{{ID: "a", Regex: `abc`, Keywords: []string{"a"}}}},
			wants: []string{`rules[0] "a": keywords[0]`}},
		{name: "bad class", fc: FileConfig{Rules: []FileRule{{ID: "a", Class: "Acme-Corp", Regex: `abc`}}},
			wants: []string{`rules[0] "a": class`}},
		{name: "entropy", fc: FileConfig{Rules: []FileRule{{ID: "a", Regex: `abc`, Entropy: 9}}},
			wants: []string{`rules[0] "a": entropy: 9 outside`}},
		{name: "built-in id", fc: FileConfig{Rules: []FileRule{{ID: "github-pat", Regex: `abc`}}},
			wants: []string{`rules[0] "github-pat": id: already used by a built-in rule`}},
		{name: "pii id", fc: FileConfig{PII: true, Rules: []FileRule{{ID: "pii-email", Regex: `abc`}}},
			wants: []string{`rules[0] "pii-email": id: already used`}},
		{name: "duplicate custom id", fc: FileConfig{Rules: []FileRule{ok, ok}},
			wants: []string{`rules[1] "ok-rule": id: already used by rules[0] "ok-rule"`}},
		{name: "rule allowlist paths", fc: FileConfig{Rules: []FileRule{{ID: "a", Regex: `abc`, Allowlist: Allowlist{Paths: []string{"x"}}}}},
			wants: []string{`rule "a": allowlist: paths apply only to the global allowlist`}},
		{name: "rule allowlist bad regex", fc: FileConfig{Rules: []FileRule{{ID: "a", Regex: `abc`, Allowlist: Allowlist{Regexes: []string{"("}}}}},
			wants: []string{`rule "a": allowlist: regexes[0]`}},
		{name: "gitleaks without reader", fc: FileConfig{GitleaksConfig: "x.toml"}, wants: []string{"gitleaks_config: no file reader"}},
		{name: "all gathered", fc: FileConfig{Rules: []FileRule{{ID: "a"}, {ID: "b", Regex: "("}, ok}},
			wants: []string{`rules[0] "a": regex: required`, `rules[1] "b": regex`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := tt.fc.Build(nil)
			if err == nil {
				t.Fatalf("got nil error, want one mentioning %q", tt.wants)
			}
			for _, w := range tt.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got error %q, want it to mention %q", err, w)
				}
			}
		})
	}
}

func TestBuildGitleaksReadError(t *testing.T) {
	fc := FileConfig{GitleaksConfig: "missing.toml"}
	_, _, err := fc.Build(func(string) ([]byte, error) { return nil, os.ErrNotExist })
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %v, want an error wrapping os.ErrNotExist", err)
	}
}

func TestBuildZeroIsDefault(t *testing.T) {
	cfg, warnings, err := FileConfig{}.Build(nil)
	if err != nil || warnings != nil || cfg.Rules != nil || cfg.PII || !cfg.Allowlist.IsZero() {
		t.Errorf("got %+v, %v, %v; want the zero Config (default catalog)", cfg, warnings, err)
	}
}

func TestDeriveKeywords(t *testing.T) {
	tests := []struct {
		re      string
		want    []string
		wantErr bool
	}{
		{re: `acme_[a-z0-9]{32}`, want: []string{"acme_"}},
		{re: `\bgh[po]_[A-Za-z0-9]{36}\b`, want: []string{"gho_", "ghp_"}},
		{re: `(?:sk|rk)_live_\w+`, want: []string{"rk_live_", "sk_live_"}},
		{re: `(?i)ACME-Key:\s*(\w+)`, want: []string{"acme-key:"}},
		{re: `^(xoxb-\d+)`, want: []string{"xoxb-"}},
		{re: `(?:tok|token)_\w+`, want: []string{"tok_", "token_"}},
		{re: `(?:x|ab)c`, want: []string{"abc", "xc"}},
		{re: `a{2,}b`, want: []string{"aa"}},
		{re: `ab+c`, want: []string{"ab"}},
		{re: `-----BEGIN [A-Z ]+ PRIVATE KEY-----`, want: []string{"-----begin "}},
		{re: `[a-z]+_token`, wantErr: true},
		{re: `x\d+`, wantErr: true},
		{re: `(?:x|ab)\w+`, wantErr: true},
		{re: `.*secret`, wantErr: true},
		{re: `(`, wantErr: true},
		{re: `(?i)straße_\w+`, want: []string{"stra"}},
	}
	for _, tt := range tests {
		t.Run(tt.re, func(t *testing.T) {
			got, err := DeriveKeywords(tt.re)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("got %q, want an error", got)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestDerivedKeywordsCoverMatches checks the promise DeriveKeywords makes: every
// match of the regex starts with one of the keywords (ASCII case folded).
func TestDerivedKeywordsCoverMatches(t *testing.T) {
	tests := []struct {
		re     string
		inputs []string
	}{
		{`\bgh[po]_[A-Za-z0-9]{4}`, []string{"ghp_abcd", "gho_ABCD"}},
		{`(?i)api[_-]?key=\w+`, []string{"APIKEY=x", "api-key=y", "Api_Key=z"}},
		{`(?:sk|rk)_(?:live|test)_\w+`, []string{"sk_live_a", "rk_test_b"}},
	}
	for _, tt := range tests {
		kws, err := DeriveKeywords(tt.re)
		if err != nil {
			t.Fatalf("%s: %v", tt.re, err)
		}
		c, err := compile(Rule{ID: "t", Class: "x", Keywords: kws, Pattern: tt.re})
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range tt.inputs {
			m := c.re.FindString(in)
			if m == "" {
				t.Fatalf("%s: no match in %q", tt.re, in)
			}
			covered := slices.ContainsFunc(kws, func(k string) bool { return strings.HasPrefix(strings.ToLower(m), k) })
			if !covered {
				t.Errorf("%s: match %q starts with none of %q", tt.re, m, kws)
			}
		}
	}
}
