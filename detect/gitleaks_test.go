package detect

import (
	"os"
	"slices"
	"strings"
	"testing"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestImportGitleaksTestdata(t *testing.T) {
	imp, err := ImportGitleaks(readTestdata(t, "gitleaks.toml"))
	if err != nil {
		t.Fatalf("ImportGitleaks: %v", err)
	}
	var ids []string
	for _, r := range imp.Rules {
		ids = append(ids, r.ID)
	}
	wantIDs := []string{"acme-internal-token", "acme-db-password", "widget-webhook", "corp-config-key"}
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("imported rules: got %v, want %v", ids, wantIDs)
	}
	skipped := map[string]string{}
	for _, s := range imp.Skipped {
		skipped[s.ID] = s.Reason
	}
	for id, want := range map[string]string{
		"legacy-lookahead":   "does not compile in Go",
		"pkcs12-file":        "file paths only",
		"badge-number":       "no literal prefix",
		"acme-client-secret": "composite rule",
	} {
		if !strings.Contains(skipped[id], want) {
			t.Errorf("skipped %q: got reason %q, want it to mention %q", id, skipped[id], want)
		}
	}
	if len(imp.Skipped) != 4 {
		t.Errorf("got %d skipped rules, want 4: %v", len(imp.Skipped), imp.Skipped)
	}
	if !imp.UseDefault {
		t.Error("UseDefault: got false, want true")
	}
	if want := []string{"generic-api-key", "private-key"}; !slices.Equal(imp.DisabledRules, want) {
		t.Errorf("DisabledRules: got %v, want %v", imp.DisabledRules, want)
	}
	var tuned []string
	for id := range imp.RuleAllowlists {
		tuned = append(tuned, id)
	}
	slices.Sort(tuned)
	if want := []string{"jwt", "slack-webhook-url", "uri-password"}; !slices.Equal(tuned, want) {
		t.Errorf("RuleAllowlists: got %v, want %v", tuned, want)
	}
	if want := []string{"(?i)^dummy"}; !slices.Equal(imp.Allowlist.Regexes, want) {
		t.Errorf("global regexes: got %q, want %q (the AND allowlist with paths dropped)", imp.Allowlist.Regexes, want)
	}
	if want := []string{"notasecret"}; !slices.Equal(imp.Allowlist.Stopwords, want) {
		t.Errorf("global stopwords: got %q, want %q", imp.Allowlist.Stopwords, want)
	}
	notes := strings.Join(imp.Notes, "\n")
	for _, want := range []string{
		`rule "corp-config-key": path condition dropped`,
		"paths and commits ignored",
		"condition AND with paths or commits",
		`regexTarget "line"`,
		"key rules.required.withinLines", // a key cloakroom does not use is reported
	} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes: got\n%s\nwant one mentioning %q", notes, want)
		}
	}
	classes := map[string]string{}
	for _, r := range imp.Rules {
		classes[r.ID] = r.Class
	}
	if classes["acme-internal-token"] != "acme" || classes["widget-webhook"] != "widget" {
		t.Errorf("classes: got %v, want acme and widget from the ids", classes)
	}
}

