package detect

import (
	"errors"
	"fmt"
	"maps"
	"regexp/syntax"
	"slices"
	"strings"
	"unicode/utf8"
)

// FileConfig is the detect: section of a cloakroom config file: custom rules,
// rules to disable, the PII class, an allowlist and a gitleaks config to import.
// Build turns it into a Config. The zero value is the default catalog.
type FileConfig struct {
	// Disable lists rule IDs to leave out (built-in, PII, imported or custom).
	Disable []string `yaml:"disable"`
	// PII adds the personal data rules (see PIIRules).
	PII bool `yaml:"pii"`
	// GitleaksConfig names a gitleaks v8 TOML config whose rules and allowlists are
	// imported (see ImportGitleaks). Build passes it to its readFile as written:
	// the caller resolves it (cloakroom reads it relative to the config file).
	GitleaksConfig string `yaml:"gitleaks_config"`
	// Rules are custom rules, added to the catalog.
	Rules []FileRule `yaml:"rules"`
	// Allowlist is the global allowlist.
	Allowlist Allowlist `yaml:"allowlist"`
}

// FileRule is a custom rule in a config file.
type FileRule struct {
	// ID names the rule in findings: lowercase, unique (a built-in rule's ID is
	// taken: disable that one and pick another ID).
	ID string `yaml:"id"`
	// Class is the token class: [a-z0-9]{1,16}, default "secret".
	Class string `yaml:"class"`
	// Description says what the rule finds.
	Description string `yaml:"description"`
	// Regex (RE2) matches the secret; the secret is the group named "secret", else
	// group 1, else the whole match.
	Regex string `yaml:"regex"`
	// Keywords are literals of two or more bytes (matched ignoring ASCII case), one
	// of which occurs in every match. Left out, they are the literal prefixes of
	// Regex (acme_ for 'acme_[a-z0-9]{32}', ghp_ and gho_ for 'gh[po]_...'); a
	// regex without one needs them given.
	Keywords []string `yaml:"keywords"`
	// Entropy is the least Shannon entropy, in bits per byte (0 to 8), a secret
	// must have.
	Entropy float64 `yaml:"entropy"`
	// Allowlist stops this rule from firing on the secrets it allows (values,
	// regexes and stopwords; rules and paths belong to the global allowlist).
	// Unlike the global allowlist it works before overlap resolution: another
	// rule may still report the same text.
	Allowlist Allowlist `yaml:"allowlist"`
}

// Build checks fc and makes a Config of it: the default catalog, the rules imported
// from GitleaksConfig (read with readFile, which may be nil when there is none), the
// custom rules, Disable, PII and the allowlists merged. Problems are gathered with
// errors.Join, each naming the rule and field. Warnings list what an import had to
// leave out or change; they name rules and fields, never a value. New validates the
// rest (rule syntax, unknown IDs).
func (fc FileConfig) Build(readFile func(name string) ([]byte, error)) (cfg Config, warnings []string, err error) {
	cfg = Config{Disabled: slices.Clone(fc.Disable), PII: fc.PII, Allowlist: fc.Allowlist}
	if fc.GitleaksConfig == "" && len(fc.Rules) == 0 {
		return cfg, nil, nil
	}
	rules := DefaultRules()
	index := make(map[string]int, len(rules))
	for i, r := range rules {
		index[r.ID] = i
	}
	origin := map[string]string{} // rule ID -> where it came from, when not built in
	var errs []error
	if fc.GitleaksConfig != "" {
		imp, err := fc.importGitleaks(readFile)
		if err != nil {
			errs = append(errs, err)
		} else {
			rules, warnings = mergeImport(rules, index, origin, imp)
			cfg.Allowlist = cfg.Allowlist.merge(imp.Allowlist)
			for _, id := range imp.DisabledRules {
				if _, ok := index[id]; ok {
					cfg.Disabled = append(cfg.Disabled, id)
				} else {
					warnings = append(warnings, fmt.Sprintf("gitleaks_config: [extend] disabledRules %q: no such rule here, ignored", id))
				}
			}
		}
	}
	pii := map[string]bool{}
	if fc.PII {
		for _, r := range PIIRules() {
			pii[r.ID] = true
		}
	}
	for i, fr := range fc.Rules {
		r, err := fr.rule(i)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		where := fmt.Sprintf("rules[%d] %q", i, fr.ID)
		if _, ok := index[r.ID]; ok || pii[r.ID] {
			from := origin[r.ID]
			if from == "" {
				from = "a built-in rule"
			}
			errs = append(errs, fmt.Errorf("%s: id: already used by %s (disable it and pick another id)", where, from))
			continue
		}
		index[r.ID] = len(rules)
		origin[r.ID] = where
		rules = append(rules, r)
	}
	cfg.Rules = rules
	return cfg, warnings, errors.Join(errs...)
}

