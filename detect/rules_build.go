package detect

import (
	"encoding/base64"
	"regexp"
	"regexp/syntax"
	"strings"
)

// Builders shared by the rules_*.go catalog files.

// Token alphabets, as the bytes that may not follow a token (tokPattern): a token
// followed by one more byte of its own alphabet is longer than the provider issues,
// so it is something else.
const (
	tailAlnum  = `A-Za-z0-9`
	tailWord   = `A-Za-z0-9_`
	tailURL    = `A-Za-z0-9_-`
	tailURLEq  = `A-Za-z0-9_=-`
	tailB64    = `A-Za-z0-9+/=`
	tailB64URL = `A-Za-z0-9+/=_-`
	tailDotted = `A-Za-z0-9_.-`
)

// tokPattern is the Pattern of a token rule: body (a regular expression that starts
// with the token's prefix) is the secret and must not be followed by a byte of tail.
func tokPattern(body, tail string) string {
	return `(?P<secret>` + body + `)(?:[^` + tail + `]|$)`
}

// keyedPattern is the Pattern of a context rule: a key whose name holds a provider
// word (names, any case) and then a credential word (key, token, secret...), an
// assignment (env, YAML, JSON, TOML, code, --flag=, header), then the value.
func keyedPattern(names, value, tail string) string {
	return `(?i:(?:` + names + `)[\w.-]{0,24}?(?:key|token|secret|pass(?:word)?|pat|auth|credential)s?)[\w.-]{0,12}?["']?\s*(?::=|=>|=|:)\s*["']?` +
		`(?P<secret>` + value + `)(?:[^` + tail + `]|$)`
}

// tokenRule returns an Anchored rule for a token that starts with one of the
// case-sensitive prefixes kws; body and tail make its Pattern (see tokPattern) and
// maxLen bounds the token's length, sizing the window.
//
// A prefix whose first bytes are common in prose and code ("AGE-", "pp" of "apply")
// is written "AGE-|SECRET-KEY-1": the part after the bar is the keyword, which keeps
// the prefilter quiet, and the part before it must precede the keyword.
func tokenRule(id, class, desc string, kws []string, body, tail string, maxLen int, minH float64) Rule {
	r := Rule{
		ID: id, Class: class, Description: desc,
		Keywords: kws, CaseSensitive: true, Anchored: true,
		Pattern: tokPattern(body, tail), Before: 1, After: maxLen + 8,
		MinEntropy: minH,
	}
	heads := map[string]string{} // keyword -> bytes that precede it
	for i, kw := range kws {
		if h, k, ok := strings.Cut(kw, "|"); ok {
			heads[k] = h
			r.Keywords[i] = k
		}
	}
	if len(heads) == 0 {
		return r
	}
	re, err := regexp.Compile(`^(?:` + r.Pattern + `)`)
	if err != nil {
		return r // New reports it
	}
	g, window := re.SubexpIndex("secret"), r.After
	r.Anchored, r.Pattern, r.Before, r.After = false, "", 0, 0
	r.Match = func(in []byte, ks, ke int) (int, int, bool) {
		s := ks - len(heads[string(in[ks:ke])])
		if s < 0 || string(in[s:ks]) != heads[string(in[ks:ke])] || s > 0 && isWordChar(in[s-1]) {
			return 0, 0, false
		}
		hi := min(len(in), s+window)
		m := re.FindSubmatchIndex(in[s:hi])
		if m == nil || m[2*g] < 0 || m[1] == hi-s && hi < len(in) {
			return 0, 0, false
		}
		return s + m[2*g], s + m[2*g+1], true
	}
	return r
}

// keyedRule returns a context rule (see keyedPattern) for an unprefixed credential:
// kws are the provider words, lower case, that must occur in the key, each at the
// start of one of names.
func keyedRule(id, class, desc string, kws []string, names, value, tail string, minH float64) Rule {
	return atKeyword(Rule{
		ID: id, Class: class, Description: desc,
		Keywords: kws, Pattern: keyedPattern(names, value, tail),
		After: 96 + maxMatchLen(value), MinEntropy: minH,
	})
}

// maxMatchLen returns the most bytes a match of the ASCII pattern re can take, or 256
// when that is unbounded or re does not parse.
func maxMatchLen(re string) int {
	p, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return 256
	}
	var walk func(*syntax.Regexp) int
	walk = func(r *syntax.Regexp) int {
		switch r.Op {
		case syntax.OpLiteral:
			return len(r.Rune)
		case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
			return 1
		case syntax.OpCapture, syntax.OpQuest:
			return walk(r.Sub[0])
		case syntax.OpRepeat:
			if r.Max < 0 {
				return -1
			}
			if n := walk(r.Sub[0]); n >= 0 {
				return n * r.Max
			}
			return -1
		case syntax.OpConcat, syntax.OpAlternate:
			total := 0
			for _, sub := range r.Sub {
				n := walk(sub)
				if n < 0 {
					return -1
				}
				if r.Op == syntax.OpConcat {
					total += n
				} else {
					total = max(total, n)
				}
			}
			return total
		case syntax.OpStar, syntax.OpPlus:
			return -1
		}
		return 0 // empty, anchors, boundaries
	}
	if n := walk(p); n >= 0 {
		return n
	}
	return 256
}