// TestImportedRulesScan builds a Detector from the testdata config through
// FileConfig.Build and checks what the imported rules find.
func TestImportedRulesScan(t *testing.T) {
	fc := FileConfig{GitleaksConfig: "gitleaks.toml"}
	cfg, warnings, err := fc.Build(func(name string) ([]byte, error) { return os.ReadFile("testdata/" + name) })
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	d, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	w := strings.Join(warnings, "\n")
	for _, want := range []string{`rule "legacy-lookahead" not imported`, `disabledRules "generic-api-key": no such rule`} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings: got\n%s\nwant one mentioning %q", w, want)
		}
	}
	for _, r := range d.Rules() {
		if r.ID == "private-key" {
			t.Error("got private-key enabled, want it disabled by [extend] disabledRules")
		}
	}
	live := "acme_live_" + fake("acme-live", "abcdefghijklmnopqrstuvwxyz0123456789", 32)
	test := "acme_test_" + fake("acme-test", "abcdefghijklmnopqrstuvwxyz0123456789", 32)
	hook := fake("hook", csAlnum, 24)
	dbpw := fake("dbpw", "abcdefghijklmnopqrstuvwxyz0123456789", 20)
	devpw := "devpass" + fake("devpw", csAlnum, 10)
	realpw := fake("realpw", csAlnum, 14)
	tests := []struct {
		name, input string
		want        []string // "rule:secret"
	}{
		{name: "token", input: "ACME_TOKEN=" + live + "\n", want: []string{"acme-internal-token:" + live}},
		{name: "targeted allowlist", input: "see " + test + " in the fixture", want: nil},
		// A rule's allowlist stops only that rule (as in gitleaks): a generic rule
		// still sees a keyed value.
		{name: "targeted allowlist is per rule", input: "token: " + test + "\n", want: []string{"generic-secret:" + test}},
		{name: "secret group 3", input: "POST https://hooks.widget.io/services/TABCD1234/BXYZW5678/" + hook,
			want: []string{"widget-webhook:" + hook}},
		{name: "gitleaks generic style", input: `acme_db: "` + dbpw + `"`, want: []string{"acme-db-password:" + dbpw}},
		{name: "rule stopword", input: `acme_db: "localdev` + fake("ld", "abcdefghijklmnopqrstuvwxyz", 10) + `"`, want: nil},
		{name: "path dropped", input: "CORP_KEY=" + fake("corp", csHex, 40), want: []string{"corp-config-key:" + fake("corp", csHex, 40)}},
		{name: "tuned default rule", input: "postgres://app:" + devpw + "@db.internal/app", want: nil},
		{name: "tuned default still fires", input: "postgres://app:" + realpw + "@db.internal/app", want: []string{"uri-password:" + realpw}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, f := range d.Scan([]byte(tt.input)) {
				got = append(got, f.RuleID+":"+tt.input[f.Start:f.End])
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestImportGitleaksErrors(t *testing.T) {
	tests := []struct {
		name, toml string
		wantErr    string // "" = no error
		wantSkip   string // a skipped rule's reason must mention it
	}{
		{name: "not toml", toml: "[[rules]\nid = 1", wantErr: "gitleaks config"},
		{name: "nothing usable", toml: "[[rules]]\nid = \"x\"\nregex = '''(?=a)b'''\nkeywords=[\"ab\"]\n", wantErr: `rule "x": regex does not compile`},
		{name: "secret group too big", toml: "[[rules]]\nid = \"a\"\nregex = '''tok_([a-z]{9})'''\nsecretGroup = 2\n[[rules]]\nid = \"b\"\nregex = '''bb_[a-z]{9}'''\n",
			wantSkip: "secretGroup 2: the regex has 1 groups"},
		{name: "bad class word falls back", toml: "[[rules]]\nid = \"generic-thing\"\nregex = '''thing_[a-z]{9}'''\n"},
		{name: "short keyword derived", toml: "[[rules]]\nid = \"k\"\nregex = '''kk_[a-z]{9}'''\nkeywords = [\"k\"]\n"},
		{name: "short keyword no prefix", toml: "[[rules]]\nid = \"k\"\nregex = '''[a-z]+_[a-z]{9}'''\nkeywords = [\"k\"]\n[[rules]]\nid = \"ok\"\nregex = '''ok_[a-z]{9}'''\n",
			wantSkip: "shorter than 2 bytes"},
		{name: "bad entropy", toml: "[[rules]]\nid = \"e\"\nregex = '''ee_[a-z]{9}'''\nentropy = 9.5\n[[rules]]\nid = \"ok\"\nregex = '''ok_[a-z]{9}'''\n",
			wantSkip: "min entropy"},
		{name: "no id", toml: "[[rules]]\ndescription = \"AWS\"\nregex = '''AKIA[0-9A-Z]{16}'''\n[[rules]]\nid = \"ok\"\nregex = '''ok_[a-z]{9}'''\n",
			wantSkip: "no id"},
		{name: "only allowlist", toml: "[allowlist]\nregexes = ['''^test_''']\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			imp, err := ImportGitleaks([]byte(tt.toml))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			if tt.wantSkip != "" {
				found := false
				for _, s := range imp.Skipped {
					found = found || strings.Contains(s.Reason, tt.wantSkip)
				}
				if !found {
					t.Errorf("skipped: got %v, want a reason mentioning %q", imp.Skipped, tt.wantSkip)
				}
			}
			if _, err := New(Config{Rules: imp.Rules}); err != nil && len(imp.Rules) > 0 {
				t.Errorf("New with the imported rules: %v", err)
			}
		})
	}
}

func TestGitleaksKeyCase(t *testing.T) {
	// gitleaks reads keys case-insensitively (viper); so must we.
	imp, err := ImportGitleaks([]byte("[[rules]]\nID = \"x\"\nREGEX = '''a(b)(c_[a-z]{9})'''\nsecretgroup = 2\nKeywords = [\"abc_\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(imp.Rules) != 1 {
		t.Fatalf("got %d rules, want 1 (skipped %v)", len(imp.Rules), imp.Skipped)
	}
	d, err := New(Config{Rules: imp.Rules})
	if err != nil {
		t.Fatal(err)
	}
	in := "abc_" + fake("kc", "abcdefghijklmnopqrstuvwxyz", 9)
	fs := d.Scan([]byte(in))
	if len(fs) != 1 || in[fs[0].Start:fs[0].End] != in[2:] {
		t.Errorf("got %s, want x[2:%d] (group 2)", describe(fs), len(in))
	}
}

func TestNameSecretGroup(t *testing.T) {
	tests := []struct {
		name, pattern string
		group         int
		input, want   string
	}{
		{name: "third group", pattern: `(a+)-(b+)-(c+)`, group: 3, input: "aa-bb-cc", want: "cc"},
		{name: "nested", pattern: `x((y+)z)`, group: 2, input: "xyyz", want: "yy"},
		{name: "existing secret name moved", pattern: `(?P<secret>a+)-(b+)`, group: 2, input: "aa-bb", want: "bb"},
		{name: "flags kept", pattern: `(?i)key=(\w+);([a-z]+)`, group: 2, input: "KEY=1;ABC", want: "ABC"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := nameSecretGroup(tt.pattern, tt.group)
			if err != nil {
				t.Fatal(err)
			}
			c, err := compile(Rule{ID: "t", Class: "x", Keywords: []string{"zz"}, Pattern: out})
			if err != nil {
				t.Fatal(err)
			}
			m := c.re.FindStringSubmatch(tt.input)
			if m == nil || m[c.group] != tt.want {
				t.Errorf("got %q (pattern %q), want secret %q", m, out, tt.want)
			}
		})
	}
}

func TestGitleaksClass(t *testing.T) {
	tests := []struct{ id, want string }{
		{"aws-access-token", "aws"},
		{"generic-api-key", ClassSecret},
		{"stripe_key", "stripe"},
		{"x", "x"},
		{"Very-Long-Vendor-Name-Here", "very"},
		{"abcdefghijklmnopqrstuvwxyz-token", ClassSecret},
		{"1password-secret", "1password"},
	}
	for _, tt := range tests {
		if got := gitleaksClass(tt.id); got != tt.want {
			t.Errorf("gitleaksClass(%q): got %q, want %q", tt.id, got, tt.want)
		}
	}
}