// importGitleaks reads and imports fc.GitleaksConfig.
func (fc FileConfig) importGitleaks(readFile func(string) ([]byte, error)) (GitleaksImport, error) {
	if readFile == nil {
		return GitleaksImport{}, errors.New("gitleaks_config: no file reader given")
	}
	data, err := readFile(fc.GitleaksConfig)
	if err != nil {
		return GitleaksImport{}, fmt.Errorf("gitleaks_config: %w", err)
	}
	imp, err := ImportGitleaks(data)
	if err != nil {
		return GitleaksImport{}, fmt.Errorf("gitleaks_config %s: %w", fc.GitleaksConfig, err)
	}
	return imp, nil
}

// mergeImport adds the imported rules to rules (a built-in rule keeps its ID) and
// applies the allowlists aimed at rules the file does not define.
func mergeImport(rules []Rule, index map[string]int, origin map[string]string, imp GitleaksImport) ([]Rule, []string) {
	var warnings []string
	for _, s := range imp.Skipped {
		warnings = append(warnings, fmt.Sprintf("gitleaks_config: rule %q not imported: %s", s.ID, s.Reason))
	}
	for _, n := range imp.Notes {
		warnings = append(warnings, "gitleaks_config: "+n)
	}
	for _, r := range imp.Rules {
		if _, ok := index[r.ID]; ok {
			warnings = append(warnings, fmt.Sprintf("gitleaks_config: rule %q not imported: a built-in rule has that id and is kept", r.ID))
			continue
		}
		index[r.ID] = len(rules)
		origin[r.ID] = fmt.Sprintf("gitleaks_config rule %q", r.ID)
		rules = append(rules, r)
	}
	for _, id := range slices.Sorted(maps.Keys(imp.RuleAllowlists)) {
		i, ok := index[id]
		if !ok {
			warnings = append(warnings, fmt.Sprintf("gitleaks_config: allowlist for rule %q: no such rule here, ignored", id))
			continue
		}
		for _, a := range imp.RuleAllowlists[id] {
			r, err := withAllowlist(rules[i], a)
			if err != nil {
				warnings = append(warnings, fmt.Sprintf("gitleaks_config: allowlist for rule %q ignored: %v", id, err))
				continue
			}
			rules[i] = r
		}
	}
	return rules, warnings
}

// rule turns a custom rule into a Rule; i is its index in the file, for errors.
func (fr FileRule) rule(i int) (Rule, error) {
	where := fmt.Sprintf("rules[%d] %q", i, fr.ID)
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(where+": "+format, args...))
	}
	if fr.ID == "" {
		bad("id: required")
	}
	class := fr.Class
	if class == "" {
		class = ClassSecret
	}
	if !validClass(class) {
		bad("class: %q must be 1 to 16 characters of a-z and 0-9", class)
	}
	if fr.Entropy < 0 || fr.Entropy > 8 {
		bad("entropy: %v outside [0, 8]", fr.Entropy)
	}
	r := Rule{
		ID: fr.ID, Class: class, Description: fr.Description,
		Keywords: slices.Clone(fr.Keywords), Pattern: fr.Regex, MinEntropy: fr.Entropy,
	}
	if r.Description == "" {
		r.Description = "custom rule " + fr.ID
	}
	switch {
	case fr.Regex == "":
		bad("regex: required")
	case len(fr.Keywords) == 0:
		kws, err := DeriveKeywords(fr.Regex)
		if err != nil {
			bad("%v", err)
		}
		r.Keywords = kws
	default:
		for k, kw := range fr.Keywords {
			if len(kw) < 2 {
				bad("keywords[%d]: %q is shorter than 2 bytes", k, kw)
			}
		}
	}
	if len(errs) == 0 {
		if _, err := compile(r); err != nil {
			bad("%v", err)
		}
	}
	r, err := withAllowlist(r, fr.Allowlist)
	if err != nil {
		bad("%v", err)
	}
	return r, errors.Join(errs...)
}

// Limits of keyword derivation.
const (
	maxDerivedKeywords = 32
	maxKeywordLen      = 32
)

