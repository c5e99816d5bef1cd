package detect

import (
	"slices"
	"strings"
	"testing"
)

func TestAllowlist(t *testing.T) {
	ghp := githubToken("ghp_", "allow")
	ghp2 := githubToken("ghp_", "allow2")
	jwt := fakeJWT("allow")
	pw := fake("allowpw", csAlnum, 16)
	tests := []struct {
		name  string
		allow Allowlist
		input string
		want  []string // "rule:secret"
	}{
		{name: "none", input: "GITHUB_TOKEN=" + ghp, want: []string{"github-pat:" + ghp}},
		{name: "value", allow: Allowlist{Values: []string{ghp}}, input: "a=" + ghp + " b=" + ghp2, want: []string{"github-pat:" + ghp2}},
		{name: "value is exact", allow: Allowlist{Values: []string{ghp[:20]}}, input: "a=" + ghp, want: []string{"github-pat:" + ghp}},
		{name: "regex", allow: Allowlist{Regexes: []string{"^" + ghp2[:12]}}, input: ghp + " " + ghp2, want: []string{"github-pat:" + ghp}},
		{name: "stopword folded", allow: Allowlist{Stopwords: []string{strings.ToUpper(pw[3:9])}}, input: "DB_PASSWORD=" + pw, want: nil},
		// An allowed finding keeps its span: the generic rules that overlap it are
		// not reported instead.
		{name: "value shadows generic", allow: Allowlist{Values: []string{ghp}}, input: "GITHUB_TOKEN=" + ghp, want: nil},
		{name: "rule shadows bearer", allow: Allowlist{Rules: []string{"jwt"}}, input: "Authorization: Bearer " + jwt, want: nil},
		{name: "rule leaves others", allow: Allowlist{Rules: []string{"jwt"}}, input: jwt + " DB_PASSWORD=" + pw, want: []string{"generic-password:" + pw}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := New(Config{Allowlist: tt.allow})
			if err != nil {
				t.Fatal(err)
			}
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

// TestAllowlistRulesVersusDisabled shows the difference the docs promise: a disabled
// rule leaves its secrets to other rules; an allowlisted rule lets them through.
func TestAllowlistRulesVersusDisabled(t *testing.T) {
	jwt := fakeJWT("versus")
	input := []byte("Authorization: Bearer " + jwt)
	disabled, err := New(Config{Disabled: []string{"jwt"}})
	if err != nil {
		t.Fatal(err)
	}
	if fs := disabled.Scan(input); len(fs) != 1 || fs[0].RuleID != "http-bearer-token" {
		t.Errorf("disabled jwt: got %s, want one http-bearer-token finding", describe(fs))
	}
	allowed, err := New(Config{Allowlist: Allowlist{Rules: []string{"jwt"}}})
	if err != nil {
		t.Fatal(err)
	}
	if fs := allowed.Scan(input); len(fs) != 0 {
		t.Errorf("allowlisted jwt: got %s, want none", describe(fs))
	}
}

func TestAllowlistScanField(t *testing.T) {
	v := fake("field-allow", csAlnum, 32)
	d, err := New(Config{Allowlist: Allowlist{Values: []string{v}}})
	if err != nil {
		t.Fatal(err)
	}
	if fs := d.ScanField("client_secret", []byte(v)); len(fs) != 0 {
		t.Errorf("got %s, want the allowlisted value dropped", describe(fs))
	}
	other := fake("field-other", csAlnum, 32)
	if fs := d.ScanField("client_secret", []byte(other)); len(fs) != 1 {
		t.Errorf("got %s, want one finding for a value not in the allowlist", describe(fs))
	}
}

func TestAllowlistErrors(t *testing.T) {
	tests := []struct {
		name  string
		allow Allowlist
		want  string
	}{
		{name: "bad regex", allow: Allowlist{Regexes: []string{"ok", "("}}, want: "allowlist: regexes[1]"},
		{name: "empty match", allow: Allowlist{Regexes: []string{".*"}}, want: "matches the empty string"},
		{name: "unknown rule", allow: Allowlist{Rules: []string{"nope"}}, want: `allowlist: rules: no rule "nope"`},
		{name: "empty value", allow: Allowlist{Values: []string{""}}, want: "values[0] is empty"},
		{name: "empty stopword", allow: Allowlist{Stopwords: []string{""}}, want: "stopwords[0] is empty"},
		{name: "empty path", allow: Allowlist{Paths: []string{" "}}, want: "paths[0]: empty path"},
		{name: "path separator", allow: Allowlist{Paths: []string{".a"}}, want: "starts with a separator"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(Config{Allowlist: tt.allow})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

// TestAllowlistErrorsHideValues checks that no error quotes an allowlisted value.
func TestAllowlistErrorsHideValues(t *testing.T) {
	v := fake("hidden-value", csAlnum, 24)
	_, err := New(Config{Allowlist: Allowlist{Values: []string{v, ""}, Rules: []string{"nope"}}})
	if err == nil {
		t.Fatal("got nil error, want one")
	}
	if strings.Contains(err.Error(), v) {
		t.Error("got an error that quotes an allowlisted value, want none")
	}
}

func TestSkipPath(t *testing.T) {
	patterns := []string{
		"tools[*].input_schema",
		"metadata.user_id",
		"messages[*].content[*].input#.*.api_key",
		"*.trace",
		"[*].raw",
		"system[0]",
	}
	d, err := New(Config{Allowlist: Allowlist{Paths: patterns}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want bool
	}{
		{"tools[0].input_schema", true},
		{"tools[12].input_schema.properties.password.description", true},
		{"tools[0].input_schemas", false},
		{"tools[x].input_schema", false},
		{"tools[].input_schema", false},
		{"tools.input_schema", false},
		{"tools[1].name", false},
		{"metadata.user_id", true},
		{"metadata.user_id[0]", true},
		{"metadata.user", false},
		{"metadata", false},
		{"messages[1].content[0].input#.env.api_key", true},
		{"messages[1].content[0].input#.env.api_keys", false},
		{"messages[1].content[0].input#.api_key", false},
		{"request.trace", true},
		{"trace", false},
		{"[3].raw", true},
		{"system[0]", true},
		{"system[0].text", true},
		{"system[01]", false},
		{"system[1]", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := d.SkipPath(tt.path); got != tt.want {
			t.Errorf("SkipPath(%q): got %v, want %v", tt.path, got, tt.want)
		}
	}
	plain := newDefault(t)
	if plain.SkipPath("tools[0].input_schema") {
		t.Error("SkipPath without an allowlist: got true, want false")
	}
}

func BenchmarkSkipPath(b *testing.B) {
	d, err := New(Config{Allowlist: Allowlist{Paths: []string{"tools[*].input_schema", "metadata.user_id", "*.trace"}}})
	if err != nil {
		b.Fatal(err)
	}
	path := "messages[12].content[3].text"
	b.ReportAllocs()
	b.SetBytes(int64(len(path)))
	for b.Loop() {
		if d.SkipPath(path) {
			b.Fatal("got true, want false")
		}
	}
}
