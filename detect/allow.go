package detect

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Allowlist says what a Detector must not report. Values, Regexes and Stopwords judge
// the secret of a finding; Rules judges the rule that found it; Paths name JSON
// locations the caller must not scan at all (see Detector.SkipPath).
//
// A finding is dropped after overlap resolution, so it still claims its span: a
// broader rule (generic-secret, http-bearer-token) does not report the allowed text
// instead. That is what sets Rules apart from Config.Disabled: a disabled rule is
// gone, and other rules may still find what it would have found; an allowlisted rule
// still recognises its secrets, and they are let through.
//
// The same struct, without Rules and Paths, is a custom rule's own allowlist (see
// FileRule), which only stops that rule from firing.
type Allowlist struct {
	// Values are exact secrets never reported, whichever rule finds them.
	Values []string `yaml:"values"`
	// Regexes (RE2) are searched for in the secret of each finding, unanchored
	// (write ^...$ to match the whole secret); a match drops the finding.
	Regexes []string `yaml:"regexes"`
	// Stopwords drop a finding whose secret contains one of them, ASCII case folded,
	// like gitleaks stopwords.
	Stopwords []string `yaml:"stopwords"`
	// Rules lists rule IDs whose findings are never reported (see above for how this
	// differs from disabling a rule). Every ID must name a rule of the catalog.
	Rules []string `yaml:"rules"`
	// Paths are JSON paths in the syntax of proxy/walk's Field.Path
	// (messages[2].content[0].text, "#" entering JSON text held by a string) whose
	// strings are never scanned. "[*]" matches any array index and a "*" segment
	// any one member name: tools[*].input_schema, metadata.user_id, *.api_key. A
	// pattern covers the path it names and everything under it.
	Paths []string `yaml:"paths"`
}

// IsZero reports whether a allows nothing.
func (a Allowlist) IsZero() bool {
	return len(a.Values) == 0 && len(a.Regexes) == 0 && len(a.Stopwords) == 0 && len(a.Rules) == 0 && len(a.Paths) == 0
}

// merge returns a with the entries of b appended.
func (a Allowlist) merge(b Allowlist) Allowlist {
	return Allowlist{
		Values:    append(append([]string(nil), a.Values...), b.Values...),
		Regexes:   append(append([]string(nil), a.Regexes...), b.Regexes...),
		Stopwords: append(append([]string(nil), a.Stopwords...), b.Stopwords...),
		Rules:     append(append([]string(nil), a.Rules...), b.Rules...),
		Paths:     append(append([]string(nil), a.Paths...), b.Paths...),
	}
}

// allowlist is a compiled Allowlist.
type allowlist struct {
	values    map[string]struct{}
	regexes   []*regexp.Regexp
	stopwords [][]byte // lower case
	rules     map[string]bool
	paths     []pathPattern
}

// compileAllowlist checks and compiles a. where names it in errors ("allowlist",
// `rule "x": allowlist`); known reports whether a rule ID exists (nil: Rules must be
// empty). Errors never quote a value.
func compileAllowlist(a Allowlist, where string, known func(string) bool) (*allowlist, error) {
	if a.IsZero() {
		return nil, nil
	}
	var errs []error
	al := &allowlist{}
	for i, v := range a.Values {
		if v == "" {
			errs = append(errs, fmt.Errorf("%s: values[%d] is empty", where, i))
			continue
		}
		if al.values == nil {
			al.values = make(map[string]struct{}, len(a.Values))
		}
		al.values[v] = struct{}{}
	}
	for i, s := range a.Regexes {
		re, err := regexp.Compile(s)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: regexes[%d]: %w", where, i, err))
		case re.MatchString(""):
			errs = append(errs, fmt.Errorf("%s: regexes[%d] matches the empty string, so it would allow every finding", where, i))
		default:
			al.regexes = append(al.regexes, re)
		}
	}
	for i, w := range a.Stopwords {
		if w == "" {
			errs = append(errs, fmt.Errorf("%s: stopwords[%d] is empty", where, i))
			continue
		}
		al.stopwords = append(al.stopwords, []byte(strings.ToLower(w)))
	}
	for _, id := range a.Rules {
		switch {
		case known == nil:
			errs = append(errs, fmt.Errorf("%s: rules apply only to the global allowlist", where))
		case !known(id):
			errs = append(errs, fmt.Errorf("%s: rules: no rule %q", where, id))
		default:
			if al.rules == nil {
				al.rules = map[string]bool{}
			}
			al.rules[id] = true
		}
	}
	for i, p := range a.Paths {
		if known == nil {
			errs = append(errs, fmt.Errorf("%s: paths apply only to the global allowlist", where))
			break
		}
		pp, err := parsePathPattern(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: paths[%d]: %w", where, i, err))
			continue
		}
		al.paths = append(al.paths, pp)
	}
	return al, errors.Join(errs...)
}

