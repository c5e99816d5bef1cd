package detect

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"

	"github.com/BurntSushi/toml"
)

// GitleaksImport is what ImportGitleaks makes of a gitleaks config.
type GitleaksImport struct {
	// Rules are the rules that could be imported, each rule's own allowlists (and the
	// [[allowlists]] that target it) folded into its Validate.
	Rules []Rule
	// Allowlist is the global allowlist: the regexes and stopwords of [allowlist] and
	// of the [[allowlists]] without targetRules.
	Allowlist Allowlist
	// RuleAllowlists are allowlists for rules the file does not define, by rule ID:
	// [[allowlists]] whose targetRules name them, and rules given without a regex to
	// tune a default rule of the same ID. FileConfig.Build applies them to the
	// catalog's rule of that ID, if any.
	RuleAllowlists map[string][]Allowlist
	// UseDefault is [extend] useDefault.
	UseDefault bool
	// DisabledRules is [extend] disabledRules.
	DisabledRules []string
	// Skipped lists the rules that could not be imported, and why.
	Skipped []SkippedRule
	// Notes list what the import ignored or changed: keys cloakroom does not use,
	// allowlist parts that cannot apply to request bodies, and the like.
	Notes []string
}

// SkippedRule is a gitleaks rule ImportGitleaks could not import.
type SkippedRule struct {
	ID     string
	Reason string
}

// gitleaks v8 config schema (keys as gitleaks writes them; TOML keys match
// case-insensitively, as in gitleaks, which reads them through viper).
type glConfig struct {
	Title       string        `toml:"title"`
	Description string        `toml:"description"`
	Extend      glExtend      `toml:"extend"`
	Rules       []glRule      `toml:"rules"`
	Allowlist   *glAllowlist  `toml:"allowlist"`
	Allowlists  []glAllowlist `toml:"allowlists"`
}

type glExtend struct {
	Path          string   `toml:"path"`
	URL           string   `toml:"url"`
	UseDefault    bool     `toml:"useDefault"`
	DisabledRules []string `toml:"disabledRules"`
}

type glRule struct {
	ID          string        `toml:"id"`
	Description string        `toml:"description"`
	Regex       string        `toml:"regex"`
	Path        string        `toml:"path"`
	SecretGroup int           `toml:"secretGroup"`
	Entropy     float64       `toml:"entropy"`
	Keywords    []string      `toml:"keywords"`
	Tags        []string      `toml:"tags"`
	Allowlist   *glAllowlist  `toml:"allowlist"`
	Allowlists  []glAllowlist `toml:"allowlists"`
	Required    []struct {
		ID string `toml:"id"`
	} `toml:"required"`
	SkipReport bool `toml:"skipReport"`
}

type glAllowlist struct {
	Description string   `toml:"description"`
	Condition   string   `toml:"condition"`
	RegexTarget string   `toml:"regexTarget"`
	Regexes     []string `toml:"regexes"`
	Paths       []string `toml:"paths"`
	Commits     []string `toml:"commits"`
	StopWords   []string `toml:"stopwords"`
	TargetRules []string `toml:"targetRules"`
}

