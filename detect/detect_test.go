package detect

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

func newDefault(t testing.TB) *Detector {
	t.Helper()
	d, err := New(Config{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return d
}

// run scans a sample the way its rule is meant to see it.
func run(d *Detector, s Sample) []Finding {
	if s.Key != "" {
		return d.ScanField(s.Key, []byte(s.Text))
	}
	return d.Scan([]byte(s.Text))
}

// describe names findings by rule and span, never by content.
func describe(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "%s[%d:%d] ", f.RuleID, f.Start, f.End)
	}
	return b.String()
}

// TestRuleSamples runs every rule's own true and false positives through a Detector
// holding the whole default catalog, so overlap resolution is part of the check.
func TestRuleSamples(t *testing.T) {
	d := newDefault(t)
	for _, r := range d.Rules() {
		t.Run(r.ID, func(t *testing.T) { checkSamples(t, d, r) })
	}
}

// checkSamples runs r's samples through d: each true positive must be found by r
// with its exact span, no false positive by r.
func checkSamples(t *testing.T, d *Detector, r Rule) {
	t.Helper()
	if len(r.TruePositives) == 0 || len(r.FalsePositives) == 0 {
		t.Fatalf("got %d true and %d false positives, want at least one of each",
			len(r.TruePositives), len(r.FalsePositives))
	}
	for i, s := range r.TruePositives {
		if s.Secret == "" || !strings.Contains(s.Text, s.Secret) {
			t.Errorf("true positive %d: secret is empty or not in its text", i)
			continue
		}
		fs := run(d, s)
		ok := false
		for _, f := range fs {
			if f.RuleID == r.ID && s.Text[f.Start:f.End] == s.Secret {
				ok = true
			}
		}
		if !ok {
			want := strings.Index(s.Text, s.Secret)
			t.Errorf("true positive %d: got %s, want %s[%d:%d]", i, describe(fs), r.ID, want, want+len(s.Secret))
		}
	}
	for i, s := range r.FalsePositives {
		for _, f := range run(d, s) {
			if f.RuleID == r.ID {
				t.Errorf("false positive %d (%.40q...): got %s[%d:%d], want none", i, s.Text, f.RuleID, f.Start, f.End)
			}
		}
	}
}

func TestDefaultRulesValid(t *testing.T) {
	rules := DefaultRules()
	seen := map[string]bool{}
	for _, r := range rules {
		if seen[r.ID] {
			t.Errorf("duplicate rule id %q", r.ID)
		}
		seen[r.ID] = true
		if r.Description == "" {
			t.Errorf("rule %q: no description", r.ID)
		}
	}
	if len(rules) < 25 {
		t.Errorf("got %d rules, want at least 25", len(rules))
	}
}