// allows reports whether secret is allowed by value, regex or stopword.
func (al *allowlist) allows(secret []byte) bool {
	if _, ok := al.values[string(secret)]; ok {
		return true
	}
	for _, re := range al.regexes {
		if re.Match(secret) {
			return true
		}
	}
	if len(al.stopwords) > 0 {
		var buf [256]byte
		low := lower(buf[:], secret)
		for _, w := range al.stopwords {
			if bytes.Contains(low, w) {
				return true
			}
		}
	}
	return false
}

// filter drops, in place, the findings of fs that al allows.
func (al *allowlist) filter(input []byte, fs []Finding) []Finding {
	out := fs[:0]
	for _, f := range fs {
		if al.rules[f.RuleID] || al.allows(input[f.Start:f.End]) {
			continue
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// skipPath reports whether a path pattern covers path.
func (al *allowlist) skipPath(path string) bool {
	for _, p := range al.paths {
		if p.match(path) {
			return true
		}
	}
	return false
}

// withAllowlist returns r with its Validate extended to refuse the secrets a allows
// (values, regexes and stopwords only).
func withAllowlist(r Rule, a Allowlist) (Rule, error) {
	al, err := compileAllowlist(a, fmt.Sprintf("rule %q: allowlist", r.ID), nil)
	if err != nil || al == nil {
		return r, err
	}
	prev := r.Validate
	r.Validate = func(secret []byte) bool {
		return (prev == nil || prev(secret)) && !al.allows(secret)
	}
	return r, nil
}

// SkipPath reports whether the strings at path, a JSON path in the syntax of
// proxy/walk's Field.Path, must not be scanned: one of Config.Allowlist.Paths covers
// it. It costs nothing when no path is allowlisted.
//
// A caller that walks JSON calls it for each string before scanning it and passes
// the string through unchanged when it returns true. For a member name, pass the
// path of the object holding it (walk's Field.Path for a name): a pattern covering
// an object covers its member names too.
func (d *Detector) SkipPath(path string) bool {
	return d.allow != nil && len(d.allow.paths) > 0 && d.allow.skipPath(path)
}

// pathPattern is a compiled path pattern: literal text, "[*]" and "*" segments.
type pathPattern []pathTok

type pathTok struct {
	kind byte // 'l' literal, 'i' any index, 'n' any member name
	lit  string
}

// parsePathPattern compiles a path pattern (see Allowlist.Paths).
func parsePathPattern(p string) (pathPattern, error) {
	if strings.TrimSpace(p) == "" {
		return nil, errors.New("empty path")
	}
	if strings.ContainsAny(p[:1], ".[#") && !strings.HasPrefix(p, "[") {
		return nil, fmt.Errorf("path %q starts with a separator", p)
	}
	var out pathPattern
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			out = append(out, pathTok{kind: 'l', lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(p); i++ {
		switch {
		case strings.HasPrefix(p[i:], "[*]"):
			flush()
			out = append(out, pathTok{kind: 'i'})
			i += 2
		case p[i] == '*' && (i == 0 || p[i-1] == '.' || p[i-1] == '#') && (i+1 == len(p) || strings.IndexByte(".[#", p[i+1]) >= 0):
			flush()
			out = append(out, pathTok{kind: 'n'})
		default:
			lit.WriteByte(p[i])
		}
	}
	flush()
	return out, nil
}

// match reports whether the pattern covers path: it matches path or a prefix of it
// that ends where a segment ends.
func (pp pathPattern) match(path string) bool {
	i := 0
	for _, t := range pp {
		switch t.kind {
		case 'l':
			if !strings.HasPrefix(path[i:], t.lit) {
				return false
			}
			i += len(t.lit)
		case 'i':
			if i >= len(path) || path[i] != '[' {
				return false
			}
			j := i + 1
			for j < len(path) && isDigit(path[j]) {
				j++
			}
			if j == i+1 || j >= len(path) || path[j] != ']' {
				return false
			}
			i = j + 1
		case 'n':
			j := i
			for j < len(path) && strings.IndexByte(".[#", path[j]) < 0 {
				j++
			}
			if j == i {
				return false
			}
			i = j
		}
	}
	return i == len(path) || strings.IndexByte(".[#", path[i]) >= 0
}