// ImportGitleaks reads a gitleaks v8 TOML config (.gitleaks.toml) and turns it into
// rules and allowlists, so that a security team reuses the rules it has.
//
// Per rule: id, description, regex, secretGroup (that group becomes the secret),
// entropy and keywords carry over (keywords of fewer than two bytes, or none, are
// replaced by the regex's literal prefixes when it has some). The class is the
// first word of the id (aws-access-token gives "aws"), "secret" when that word is
// generic. A rule is skipped, with its reason in Skipped, when its regex does not
// compile in Go, when it has no usable keyword, when it only matches file paths,
// when it is part of a composite rule ([[rules.required]], skipReport), or when it
// does not pass the checks of New.
//
// Allowlists ([rules.allowlist], [[rules.allowlists]], [allowlist], [[allowlists]]
// with or without targetRules) keep their regexes and stopwords. Request bodies have
// no file path or commit, so paths and commits never match: they are dropped from
// an OR allowlist, and an AND allowlist that needs one is dropped whole. Regexes
// meant for the whole match or line (regexTarget) are applied to the secret, which
// allows less, never more. [extend] useDefault and disabledRules are reported in the
// result; [extend] path and url are not followed.
//
// It fails when the TOML does not parse, or when nothing usable remains (every rule
// skipped and no allowlist), with the reasons joined.
func ImportGitleaks(data []byte) (GitleaksImport, error) {
	var gc glConfig
	md, err := toml.Decode(string(data), &gc)
	if err != nil {
		return GitleaksImport{}, fmt.Errorf("gitleaks config: %w", err)
	}
	imp := GitleaksImport{UseDefault: gc.Extend.UseDefault, DisabledRules: gc.Extend.DisabledRules}
	noted := map[string]bool{}
	note := func(format string, args ...any) {
		if n := fmt.Sprintf(format, args...); !noted[n] {
			noted[n] = true
			imp.Notes = append(imp.Notes, n)
		}
	}
	for _, k := range md.Undecoded() {
		note("key %s: not used by cloakroom, ignored", k)
	}
	if gc.Extend.Path != "" || gc.Extend.URL != "" {
		note("[extend] path/url: not followed; import that config itself to use its rules")
	}
	if !gc.Extend.UseDefault {
		note("[extend] useDefault is not set: gitleaks would use only this file's rules; cloakroom keeps its built-in catalog too (list rules to drop under detect.disable)")
	}

	// Allowlists: global, and targeted at rules by id.
	targeted := map[string][]Allowlist{}
	globals := gc.Allowlists
	if gc.Allowlist != nil {
		globals = append([]glAllowlist{*gc.Allowlist}, globals...)
	}
	for i, ga := range globals {
		a, ok := ga.convert(fmt.Sprintf("allowlists[%d]", i), note)
		if !ok {
			continue
		}
		if len(ga.TargetRules) == 0 {
			imp.Allowlist = imp.Allowlist.merge(a)
			continue
		}
		for _, id := range ga.TargetRules {
			targeted[id] = append(targeted[id], a)
		}
	}

	defined := map[string]bool{}
	for i, gr := range gc.Rules {
		if gr.ID == "" {
			imp.Skipped = append(imp.Skipped, SkippedRule{ID: fmt.Sprintf("rules[%d]", i), Reason: "no id (a gitleaks v7 rule?)"})
			continue
		}
		if defined[gr.ID] {
			imp.Skipped = append(imp.Skipped, SkippedRule{ID: gr.ID, Reason: "duplicate id"})
			continue
		}
		defined[gr.ID] = true
		als := gr.Allowlists
		if gr.Allowlist != nil {
			als = append([]glAllowlist{*gr.Allowlist}, als...)
		}
		var own []Allowlist
		for k, ga := range als {
			if a, ok := ga.convert(fmt.Sprintf("rule %q allowlists[%d]", gr.ID, k), note); ok {
				own = append(own, a)
			}
		}
		own = append(own, targeted[gr.ID]...)
		if gr.Regex == "" && gr.Path == "" {
			// Tunes a default rule of the same id.
			if len(own) > 0 {
				if imp.RuleAllowlists == nil {
					imp.RuleAllowlists = map[string][]Allowlist{}
				}
				imp.RuleAllowlists[gr.ID] = append(imp.RuleAllowlists[gr.ID], own...)
			}
			if gr.Entropy != 0 || len(gr.Keywords) > 0 || gr.SecretGroup != 0 {
				note("rule %q: no regex, so it tunes the rule of that id; only its allowlists are used", gr.ID)
			}
			continue
		}
		r, reason := gr.rule(note)
		if reason != "" {
			imp.Skipped = append(imp.Skipped, SkippedRule{ID: gr.ID, Reason: reason})
			continue
		}
		if r, err := withAllowlists(r, own); err != nil {
			imp.Skipped = append(imp.Skipped, SkippedRule{ID: gr.ID, Reason: err.Error()})
		} else {
			imp.Rules = append(imp.Rules, r)
		}
	}
	for id, as := range targeted {
		if !defined[id] {
			if imp.RuleAllowlists == nil {
				imp.RuleAllowlists = map[string][]Allowlist{}
			}
			imp.RuleAllowlists[id] = append(imp.RuleAllowlists[id], as...)
		}
	}
	if len(imp.Rules) == 0 && imp.Allowlist.IsZero() && len(imp.RuleAllowlists) == 0 && len(imp.DisabledRules) == 0 {
		errs := []error{errors.New("gitleaks config: nothing usable (no rule could be imported, no allowlist)")}
		for _, s := range imp.Skipped {
			errs = append(errs, fmt.Errorf("rule %q: %s", s.ID, s.Reason))
		}
		return GitleaksImport{}, errors.Join(errs...)
	}
	return imp, nil
}

// withAllowlists applies each of as to r.
func withAllowlists(r Rule, as []Allowlist) (Rule, error) {
	for _, a := range as {
		var err error
		if r, err = withAllowlist(r, a); err != nil {
			return r, err
		}
	}
	return r, nil
}