// atKeyword turns a Pattern rule whose pattern starts at its keyword into a Match
// rule that tries the pattern once, at each keyword hit, on a window of r.After
// bytes (widened while a match runs to its edge). Unlike Anchored it does not require
// the keyword to begin a word, so MY_DATADOG_API_KEY is seen at "datadog"; unlike a
// Pattern window it does not search: one anchored attempt per hit. A pattern that
// does not compile is left in place for New to report.
func atKeyword(r Rule) Rule {
	re, err := regexp.Compile(`^(?:` + r.Pattern + `)`)
	if err != nil {
		return r
	}
	g := re.SubexpIndex("secret")
	if g < 0 {
		return r
	}
	window := r.After
	r.Pattern, r.Before, r.After = "", 0, 0
	r.Match = func(in []byte, ks, _ int) (int, int, bool) {
		for after := window; ; after *= 4 {
			hi := min(len(in), ks+after)
			m := re.FindSubmatchIndex(in[ks:hi])
			switch {
			case m == nil || m[2*g] < 0:
				return 0, 0, false
			case m[1] == hi-ks && hi < len(in):
				if after >= 16*window {
					return 0, 0, false
				}
				continue
			}
			return ks + m[2*g], ks + m[2*g+1], true
		}
	}
	return r
}

// sampled sets a rule's samples: tps and, as false positives, fps.
func sampled(r Rule, tps []Sample, fps ...string) Rule {
	r.TruePositives = tps
	r.FalsePositives = fp(fps...)
	return r
}

// validated sets a rule's Validate.
func validated(r Rule, v func([]byte) bool) Rule {
	r.Validate = v
	return r
}

// fakeUUID returns a fake lower case UUID (version 4 shape).
func fakeUUID(seed string) string {
	h := fake(seed, csHex, 32)
	return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:]
}

// b64url returns s in unpadded URL-safe base64.
func b64url(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// seg is one part of a token's shape for shapeMatcher: the literal lit, or a run of
// min to max bytes for which ok holds.
type seg struct {
	lit      string
	ok       func(byte) bool
	min, max int
}

func segRun(ok func(byte) bool, min, max int) seg { return seg{ok: ok, min: min, max: max} }
func segLit(s string) seg                         { return seg{lit: s} }

func isHexLower(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' }
func isUpperNum(c byte) bool { return isDigit(c) || c >= 'A' && c <= 'Z' }

// shapeMatcher returns a Matcher for a token that starts with its keyword (at the
// start of a word) and goes on with segs, each run taken greedily, then is not
// followed by a byte for which tail holds. It is the fast path for short, common
// prefixes ("sk_", "re_", "pat"), whose hits a regular expression would make costly.
func shapeMatcher(tail func(byte) bool, segs ...seg) Matcher {
	// The byte classes as tables: a run is read a byte at a time, and text made of
	// the keyword repeated reads one of max bytes at every hit.
	type run struct {
		lit      string
		ok       *[256]bool
		min, max int
	}
	table := func(f func(byte) bool) *[256]bool {
		var t [256]bool
		for c := range t {
			t[c] = f(byte(c))
		}
		return &t
	}
	runs := make([]run, len(segs))
	for k, s := range segs {
		runs[k] = run{lit: s.lit, min: s.min, max: s.max}
		if s.ok != nil {
			runs[k].ok = table(s.ok)
		}
	}
	end := table(tail)
	return func(in []byte, ks, ke int) (int, int, bool) {
		if ks > 0 && isWordChar(in[ks-1]) {
			return 0, 0, false
		}
		i := ke
		for _, s := range runs {
			if s.ok == nil {
				if len(in)-i < len(s.lit) || string(in[i:i+len(s.lit)]) != s.lit {
					return 0, 0, false
				}
				i += len(s.lit)
				continue
			}
			j, stop := i, min(len(in), i+s.max)
			for j < stop && s.ok[in[j]] {
				j++
			}
			if j-i < s.min {
				return 0, 0, false
			}
			i = j
		}
		if i < len(in) && end[in[i]] {
			return 0, 0, false
		}
		return ks, i, true
	}
}

// shapeRule returns a rule whose body is shapeMatcher(tail, segs...) after one of
// the case-sensitive prefixes kws.
func shapeRule(id, class, desc string, kws []string, tail func(byte) bool, minH float64, segs ...seg) Rule {
	return Rule{
		ID: id, Class: class, Description: desc,
		Keywords: kws, CaseSensitive: true,
		Match: shapeMatcher(tail, segs...), MinEntropy: minH,
	}
}
