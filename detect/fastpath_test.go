package detect

import (
	"bytes"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Tests of the shortcuts that keep scanning fast: each must give exactly the answer
// of the plain computation it stands for.

// naiveHits lists "keyword index@start" for every case-folded occurrence of kws.
func naiveHits(kws []string, in []byte) []int {
	var out []int
	for i := range in {
		for k, kw := range kws {
			if hasPrefixFold(in[i:], kw) {
				out = append(out, k<<32|i)
			}
		}
	}
	slices.Sort(out)
	return out
}

func prefilterHits(p *prefilter, in []byte) []int {
	var out []int
	p.scan(in, func(k, start int) { out = append(out, k<<32|start) })
	slices.Sort(out)
	return out
}

// FuzzPrefilter checks the prefilter against a naive search, with the default
// catalog's keywords and one more from the fuzzer.
func FuzzPrefilter(f *testing.F) {
	f.Add([]byte("AWS_SECRET_ACCESS_KEY=x ghp_ SK0 sk -----BEGIN"), "xy")
	f.Add([]byte(benchText(1024, true)), "token")
	f.Add([]byte("eyJ"), "eyj")
	f.Add([]byte("ab\x00\x00"), "b\x00")
	d, err := New(Config{})
	if err != nil {
		f.Fatal(err)
	}
	base := slices.Clone(d.pf.kws)
	f.Fuzz(func(t *testing.T, in []byte, extra string) {
		kws, p := base, d.pf
		if extra = strings.ToLower(extra); len(extra) >= 2 && len(extra) <= 40 && !slices.Contains(kws, extra) {
			kws = append(slices.Clone(base), extra)
			p = newPrefilter(kws)
		}
		if got, want := prefilterHits(p, in), naiveHits(kws, in); !slices.Equal(got, want) {
			t.Fatalf("got %d hits, want %d", len(got), len(want))
		}
	})
}

// TestPrefilterEdges runs the prefilter over every start and length of texts that
// put keywords at the ends of the input and across the 8-byte probe blocks.
func TestPrefilterEdges(t *testing.T) {
	kws := []string{"sk", "pat", "ghp_", "secret_access_key", "-----begin", "a\x00"}
	p := newPrefilter(kws)
	text := []byte("skSKpatGHP_x-----BEGIN secret_ACCESS_key pa sk a\x00 pat")
	for i := 0; i <= len(text); i++ {
		for j := i; j <= len(text); j++ {
			in := text[i:j]
			if got, want := prefilterHits(p, in), naiveHits(kws, in); !slices.Equal(got, want) {
				t.Fatalf("text[%d:%d]: got %v, want %v", i, j, got, want)
			}
		}
	}
}

// slowKeyKind is keyKind without its shortcut: the normalized key against every stem.
func slowKeyKind(key []byte) int {
	if len(key) == 0 || len(key) > 64 {
		return kindNone
	}
	var buf [64]byte
	return stemKind(normKey(&buf, key), key)
}

// randomKey builds key names from stems, common words, separators and digits.
func randomKey(r *rand.Rand) string {
	parts := []string{"password", "Passwd", "PASS", "pwd", "secret", "Token", "api", "KEY", "key", "auth",
		"credential", "credentials", "access", "private", "client", "db", "type", "text", "name", "id",
		"bypass", "next", "page", "oauth", "signing", "cache", "public", "x", "_", "-", ".", "2", "9", " ", "ſ"}
	var b strings.Builder
	for n := 1 + r.IntN(4); n > 0; n-- {
		b.WriteString(parts[r.IntN(len(parts))])
	}
	return b.String()
}

// TestStemKeyExact checks that the tail test ScanField makes before the Field rules
// marked onlyStemKeys never skips a key they would judge.
func TestStemKeyExact(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var fields []Rule
	for _, rule := range DefaultRules() {
		if rule.onlyStemKeys {
			fields = append(fields, rule)
		}
	}
	if len(fields) != 3 {
		t.Fatalf("got %d rules marked onlyStemKeys, want 3", len(fields))
	}
	values := [][]byte{[]byte(fake("stemkey1", csAlnum, 32)), []byte(fake("stemkey2", csHex, 64)), []byte(fake("stemkey3", csB64, 24))}
	skipped := 0
	for i := 0; i < 20000; i++ {
		key := randomKey(r)
		if got, want := keyKind([]byte(key)), slowKeyKind([]byte(key)); got != want {
			t.Fatalf("key %q: got kind %d, want %d", key, got, want)
		}
		var buf [64]byte
		norm := normKey(&buf, []byte(key))
		if len(key) <= 64 {
			var want uint32
			if n := len(norm); n >= 3 {
				want = packTail(norm[n-3], norm[n-2], norm[n-1])
			}
			if got, ok := keyTail(key); ok != (len(norm) >= 3) || ok && got != want {
				t.Fatalf("key %q: got tail %06x (%v), want %06x of %q", key, got, ok, want, norm)
			}
			if got, want := tailIsKey(key), bytes.HasSuffix(norm, []byte("key")); got != want {
				t.Fatalf("key %q: got tailIsKey %v, want %v", key, got, want)
			}
		}
		if stemKey(key) {
			continue
		}
		skipped++
		if slowKeyKind([]byte(key)) != kindNone {
			t.Fatalf("key %q: stemKey false but the key has a kind", key)
		}
		if namedKey([]byte(key)) {
			t.Fatalf("key %q: stemKey false but namedKey true", key)
		}
		for _, rule := range fields {
			for _, v := range values {
				if _, _, ok := rule.Field(key, v); ok {
					t.Fatalf("key %q: stemKey false but rule %s finds a secret", key, rule.ID)
				}
			}
		}
	}
	if skipped == 0 || skipped == 20000 {
		t.Fatalf("got %d of 20000 keys skipped, want some but not all", skipped)
	}
}

// TestMarkerIndex checks markerIndex.in against bytes.Contains for every marker.
func TestMarkerIndex(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, set := range [][][]byte{placeholderMarkers, exampleMarkers} {
		x := newMarkerIndex(set)
		for _, m := range set {
			if len(m) < 2 {
				t.Fatalf("marker %q: got %d bytes, want at least 2", m, len(m))
			}
		}
		for i := 0; i < 5000; i++ {
			var b []byte
			for n := r.IntN(40); n > 0; n-- {
				if r.IntN(30) == 0 {
					m := set[r.IntN(len(set))]
					b = append(b, m[:1+r.IntN(len(m))]...) // a marker or a prefix of one
				} else {
					b = append(b, "abcdexyz_-.<{$*9"[r.IntN(16)])
				}
			}
			want := slices.ContainsFunc(set, func(m []byte) bool { return bytes.Contains(b, m) })
			if got := x.in(b); got != want {
				t.Fatalf("text %q: got %v, want %v", b, got, want)
			}
		}
	}
}

// slowEntropy is entropy summed over all 256 byte counts, in order.
func slowEntropy(b []byte) float64 {
	if len(b) == 0 {
		return 0
	}
	var counts [256]uint32
	for _, c := range b {
		counts[c]++
	}
	sum := 0.0
	for _, k := range counts {
		if k < uint32(len(cLog2C)) {
			sum += cLog2C[k]
		} else {
			sum += float64(k) * math.Log2(float64(k))
		}
	}
	n := float64(len(b))
	return math.Max(0, math.Log2(n)-sum/n)
}

// TestEntropyExact checks that entropy, which visits only the byte values present,
// returns bit for bit what summing every count in order returns (thresholds compare
// against it).
func TestEntropyExact(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for i := 0; i < 5000; i++ {
		b := make([]byte, r.IntN(600))
		alpha := 1 + r.IntN(256)
		for j := range b {
			b[j] = byte(r.IntN(alpha))
		}
		if got, want := entropy(b), slowEntropy(b); got != want {
			t.Fatalf("len %d, alphabet %d: got %v, want %v", len(b), alpha, got, want)
		}
	}
}

// TestShortcutsSameFindings compares the default detector with one whose rules have
// their shortcut flags cleared (keyHits, onlyStemKeys): every sample of the catalog,
// agent text and assignments built to put several keywords in one key name must give
// the same findings.
func TestShortcutsSameFindings(t *testing.T) {
	fast := newDefault(t)
	rules := DefaultRules()
	for i := range rules {
		rules[i].keyHits, rules[i].onlyStemKeys = false, false
	}
	slow, err := New(Config{Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	type input struct{ key, text string }
	var inputs []input
	for _, r := range rules {
		for _, s := range append(r.TruePositives, r.FalsePositives...) {
			inputs = append(inputs, input{s.Key, s.Text}, input{"", s.Text})
		}
	}
	inputs = append(inputs, input{"", benchText(64<<10, true)})
	r := rand.New(rand.NewPCG(11, 12))
	for i := 0; i < 3000; i++ {
		key := randomKey(r)
		val := fake("same"+key, csB64, 12+r.IntN(40))
		ops := []string{"=", ": ", " = '", "\": \"", "=\"", " := "}
		text := key + ops[r.IntN(len(ops))] + val + "\n" + strings.ToUpper(key) + "=" + val
		inputs = append(inputs, input{"", text}, input{key, val})
	}
	for _, in := range inputs {
		got, want := fast.Scan([]byte(in.text)), slow.Scan([]byte(in.text))
		if in.key != "" {
			got, want = fast.ScanField(in.key, []byte(in.text)), slow.ScanField(in.key, []byte(in.text))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("key %q, text of %d bytes: got %s, want %s", in.key, len(in.text), describe(got), describe(want))
		}
	}
}

// TestAWSSecretKeyNames checks that the aws-secret-access-key rule, which skips the
// aws_secret hit of AWS_SECRET_ACCESS_KEY for its secret_access_key hit, still finds
// the secret after every spelling of the key name.
func TestAWSSecretKeyNames(t *testing.T) {
	d := newDefault(t)
	sec := fake("awsnames", csB64, 40)
	for _, key := range []string{
		"AWS_SECRET_ACCESS_KEY", "aws_secret_access_key", "aws-secret-access-key", "AwsSecretAccessKey",
		"aws_secret_access-key", "aws.secret_access_key", "AWS_SECRET_KEY", "awsSecret", "SECRET_ACCESS_KEY",
		"AWS_SECRET_ACCESS_KEY_FOR_THE_PROD_ACCOUNT", // 22 bytes past ACCESS_KEY: only the later hit's tail fits 30
	} {
		in := []byte(key + "=" + sec + "\n")
		fs := d.Scan(in)
		if len(fs) != 1 || fs[0].RuleID != "aws-secret-access-key" || string(in[fs[0].Start:fs[0].End]) != sec {
			t.Errorf("key %s: got %s, want the secret by aws-secret-access-key", key, describe(fs))
		}
	}
}

// checkMatchAgainstPattern checks that rule id's Match finds, at every keyword hit of
// random texts made of parts (case-folded unless the rule is case-sensitive), what
// pattern (anchored at the hit, its group 1 the secret) finds there, at a word start
// only if wordStart: the pattern the matcher replaced.
func checkMatchAgainstPattern(t *testing.T, rules []Rule, id, pattern string, wordStart bool, parts []string) {
	t.Helper()
	re := regexp.MustCompile(`^(?:` + pattern + `)`)
	i := slices.IndexFunc(rules, func(r Rule) bool { return r.ID == id })
	if i < 0 || rules[i].Match == nil {
		t.Fatalf("no rule %s with a Match", id)
	}
	r := rules[i]
	rng := rand.New(rand.NewPCG(1, 2))
	n := 0
	for range 20000 {
		var b strings.Builder
		for k := rng.IntN(30); k >= 0; k-- {
			b.WriteString(parts[rng.IntN(len(parts))])
		}
		in := []byte(b.String())
		find := in
		if !r.CaseSensitive {
			find = bytes.ToLower(in) // ASCII parts: offsets stay put
		}
		for _, kw := range r.Keywords {
			for off := 0; ; {
				i := bytes.Index(find[off:], []byte(kw))
				if i < 0 {
					break
				}
				ks, ke := off+i, off+i+len(kw)
				off = ks + 1
				s, e, ok := r.Match(in, ks, ke)
				var ws, we int
				wok := false
				if !wordStart || ks == 0 || !isWordChar(in[ks-1]) {
					if m := re.FindSubmatchIndex(in[ks:]); m != nil {
						ws, we, wok = ks+m[2], ks+m[3], true
					}
				}
				if ok != wok || ok && (s != ws || e != we) {
					t.Fatalf("%q at %d: Match %v %d %d, pattern %v %d %d", in, ks, ok, s, e, wok, ws, we)
				}
				n++
			}
		}
	}
	if n < 10000 {
		t.Fatalf("only %d hits compared", n)
	}
}

// The matchers that replaced patterns find what those found: text made of a keyword
// repeated cost the patterns a window search on every hit, then Go's NFA over a
// bounded repetition. The Authorization rules are their patterns tried once at the
// hit (atKeyword).
func TestShapeMatchersMatchPatterns(t *testing.T) {
	checkMatchAgainstPattern(t, aiRules(), "openai-api-key",
		`(sk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{20,300})(?:[^A-Za-z0-9_-]|$)`, true,
		[]string{"sk-proj-", "sk-svcacct-", "sk-admin-", "sk-None-", "a", "Z", "0", "_", "-", " ", "=", ".", "\n", "aB3", strings.Repeat("x", 50), strings.Repeat("Q9_", 40), "sk-", "proj"})
	checkMatchAgainstPattern(t, vcsRules(), "gitlab-pat",
		`(glpat-[A-Za-z0-9_-]{20,64}(?:\.[0-9a-z]{2}\.[0-9a-z]{7,9})?)(?:[^A-Za-z0-9_-]|$)`, true,
		[]string{"glpat-", "a", "Z", "0", "_", "-", " ", ".", ".0a.", ".1b.", ".A1.", "abcdef", "abc1234", "xyz98765", "a1b2c3d4e", "0123456789", "\n", strings.Repeat("x", 19), strings.Repeat("Q9_", 10), "gl"})
	auth := []string{"Authorization", "authorization", "AUTHORIZATION", ":", "=", " ", "  ", "\"", "'", "\t", "Basic ", "basic", "BASIC ",
		"Token ", "token", "dXNlcjpwYXNz", "Zm9vYmFy", "Zm9vYmF", "abc+/", "Zm9v", "==", "x", "-", "._~", "\n", ",",
		"a.b~c/d=e-f_g+h1", "a.b~c/d=e-f_g+h", strings.Repeat("Ab9+", 6)}
	checkMatchAgainstPattern(t, contextRules(), "http-basic-auth",
		`(?i)authorization["']?\s*[:=]\s*["']?basic\s+(?P<secret>[A-Za-z0-9+/]{8,}={0,2})(?:[^A-Za-z0-9+/=]|$)`, false, auth)
	checkMatchAgainstPattern(t, contextRules(), "http-token-auth",
		`(?i)authorization["']?\s*[:=]\s*["']?token\s+(?P<secret>[A-Za-z0-9._~+/=-]{16,})(?:[^A-Za-z0-9._~+/=-]|$)`, false, auth)
}