// rule converts one gitleaks rule that has a regex or a path; reason says why it
// cannot be imported.
func (gr glRule) rule(note func(string, ...any)) (r Rule, reason string) {
	switch {
	case gr.SkipReport:
		return r, "skipReport: the rule only serves composite rules"
	case len(gr.Required) > 0:
		return r, "composite rule ([[rules.required]]): not supported"
	case gr.Regex == "":
		return r, "matches file paths only; cloakroom scans request bodies, not files"
	}
	re, err := regexp.Compile(gr.Regex)
	if err != nil {
		return r, "regex does not compile in Go: " + err.Error()
	}
	if gr.Path != "" {
		note("rule %q: path condition dropped, the rule applies to all content", gr.ID)
	}
	pattern := gr.Regex
	if gr.SecretGroup > re.NumSubexp() || gr.SecretGroup < 0 {
		return r, fmt.Sprintf("secretGroup %d: the regex has %d groups", gr.SecretGroup, re.NumSubexp())
	}
	if gr.SecretGroup > 1 || gr.SecretGroup == 1 && re.SubexpIndex("secret") > 1 {
		if pattern, err = nameSecretGroup(gr.Regex, gr.SecretGroup); err != nil {
			return r, "secretGroup: " + err.Error()
		}
	}
	var kws []string
	short := false
	for _, k := range gr.Keywords {
		if len(k) < 2 {
			short = true
			break
		}
		kws = append(kws, strings.ToLower(k))
	}
	if short || len(kws) == 0 {
		derived, err := DeriveKeywords(gr.Regex)
		if err != nil {
			if short {
				return r, "a keyword is shorter than 2 bytes and the regex has no literal prefix to use instead"
			}
			return r, "no keywords, and the regex has no literal prefix to use instead"
		}
		kws = derived
		if short {
			note("rule %q: keywords shorter than 2 bytes replaced by the regex's literal prefixes", gr.ID)
		}
	}
	r = Rule{
		ID:          strings.ToLower(gr.ID),
		Class:       gitleaksClass(gr.ID),
		Description: gr.Description,
		Keywords:    kws,
		Pattern:     pattern,
		MinEntropy:  gr.Entropy,
	}
	if r.ID != gr.ID {
		note("rule %q: id lower-cased", gr.ID)
	}
	if r.Description == "" {
		r.Description = "gitleaks rule " + r.ID
	}
	if _, err := compile(r); err != nil {
		return Rule{}, strings.TrimPrefix(err.Error(), fmt.Sprintf("rule %q: ", r.ID))
	}
	return r, ""
}

// genericWords are first words of gitleaks rule ids that name no provider.
var genericWords = map[string]bool{
	"generic": true, "private": true, "custom": true, "internal": true, "my": true,
	"company": true, "corp": true, "api": true, "secret": true, "key": true,
	"token": true, "password": true, "access": true, "auth": true,
}

// gitleaksClass derives a token class from a gitleaks rule id.
func gitleaksClass(id string) string {
	seg := strings.ToLower(id)
	if i := strings.IndexAny(seg, "-_. "); i >= 0 {
		seg = seg[:i]
	}
	if validClass(seg) && !genericWords[seg] {
		return seg
	}
	return ClassSecret
}

// nameSecretGroup rewrites pattern so that capture group n is named "secret" (and no
// other group is).
func nameSecretGroup(pattern string, n int) (string, error) {
	tree, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return "", err
	}
	var walk func(re *syntax.Regexp)
	walk = func(re *syntax.Regexp) {
		if re.Op == syntax.OpCapture {
			switch {
			case re.Cap == n:
				re.Name = "secret"
			case re.Name == "secret":
				re.Name = ""
			}
		}
		for _, sub := range re.Sub {
			walk(sub)
		}
	}
	walk(tree)
	out := tree.String()
	re, err := regexp.Compile(out)
	if err != nil {
		return "", err
	}
	if re.SubexpIndex("secret") != n {
		return "", fmt.Errorf("group %d could not be marked", n)
	}
	return out, nil
}

// convert turns a gitleaks allowlist into ours; ok is false when nothing of it can
// apply to request bodies.
func (ga glAllowlist) convert(where string, note func(string, ...any)) (a Allowlist, ok bool) {
	needsFile := len(ga.Paths) > 0 || len(ga.Commits) > 0
	switch strings.ToUpper(ga.Condition) {
	case "AND", "&&":
		if needsFile {
			note("%s: condition AND with paths or commits can never match a request body, ignored", where)
			return a, false
		}
		if len(ga.Regexes) > 0 && len(ga.StopWords) > 0 {
			note("%s: condition AND of regexes and stopwords not supported, ignored", where)
			return a, false
		}
	case "", "OR", "||":
		if needsFile {
			note("%s: paths and commits ignored (request bodies have neither)", where)
		}
	default:
		note("%s: unknown condition %q, ignored", where, ga.Condition)
		return a, false
	}
	switch ga.RegexTarget {
	case "", "secret":
	case "match", "line":
		if len(ga.Regexes) > 0 {
			note("%s: regexTarget %q: regexes applied to the secret only", where, ga.RegexTarget)
		}
	default:
		note("%s: unknown regexTarget %q, ignored", where, ga.RegexTarget)
		return a, false
	}
	for k, s := range ga.Regexes {
		re, err := regexp.Compile(s)
		switch {
		case err != nil:
			note("%s: regexes[%d] does not compile in Go, dropped", where, k)
		case re.MatchString(""):
			note("%s: regexes[%d] matches the empty string, dropped", where, k)
		default:
			a.Regexes = append(a.Regexes, s)
		}
	}
	for _, w := range ga.StopWords {
		if w != "" {
			a.Stopwords = append(a.Stopwords, w)
		}
	}
	return a, !a.IsZero()
}