// DeriveKeywords returns prefilter keywords for a rule whose Pattern is re: the
// literal prefixes every match starts with ("acme_" for `acme_[a-z0-9]{32}`;
// "ghp_" and "gho_" for `\bgh[po]_\w+`), lower-cased, at least two bytes each. It
// fails when re does not parse, or when some match may start without such a
// literal (`[a-z]+_token`, `(?:x|ab)...`): such a rule needs its keywords given.
// Case folding is ASCII only, as in the prefilter: under (?i) a literal stops at
// its first non-ASCII letter.
func DeriveKeywords(re string) ([]string, error) {
	tree, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return nil, fmt.Errorf("regex: %w", err)
	}
	set, _ := literalPrefixes(tree)
	if len(set) == 0 {
		return nil, errors.New("keywords: none given, and the regex has no literal prefix to use (list literals every match contains)")
	}
	slices.Sort(set)
	set = slices.Compact(set)
	var kws []string
	for _, s := range set {
		if len(s) < 2 {
			return nil, fmt.Errorf("keywords: none given, and a match of the regex may start with less than 2 literal bytes (list literals every match contains)")
		}
		// A keyword with a shorter keyword as prefix adds nothing.
		if n := len(kws); n > 0 && strings.HasPrefix(s, kws[n-1]) {
			continue
		}
		kws = append(kws, s)
	}
	return kws, nil
}

// literalPrefixes returns a set of strings (lower case) such that every match of re
// starts with one of them, and whether re matches exactly those strings. An empty
// set means no useful prefix is known.
func literalPrefixes(re *syntax.Regexp) (set []string, exact bool) {
	switch re.Op {
	case syntax.OpLiteral:
		var b strings.Builder
		for _, r := range re.Rune {
			if r >= utf8.RuneSelf && re.Flags&syntax.FoldCase != 0 {
				return []string{b.String()}, false // folding beyond ASCII: stop here
			}
			if r < utf8.RuneSelf {
				b.WriteByte(lowerASCII(byte(r)))
			} else {
				b.WriteRune(r)
			}
			if b.Len() >= maxKeywordLen {
				return []string{b.String()}, false
			}
		}
		return []string{b.String()}, true
	case syntax.OpCharClass:
		var chars []string
		for i := 0; i+1 < len(re.Rune); i += 2 {
			lo, hi := re.Rune[i], re.Rune[i+1]
			if hi-lo > 8 || hi >= utf8.RuneSelf {
				return []string{""}, false
			}
			for r := lo; r <= hi; r++ {
				chars = append(chars, string(rune(lowerASCII(byte(r)))))
			}
		}
		slices.Sort(chars)
		chars = slices.Compact(chars)
		if len(chars) == 0 || len(chars) > 4 {
			return []string{""}, false
		}
		return chars, true
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText,
		syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return []string{""}, true
	case syntax.OpCapture:
		return literalPrefixes(re.Sub[0])
	case syntax.OpConcat:
		acc, exact := []string{""}, true
		for _, sub := range re.Sub {
			if !exact {
				break
			}
			s, e := literalPrefixes(sub)
			if len(s) == 0 {
				return acc, false
			}
			next := cross(acc, s)
			if next == nil {
				return acc, false
			}
			acc, exact = next, e
		}
		return acc, exact
	case syntax.OpAlternate:
		var all []string
		exact := true
		for _, sub := range re.Sub {
			s, e := literalPrefixes(sub)
			if len(s) == 0 {
				return nil, false
			}
			all = append(all, s...)
			exact = exact && e
		}
		if len(all) > maxDerivedKeywords {
			return nil, false
		}
		return all, exact
	case syntax.OpPlus:
		s, _ := literalPrefixes(re.Sub[0])
		return s, false
	case syntax.OpRepeat:
		if re.Min == 0 {
			return []string{""}, false
		}
		s, e := literalPrefixes(re.Sub[0])
		acc := s
		for k := 1; e && k < re.Min; k++ {
			next := cross(acc, s)
			if next == nil {
				return acc, false
			}
			acc = next
		}
		return acc, e && re.Min == re.Max
	}
	return []string{""}, false // star, quest, any char
}

// cross returns every a+b, each cut to maxKeywordLen, or nil if there would be more
// than maxDerivedKeywords.
func cross(as, bs []string) []string {
	if len(as)*len(bs) > maxDerivedKeywords {
		return nil
	}
	out := make([]string, 0, len(as)*len(bs))
	for _, a := range as {
		for _, b := range bs {
			s := a + b
			if len(s) > maxKeywordLen {
				s = s[:maxKeywordLen]
			}
			out = append(out, s)
		}
	}
	return out
}