func TestNewErrors(t *testing.T) {
	good := Rule{ID: "ok", Class: "secret", Keywords: []string{"k="}, Pattern: `k=(\w+)`}
	tests := []struct {
		name  string
		cfg   Config
		wants []string // substrings of the joined error; empty = no error
	}{
		{name: "valid", cfg: Config{Rules: []Rule{good}}},
		{name: "bad regex", cfg: Config{Rules: []Rule{{ID: "r", Class: "x", Keywords: []string{"k"}, Pattern: `k(`}}},
			wants: []string{`rule "r": pattern`}},
		{name: "bad class", cfg: Config{Rules: []Rule{{ID: "r", Class: "Bad_Class", Keywords: []string{"k"}, Pattern: `k`}}},
			wants: []string{`rule "r": class`}},
		{name: "long class", cfg: Config{Rules: []Rule{{ID: "r", Class: "abcdefghijklmnopq", Keywords: []string{"k"}, Pattern: `k`}}},
			wants: []string{`rule "r": class`}},
		{name: "no body", cfg: Config{Rules: []Rule{{ID: "r", Class: "x", Keywords: []string{"k"}}}},
			wants: []string{"exactly one of"}},
		{name: "two bodies", cfg: Config{Rules: []Rule{{ID: "r", Class: "x", Keywords: []string{"k"}, Pattern: "k", Match: matchJWT}}},
			wants: []string{"exactly one of"}},
		{name: "no keywords", cfg: Config{Rules: []Rule{{ID: "r", Class: "x", Pattern: "k"}}},
			wants: []string{"at least one keyword"}},
		{name: "short keyword", cfg: Config{Rules: []Rule{{ID: "r", Class: "x", Keywords: []string{"k"}, Pattern: "k"}}},
			wants: []string{"shorter than 2 bytes"}},
		{name: "empty id", cfg: Config{Rules: []Rule{{Class: "x", Keywords: []string{"k"}, Pattern: "k"}}},
			wants: []string{"id must be"}},
		{name: "duplicate", cfg: Config{Rules: []Rule{good, good}}, wants: []string{"duplicate id"}},
		{name: "unknown disabled", cfg: Config{Rules: []Rule{good}, Disabled: []string{"nope"}},
			wants: []string{`disabled rule "nope"`}},
		{name: "all gathered", cfg: Config{Rules: []Rule{
			{ID: "a", Class: "x", Keywords: []string{"kk"}, Pattern: `(`},
			{ID: "b", Class: "", Keywords: []string{"kk"}, Pattern: `k`},
		}}, wants: []string{`rule "a": pattern`, `rule "b": class`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if len(tt.wants) == 0 {
				if err != nil {
					t.Fatalf("got error %v, want nil", err)
				}
				return
			}
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

func TestDisabled(t *testing.T) {
	tok := githubToken("ghp_", "disabled")
	text := []byte("GITHUB_TOKEN=" + tok)
	d, err := New(Config{Disabled: []string{"github-pat"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range d.Rules() {
		if r.ID == "github-pat" {
			t.Fatal("got github-pat in Rules(), want it disabled")
		}
	}
	fs := d.Scan(text)
	// The generic key rule still sees the value.
	if len(fs) != 1 || fs[0].RuleID != "generic-secret" {
		t.Fatalf("got %s, want one generic-secret finding", describe(fs))
	}
}

func TestOverlap(t *testing.T) {
	ghp := githubToken("ghp_", "overlap")
	jwt := fakeJWT("overlap")
	aws := fake("overlapaws", csB64, 40)
	custom := []Rule{
		{ID: "short", Class: "a", Keywords: []string{"abc"}, Pattern: `abc[0-9]{3}`},
		{ID: "long", Class: "b", Keywords: []string{"abc"}, Pattern: `abc[0-9]{3}[a-z]{3}`},
		{ID: "generic-long", Class: "c", Keywords: []string{"key="}, Pattern: `key=(\S+)`, Generic: true},
		{ID: "left", Class: "d", Keywords: []string{"xy"}, Pattern: `xy[0-9]{4}`},
		{ID: "right", Class: "e", Keywords: []string{"98"}, Pattern: `[0-9]{4}98zz`},
	}
	cd, err := New(Config{Rules: custom})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		d     *Detector
		input string
		want  []string // "rule:secret"
	}{
		{name: "longer wins", d: cd, input: "abc123def", want: []string{"long:abc123def"}},
		{name: "specific beats longer generic", d: cd, input: "key=abc123def!", want: []string{"long:abc123def"}},
		{name: "generic alone", d: cd, input: "key=zzz", want: []string{"generic-long:zzz"}},
		{name: "partial overlap longer kept", d: cd, input: "xy129898zz", want: []string{"right:129898zz"}},
		{name: "github beats generic", d: newDefault(t), input: "token=" + ghp, want: []string{"github-pat:" + ghp}},
		{name: "jwt beats bearer", d: newDefault(t), input: "Authorization: Bearer " + jwt, want: []string{"jwt:" + jwt}},
		{name: "aws beats generic", d: newDefault(t), input: "AWS_SECRET_ACCESS_KEY=" + aws, want: []string{"aws-secret-access-key:" + aws}},
		{name: "github inside uri", d: newDefault(t), input: "https://x-access-token:" + ghp + "@github.com/o/r", want: []string{"github-pat:" + ghp}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := tt.d.Scan([]byte(tt.input))
			var got []string
			for _, f := range fs {
				got = append(got, f.RuleID+":"+tt.input[f.Start:f.End])
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %d findings %s, want %d", len(got), describe(fs), len(tt.want))
				for i := range tt.want {
					if i >= len(got) || got[i] != tt.want[i] {
						t.Errorf("finding %d differs from want (rule %s)", i, strings.SplitN(tt.want[i], ":", 2)[0])
					}
				}
			}
		})
	}
}

func TestOffsets(t *testing.T) {
	d := newDefault(t)
	ghp := githubToken("ghp_", "offsets")
	akid := "AKIA" + fake("offsets", csUpper, 16)
	pw := fake("offsetspw", csAlnum, 16)
	pem := fakePEM("EC PRIVATE KEY", "offsets", 3, "\n")
	parts := []struct{ before, secret, rule string }{
		{"Here is my config:\nGITHUB_TOKEN=", ghp, "github-pat"},
		{"\naws_access_key_id = ", akid, "aws-access-key-id"},
		{"\nDATABASE_URL=postgres://app:", pw, "uri-password"},
		{"@db:5432/app\n", pem, "private-key"},
	}
	var text strings.Builder
	var want []Finding
	for _, p := range parts {
		text.WriteString(p.before)
		s := text.Len()
		text.WriteString(p.secret)
		want = append(want, Finding{RuleID: p.rule, Start: s, End: text.Len()})
	}
	text.WriteString("\nthanks!")
	fs := d.Scan([]byte(text.String()))
	if len(fs) != len(want) {
		t.Fatalf("got %s, want %d findings", describe(fs), len(want))
	}
	for i := range want {
		if fs[i].RuleID != want[i].RuleID || fs[i].Start != want[i].Start || fs[i].End != want[i].End {
			t.Errorf("finding %d: got %s[%d:%d], want %s[%d:%d]", i, fs[i].RuleID, fs[i].Start, fs[i].End,
				want[i].RuleID, want[i].Start, want[i].End)
		}
	}
}

// TestWindowRetry checks that a match running past a small window is widened, not cut.
func TestWindowRetry(t *testing.T) {
	long := strings.Repeat("abcdefghij", 30)
	rules := []Rule{
		{ID: "ctx", Class: "secret", Keywords: []string{"key="}, Pattern: `(?:my)?key=(\w+)`, Before: 1, After: 4},
		{ID: "anch", Class: "secret", Keywords: []string{"tok_"}, Pattern: `tok_[a-z]+`, Anchored: true, After: 4},
		{ID: "cap", Class: "secret", Keywords: []string{"cap_"}, Pattern: `cap_[a-z]{1,8}`, Anchored: true, After: 4},
	}
	d, err := New(Config{Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, input, want string // want "rule:secret" or ""
	}{
		{name: "forward", input: "x key=" + long + " y", want: "ctx:" + long},
		{name: "backward context", input: "x mykey=abc", want: "ctx:abc"},
		{name: "anchored forward", input: "tok_" + long + "!", want: "anch:tok_" + long},
		{name: "anchored word start", input: "xtok_abc"},
		{name: "longer than pattern allows", input: "cap_" + long, want: "cap:cap_abcdefgh"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := d.Scan([]byte(tt.input))
			got := ""
			if len(fs) > 0 {
				got = fs[0].RuleID + ":" + tt.input[fs[0].Start:fs[0].End]
			}
			if len(fs) > 1 || got != tt.want {
				t.Errorf("got %s, want %d finding(s)", describe(fs), min(1, len(tt.want)))
			}
		})
	}
}

func TestScanField(t *testing.T) {
	d := newDefault(t)
	tok := fake("field", csAlnum, 32)
	ghp := githubToken("ghp_", "field")
	tests := []struct {
		name  string
		key   string
		value string
		want  []string // "rule:secret"
	}{
		{name: "client secret", key: "client_secret", value: tok, want: []string{"generic-json-secret:" + tok}},
		{name: "password", key: "password", value: "Tr0ub4dor&3x", want: []string{"generic-json-password:Tr0ub4dor&3x"}},
		{name: "separator and case insensitive", key: "Api-Key", value: tok, want: []string{"generic-json-secret:" + tok}},
		{name: "camel case", key: "accessToken", value: tok, want: []string{"generic-json-secret:" + tok}},
		{name: "surrounding space trimmed", key: "secret", value: "  " + tok + "\n", want: []string{"generic-json-secret:" + tok}},
		{name: "specific wins", key: "token", value: ghp, want: []string{"github-pat:" + ghp}},
		{name: "pattern in other key", key: "content", value: "use " + ghp + " please", want: []string{"github-pat:" + ghp}},
		{name: "placeholder", key: "api_key", value: "your-api-key-here"},
		{name: "too short", key: "password", value: "abc"},
		{name: "url", key: "token_url", value: "https://auth.example.com/token"},
		{name: "url under secret key", key: "token", value: "https://auth.corp.test/oauth/token"},
		{name: "path", key: "private_key", value: "/home/me/.ssh/id_rsa"},
		{name: "boolean", key: "auth", value: "true"},
		{name: "number", key: "secret", value: "123456789"},
		{name: "not a secret key", key: "description", value: tok},
		{name: "plural tokens", key: "max_tokens", value: "4096"},
		{name: "empty", key: "password", value: ""},
		{name: "template", key: "password", value: "{{ .Values.db.password }}"},
		{name: "prose", key: "secret", value: "the secret is out there"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := d.ScanField(tt.key, []byte(tt.value))
			var got []string
			for _, f := range fs {
				got = append(got, f.RuleID+":"+tt.value[f.Start:f.End])
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %s, want %d findings", describe(fs), len(tt.want))
			}
		})
	}
}

func TestScanEmptyAndNil(t *testing.T) {
	d := newDefault(t)
	for _, in := range [][]byte{nil, {}, []byte("x")} {
		if fs := d.Scan(in); fs != nil {
			t.Errorf("Scan(%q): got %s, want nil", in, describe(fs))
		}
	}
	fieldOnly, err := New(Config{Rules: []Rule{{ID: "f", Class: "secret", Field: field(kindSecret), Keywords: nil}}})
	if err != nil {
		t.Fatal(err)
	}
	if fs := fieldOnly.Scan([]byte("token=abcdefgh12345678")); fs != nil {
		t.Errorf("field-only detector: got %s, want nil", describe(fs))
	}
}

func TestScanConcurrent(t *testing.T) {
	d := newDefault(t)
	text := []byte(benchText(20<<10, true))
	want := d.Scan(text)
	if len(want) == 0 {
		t.Fatal("got no findings in planted text, want some")
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				if got := d.Scan(text); !slices.Equal(got, want) {
					t.Errorf("concurrent scan: got %d findings, want %d", len(got), len(want))
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestScanNoAllocs(t *testing.T) {
	d := newDefault(t)
	tests := []struct {
		name string
		text string
	}{
		{name: "no keywords", text: strings.Repeat("The quick brown fox jumps over the lazy dog. ", 200)},
		{name: "keywords but no secrets", text: benchText(16<<10, false)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.text)
			if fs := d.Scan(in); len(fs) != 0 {
				t.Fatalf("got %s, want no findings", describe(fs))
			}
			if n := testing.AllocsPerRun(20, func() { d.Scan(in) }); n != 0 {
				t.Errorf("got %v allocations per Scan, want 0", n)
			}
		})
	}
}

func TestGitHubChecksum(t *testing.T) {
	// Vectors computed independently: base62 (0-9A-Za-z) of zlib.crc32 of the 30
	// characters after the prefix, zero-padded to 6.
	tests := []struct {
		name   string
		random string
		want   string
	}{
		{name: "letters", random: "abcdefghijklmnopqrstuvwxyzABCD", want: "4dNndU"},
		{name: "zeros", random: "000000000000000000000000000000", want: "2C8GjS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := base62CRC([]byte(tt.random))
			if string(got[:]) != tt.want {
				t.Errorf("got %s, want %s", got[:], tt.want)
			}
			if !githubChecksumOK([]byte("ghp_" + tt.random + tt.want)) {
				t.Error("got checksum rejected, want accepted")
			}
		})
	}
	tok := []byte(githubToken("ghp_", "flip"))
	for i := 4; i < len(tok); i++ {
		b := slices.Clone(tok)
		b[i] ^= 0x20 // flip case or digit/symbol
		if githubChecksumOK(b) {
			t.Errorf("byte %d changed: got checksum accepted, want rejected", i)
		}
	}
}

func TestEntropy(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want float64
	}{
		{name: "empty", in: "", want: 0},
		{name: "one symbol", in: "aaaa", want: 0},
		{name: "two symbols", in: "abab", want: 1},
		{name: "sixteen symbols", in: "0123456789abcdef", want: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := entropy([]byte(tt.in)); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestKeyKind(t *testing.T) {
	tests := []struct {
		key  string
		want int
	}{
		{"DB_PASSWORD", kindPassword}, {"password", kindPassword}, {"dbPass", kindPassword},
		{"DB_PASS", kindPassword}, {"pass", kindPassword}, {"passwd", kindPassword},
		{"PGPASSWORD", kindPassword}, {"password2", kindPassword}, {"--password", kindPassword},
		{"bypass", kindNone}, {"compass", kindNone}, {"password_hash", kindNone},
		{"client_secret", kindSecret}, {"API_TOKEN", kindSecret}, {"apiKey", kindSecret},
		{"X-Api-Key", kindSecret}, {"aws_secret_access_key", kindSecret}, {"auth", kindSecret},
		{"private_key", kindSecret}, {"credentials", kindSecret},
		{"max_tokens", kindNone}, {"tokenizer", kindNone}, {"token_type", kindNone},
		{"nextPageToken", kindNone}, {"author", kindNone}, {"oauth", kindNone},
		{"secretName", kindNone}, {"", kindNone}, {strings.Repeat("a", 65) + "token", kindNone},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := keyKind([]byte(tt.key)); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

// TestNoSecretInErrors checks that a rule's samples never reach New's errors.
func TestNoSecretInErrors(t *testing.T) {
	tok := githubToken("ghp_", "errors")
	_, err := New(Config{Rules: []Rule{{ID: "bad", Class: "BAD", Pattern: "(", TruePositives: []Sample{tp("@@", tok)}}}})
	if err == nil {
		t.Fatal("got nil error, want one")
	}
	if strings.Contains(err.Error(), tok) {
		t.Error("got the sample secret in the error text, want it absent")
	}
}

func TestPrefilter(t *testing.T) {
	kws := []string{"he", "she", "his", "hers", "sk", "a_b", "://", "secret", "secret_key"}
	p := newPrefilter(kws)
	for _, text := range []string{
		"uSHErs AhiS sk", "A_B a_b a-b a\x7fb", "https://x", "SECRET_KEY secretkey", "sk", "xsk", "he",
		"", "s", "ushers\nsk\n", strings.Repeat("hehe", 5),
	} {
		var got []string
		p.scan([]byte(text), func(k, start int) { got = append(got, fmt.Sprintf("%s@%d", kws[k], start)) })
		var want []string
		low := strings.ToLower(text)
		for i := 0; i < len(low); i++ {
			for _, kw := range kws {
				if strings.HasPrefix(low[i:], kw) {
					want = append(want, fmt.Sprintf("%s@%d", kw, i))
				}
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("text %q: got %v, want %v", text, got, want)
		}
	}
}

func TestOwnKeywordValues(t *testing.T) {
	d := newDefault(t)
	tests := []struct {
		name  string
		input string
		want  int // findings
	}{
		{name: "repeated key names", input: strings.Repeat("aws_secret=", 2000), want: 0},
		{name: "repeated quoted key", input: strings.Repeat(`password="`, 2000), want: 0},
		{name: "value is key name", input: "API_TOKEN=my_token_x", want: 0},
		{name: "keyword inside a real value", input: `API_TOKEN="token-Ab3xY9qZ7kLm2Qp"`, want: 1},
		{name: "password containing pass", input: "DB_PASSWORD=Passage-Tiger-42x", want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := d.Scan([]byte(tt.input)); len(got) != tt.want {
				t.Errorf("got %d findings %s, want %d", len(got), describe(got), tt.want)
			}
		})
	}
}

// A secret after a megabyte dense with its rule's keyword is still found: past its
// work budget a rule scans the rest of the input in one pass instead of a window per
// hit, and must not lose what the windows would have found.
func TestDenseKeywordsKeepFindings(t *testing.T) {
	d, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	checked, eligible := 0, 0
	for _, r := range d.Rules() {
		if len(r.Keywords) == 0 || len(r.TruePositives) == 0 || r.TruePositives[0].Key != "" || r.Match != nil {
			continue
		}
		if eligible++; eligible%3 != 0 { // a third of the catalog, spread over every area
			continue
		}
		tp := r.TruePositives[0]
		kw := r.Keywords[0]
		input := []byte(strings.Repeat(kw+" ", (64<<10)/(len(kw)+1)) + "\n" + tp.Text)
		found := false
		at := bytes.LastIndex(input, []byte(tp.Secret))
		for _, f := range d.Scan(input) {
			if f.Start <= at && at+len(tp.Secret) <= f.End {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: its sample's secret after a run of %q was not found", r.ID, kw)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no rule checked")
	}
}

// A real key is never taken for a placeholder because its random body happens to
// spell xxxxx (seen once in CI: a P-256 key with "XXXXX" in its base64); long x runs
// and x-dominated short values still are placeholders.
func TestExampleMarkersVersusRandomKeys(t *testing.T) {
	d, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	pem := fakePEM("EC PRIVATE KEY", "xrun", 3, "\n")
	pem = strings.Replace(pem, pem[60:65], "XXXXX", 1)
	text := "and this key:\n" + pem + "\nThanks!"
	found := false
	for _, f := range d.Scan([]byte(text)) {
		if f.RuleID == "private-key" && text[f.Start:f.End] == pem {
			found = true
		}
	}
	if !found {
		t.Errorf("a private key whose body holds XXXXX was not found")
	}
	for _, v := range []string{"sk-proj-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "xxxxxx12", "AKIAXXXXXXXXXXXXXXXX"} {
		if !looksExample([]byte(v)) {
			t.Errorf("%q: want a placeholder", v)
		}
	}
}
