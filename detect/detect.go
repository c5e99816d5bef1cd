package detect

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Finding is one secret located in scanned input.
type Finding struct {
	// RuleID names the rule that found the secret, e.g. "aws-access-key-id".
	RuleID string
	// Class is the token class of the secret: 1 to 16 characters of [a-z0-9].
	Class string
	// Start and End are the byte offsets of the secret value only (not its key name or
	// other context) in the scanned input: input[Start:End] is the secret.
	Start, End int
}

// Sample is a rule's test fixture. For a true positive, Secret is the exact secret the
// rule must find in Text; for a false positive it is empty. When Key is set the sample
// is a JSON object member and runs through ScanField(Key, Text) instead of Scan(Text).
type Sample struct {
	Key    string
	Text   string
	Secret string
}

// Matcher is a hand-written rule body. It is called for a keyword hit at
// input[kwStart:kwEnd] and returns the span of the secret it finds there, if any. It
// must bound its own work, must not retain input and must be safe for concurrent use.
type Matcher func(input []byte, kwStart, kwEnd int) (start, end int, ok bool)

// FieldMatcher is a rule body for a JSON object member: key is the member name and
// value its decoded string. It returns the span of the secret in value, if any.
type FieldMatcher func(key string, value []byte) (start, end int, ok bool)

// Rule describes one kind of secret. A rule has exactly one body: Pattern, Match or
// Field. Pattern and Match rules run only near a hit of one of their Keywords; Field
// rules run only in ScanField.
type Rule struct {
	// ID names the rule in findings: lowercase, unique within a Detector.
	ID string
	// Class is the token class of the secrets the rule finds: [a-z0-9]{1,16}.
	Class string
	// Description says what the rule finds, for humans.
	Description string
	// Keywords are literals of at least two bytes, matched with ASCII case folding
	// unless CaseSensitive, one of which occurs in or right before every secret the
	// rule finds. They feed the prefilter: a rule does nothing on input that holds
	// none of its keywords.
	Keywords []string
	// CaseSensitive makes Keywords match only in the case given.
	CaseSensitive bool
	// Anchored says the keyword starts the match: Pattern is tried once, at the
	// keyword, which must begin a word (the byte before it is not [A-Za-z0-9_]).
	// Before is unused. This is the fast path for prefixed tokens.
	Anchored bool
	// Pattern is a regular expression (RE2 syntax) run on the window
	// input[hit-Before : hitEnd+After] around each keyword hit. The secret is the
	// submatch named "secret", else submatch 1, else the whole match. A match counts
	// only if it overlaps the keyword hit.
	Pattern string
	// Before and After size the Pattern window in bytes; 0 means DefaultBefore and
	// DefaultAfter. A match that touches a window edge inside the input is retried on
	// a wider window, so they are a speed knob, not a length limit.
	Before, After int
	// MinEntropy is the least Shannon entropy, in bits per byte, a secret must have.
	MinEntropy float64
	// Generic marks a context-based rule (key names, headers): on overlap a specific
	// rule's finding wins over a generic one.
	Generic bool
	// Validate, if set, must accept the secret for a finding to count.
	Validate func(secret []byte) bool
	// Match is a hand-written body used instead of Pattern.
	Match Matcher
	// Field is a body for JSON object members, run by ScanField.
	Field FieldMatcher
	// TruePositives must each yield a finding of this rule spanning their Secret.
	TruePositives []Sample
	// FalsePositives must yield no finding of this rule.
	FalsePositives []Sample

	// onlyStemKeys marks a built-in Field body that finds nothing unless stemKey
	// accepts the key, so ScanField can skip it after one test for all such rules.
	onlyStemKeys bool
	// keyHits marks a built-in Match body that parses the key name around the hit
	// (assignAt, or a pattern anchored at the keyword whose key name goes on only in
	// [\w.-]): every hit inside one key name (AWS_SECRET_ACCESS_KEY holds "secret"
	// and "access_key") gives the same secret or none, so after a finding, hits
	// between its keyword and its secret are skipped.
	keyHits bool
}

// Window defaults for Pattern rules.
const (
	DefaultBefore = 32
	DefaultAfter  = 256
)

// maxWindowRetries bounds how often a Pattern window is widened for one hit.
const maxWindowRetries = 3

// Config configures a Detector.
type Config struct {
	// Rules is the catalog to use; nil means DefaultRules().
	Rules []Rule
	// Disabled lists rule IDs to leave out. An unknown ID is an error.
	Disabled []string
	// PII adds PIIRules() (e-mail, phone, card, IBAN, national id) to Rules.
	PII bool
	// Allowlist says what is never reported, and which JSON paths callers skip (see
	// SkipPath). The zero value allows nothing.
	Allowlist Allowlist
}

// Detector finds secrets in bytes. It is immutable after New and safe for concurrent
// use.
type Detector struct {
	rules   []compiled
	pf      *prefilter
	targets [][]target // per prefilter keyword: the rules it triggers
	fields  []int      // rules with a Field body
	allow   *allowlist // nil: nothing allowlisted
}

type compiled struct {
	Rule
	re     *regexp.Regexp
	free   *regexp.Regexp // Anchored rules: the pattern unanchored, for a one-pass scan
	group  int            // submatch index of the secret; 0 = whole match
	lowKw  []string       // Keywords in lower case
	kwLead [4]uint64      // first bytes of lowKw, a bit set
}

type target struct {
	rule int
	kw   string // keyword as written in the rule, for case-sensitive checks
}

// New validates the rules of cfg, gathering every problem with errors.Join, and builds
// a Detector from the enabled ones.
func New(cfg Config) (*Detector, error) {
	rules := cfg.Rules
	if rules == nil {
		rules = DefaultRules()
	}
	if cfg.PII {
		rules = append(rules[:len(rules):len(rules)], PIIRules()...)
	}
	disabled := make(map[string]bool, len(cfg.Disabled))
	for _, id := range cfg.Disabled {
		disabled[id] = true
	}
	var errs []error
	seen := make(map[string]bool, len(rules))
	d := &Detector{}
	kwIndex := map[string]int{}
	var keywords []string
	for i := range rules {
		r := rules[i]
		c, err := compile(r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[r.ID] {
			errs = append(errs, fmt.Errorf("rule %q: duplicate id", r.ID))
			continue
		}
		seen[r.ID] = true
		if disabled[r.ID] {
			continue
		}
		idx := len(d.rules)
		d.rules = append(d.rules, c)
		if r.Field != nil {
			d.fields = append(d.fields, idx)
			continue
		}
		for _, kw := range r.Keywords {
			low := strings.ToLower(kw)
			k, ok := kwIndex[low]
			if !ok {
				k = len(keywords)
				kwIndex[low] = k
				keywords = append(keywords, low)
				d.targets = append(d.targets, nil)
			}
			d.targets[k] = append(d.targets[k], target{rule: idx, kw: kw})
		}
	}
	for _, id := range cfg.Disabled {
		if !seen[id] {
			errs = append(errs, fmt.Errorf("disabled rule %q: no such rule", id))
		}
	}
	allow, err := compileAllowlist(cfg.Allowlist, "allowlist", func(id string) bool { return seen[id] })
	if err != nil {
		errs = append(errs, err)
	}
	d.allow = allow
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	d.pf = newPrefilter(keywords)
	return d, nil
}

// compile checks one rule and compiles its pattern.
func compile(r Rule) (compiled, error) {
	c := compiled{Rule: r}
	for _, kw := range r.Keywords {
		low := strings.ToLower(kw)
		c.lowKw = append(c.lowKw, low)
		if low != "" {
			c.kwLead[low[0]>>6] |= 1 << (low[0] & 63)
		}
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("rule %q: "+format, append([]any{r.ID}, args...)...))
	}
	if r.ID == "" || strings.ToLower(r.ID) != r.ID || strings.ContainsAny(r.ID, " \t\n") {
		bad("id must be non-empty lowercase without spaces")
	}
	if !validClass(r.Class) {
		bad("class %q must be 1 to 16 characters of a-z and 0-9", r.Class)
	}
	bodies := 0
	for _, set := range []bool{r.Pattern != "", r.Match != nil, r.Field != nil} {
		if set {
			bodies++
		}
	}
	if bodies != 1 {
		bad("needs exactly one of Pattern, Match or Field, has %d", bodies)
	}
	if r.Field == nil {
		if len(r.Keywords) == 0 {
			bad("needs at least one keyword")
		}
		for _, kw := range r.Keywords {
			if len(kw) < 2 {
				bad("keyword %q shorter than 2 bytes", kw)
			}
		}
	}
	if r.Before < 0 || r.After < 0 {
		bad("negative window")
	}
	if r.MinEntropy < 0 || r.MinEntropy > 8 {
		bad("min entropy %v outside [0, 8]", r.MinEntropy)
	}
	if r.Pattern != "" {
		pat := r.Pattern
		if r.Anchored {
			pat = `^(?:` + pat + `)`
		}
		re, err := regexp.Compile(pat)
		if err != nil {
			bad("pattern: %w", err)
		} else {
			c.re, c.free = re, re
			if r.Anchored {
				c.free = regexp.MustCompile(r.Pattern) // compiled above with ^ around it
			}
			if i := re.SubexpIndex("secret"); i > 0 {
				c.group = i
			} else if re.NumSubexp() > 0 {
				c.group = 1
			}
		}
	}
	if c.Before == 0 {
		c.Before = DefaultBefore
	}
	if c.After == 0 {
		c.After = DefaultAfter
	}
	return c, errors.Join(errs...)
}

func validClass(class string) bool {
	if len(class) == 0 || len(class) > 16 {
		return false
	}
	for i := 0; i < len(class); i++ {
		c := class[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// Rules returns a copy of the enabled rules, in catalog order. The slices inside each
// Rule are shared with the Detector and must not be modified.
func (d *Detector) Rules() []Rule {
	out := make([]Rule, len(d.rules))
	for i := range d.rules {
		out[i] = d.rules[i].Rule
	}
	return out
}

// candidate is a finding before overlap resolution.
type candidate struct {
	rule       int
	start, end int
	hit        int // start of the keyword hit a Match rule found it at
}

// Scan returns the secrets in input, sorted by Start and non-overlapping. It allocates
// nothing when input holds no keyword of any rule.
func (d *Detector) Scan(input []byte) []Finding {
	var buf [4]candidate // candidates stay on the stack unless there are many
	return d.allowed(input, d.resolve(d.scan(input, buf[:0])))
}

// ScanField scans value, the decoded string of a JSON object member named key: the
// findings of Scan(value) plus those of the Field rules, which judge the value by its
// key (a value under "client_secret" that looks like a real secret is one as a whole).
func (d *Detector) ScanField(key string, value []byte) []Finding {
	var buf [4]candidate
	cands := d.scan(value, buf[:0])
	keyed := -1 // stemKey(key), once needed: 0 or 1
	for _, i := range d.fields {
		r := &d.rules[i]
		if r.onlyStemKeys {
			if keyed < 0 {
				keyed = 0
				if stemKey(key) {
					keyed = 1
				}
			}
			if keyed == 0 {
				continue
			}
		}
		if s, e, ok := r.Field(key, value); ok && d.accept(r, value, s, e, -1, -1) {
			cands = append(cands, candidate{rule: i, start: s, end: e})
		}
	}
	return d.allowed(value, d.resolve(cands))
}

// allowed drops the findings the allowlist allows.
func (d *Detector) allowed(input []byte, fs []Finding) []Finding {
	if d.allow == nil || len(fs) == 0 {
		return fs
	}
	return d.allow.filter(input, fs)
}

// scan runs the prefilter over input and the rules at each hit, appending to cands.
func (d *Detector) scan(input []byte, cands []candidate) []candidate {
	var dead deadZones
	d.pf.scan(input, func(k, start int) {
		cands = d.hit(input, k, start, start+len(d.pf.kws[k]), cands, &dead)
	})
	return cands
}

// deadZones bounds the pattern work of one scan, per rule.
//
// It remembers where a run of text too long to be a secret ends: a pattern that
// still matched up to its widest window's edge. Later hits of the rule before that
// point lie inside the same run and are skipped.
//
// It also counts the window bytes each rule's pattern has examined. Text dense with
// a rule's keyword (sk-proj-sk-proj-…, repeated a megabyte long) makes every hit
// examine a window that overlaps the last one, so the work grows with hits times
// window. Past a budget proportional to the input, the rule's pattern is run once
// over the rest of the input instead (linear: RE2), and its later hits are skipped.
// Ordinary text stays far below the budget.
type deadZones struct {
	// The first rules to do pattern work sit in a small array (no allocation on
	// ordinary text); more spill into a map.
	n     int
	first [4]zone
	more  map[int]*zone
}

// zone is one rule's state in deadZones.
type zone struct {
	rule        int
	until, work int
}

// windowBudget is the window bytes a rule may examine per input byte (plus a fixed
// allowance) before the rest of the input is scanned in one pass.
const (
	windowBudget      = 2
	windowBudgetFixed = 16 << 10
)

// get returns rule's zone, nil if it has none.
func (z *deadZones) get(rule int) *zone {
	for i := 0; i < z.n; i++ {
		if z.first[i].rule == rule {
			return &z.first[i]
		}
	}
	if z.more != nil {
		return z.more[rule]
	}
	return nil
}

// zone returns rule's zone, adding it if needed.
func (z *deadZones) zone(rule int) *zone {
	if x := z.get(rule); x != nil {
		return x
	}
	if z.n < len(z.first) {
		z.first[z.n] = zone{rule: rule}
		z.n++
		return &z.first[z.n-1]
	}
	if z.more == nil {
		z.more = map[int]*zone{}
	}
	x := &zone{rule: rule}
	z.more[rule] = x
	return x
}

func (z *deadZones) covers(rule, ks int) bool {
	if z.n == 0 {
		return false
	}
	x := z.get(rule)
	return x != nil && ks < x.until
}

func (z *deadZones) mark(rule, end int) {
	x := z.zone(rule)
	x.until = max(x.until, end)
}

// spend adds n bytes of pattern work to rule and reports whether its budget for an
// input of size bytes is spent.
func (z *deadZones) spend(rule, n, size int) bool {
	x := z.zone(rule)
	x.work += n
	return x.work > windowBudget*size+windowBudgetFixed
}

// rest runs r's pattern once over input[from:] and marks the rule done for this scan.
// Matches need not overlap a keyword hit here; every one still passes accept.
func (d *Detector) rest(r *compiled, rule int, input []byte, from int, cands []candidate, dead *deadZones) []candidate {
	for _, m := range r.free.FindAllSubmatchIndex(input[from:], -1) {
		if r.Anchored && from+m[0] > 0 && isWordChar(input[from+m[0]-1]) {
			continue // an anchored match starts a word, as at a keyword hit
		}
		s, e := m[2*r.group], m[2*r.group+1]
		if s >= 0 && d.accept(r, input, from+s, from+e, -1, -1) {
			cands = append(cands, candidate{rule: rule, start: from + s, end: from + e})
		}
	}
	dead.mark(rule, len(input))
	return cands
}

// hit runs every rule of keyword k on the keyword hit input[ks:ke].
func (d *Detector) hit(input []byte, k, ks, ke int, cands []candidate, dead *deadZones) []candidate {
	for _, t := range d.targets[k] {
		r := &d.rules[t.rule]
		if r.CaseSensitive && string(input[ks:ke]) != t.kw {
			continue
		}
		if covered(cands, t.rule, ks, ke, r.keyHits) || dead.covers(t.rule, ks) {
			continue
		}
		if r.Match != nil {
			if s, e, ok := r.Match(input, ks, ke); ok && d.accept(r, input, s, e, ks, ke) {
				cands = append(cands, candidate{rule: t.rule, start: s, end: e, hit: ks})
			}
			continue
		}
		cands = d.pattern(r, t.rule, input, ks, ke, cands, dead)
	}
	return cands
}

// covered reports whether a recent candidate of rule already spans the hit or, for a
// keyHits rule, whether the hit lies between a candidate's own hit and its secret:
// in the same key name, which the rule parses the same from either hit.
func covered(cands []candidate, rule, ks, ke int, keyHits bool) bool {
	for i := len(cands) - 1; i >= 0 && i >= len(cands)-8; i-- {
		c := cands[i]
		if c.rule == rule && (c.start <= ks && ke <= c.end || keyHits && c.hit < ks && ks < c.start) {
			return true
		}
	}
	return false
}

// pattern runs a Pattern rule on the window around the hit input[ks:ke].
func (d *Detector) pattern(r *compiled, rule int, input []byte, ks, ke int, cands []candidate, dead *deadZones) []candidate {
	if r.Anchored {
		return d.anchored(r, rule, input, ks, ke, cands, dead)
	}
	before, after := r.Before, r.After
	for try := 0; ; try++ {
		lo, hi := max(0, ks-before), min(len(input), ke+after)
		if dead.spend(rule, hi-lo, len(input)) {
			return d.rest(r, rule, input, lo, cands, dead)
		}
		w := input[lo:hi]
		ms := r.re.FindAllSubmatchIndex(w, -1)
		edge := false
		n := len(cands)
		for _, m := range ms {
			if lo+m[1] <= ks || lo+m[0] >= ke {
				continue // does not overlap the hit
			}
			if m[0] == 0 && lo > 0 || m[1] == len(w) && hi < len(input) {
				edge = true
				if try == maxWindowRetries && m[1] == len(w) {
					dead.mark(rule, hi)
				}
				continue
			}
			s, e := m[2*r.group], m[2*r.group+1]
			if s < 0 {
				continue
			}
			if d.accept(r, input, lo+s, lo+e, ks, ke) {
				cands = append(cands, candidate{rule: rule, start: lo + s, end: lo + e})
			}
		}
		if !edge || try == maxWindowRetries {
			return cands
		}
		cands = cands[:n]
		before, after = before*4+64, after*4+256
	}
}

// anchored runs an Anchored rule's pattern once, at the keyword.
func (d *Detector) anchored(r *compiled, rule int, input []byte, ks, ke int, cands []candidate, dead *deadZones) []candidate {
	if ks > 0 && isWordChar(input[ks-1]) {
		return cands
	}
	after := r.After
	for try := 0; ; try++ {
		hi := min(len(input), ke+after)
		if dead.spend(rule, hi-ks, len(input)) {
			return d.rest(r, rule, input, ks, cands, dead)
		}
		m := r.re.FindSubmatchIndex(input[ks:hi])
		if m == nil {
			return cands
		}
		if m[1] < hi-ks || hi == len(input) || try == maxWindowRetries {
			if m[1] == hi-ks && hi < len(input) {
				dead.mark(rule, hi)
				return cands // still at the window edge: longer than any secret
			}
			s, e := m[2*r.group], m[2*r.group+1]
			if s >= 0 && d.accept(r, input, ks+s, ks+e, ks, ke) {
				cands = append(cands, candidate{rule: rule, start: ks + s, end: ks + e})
			}
			return cands
		}
		after = after*4 + 256
	}
}

func isWordChar(c byte) bool { return isAlnum(c) || c == '_' }

// accept applies the generic checks every finding must pass. input[ks:ke] is the
// keyword hit (ks < 0 for Field rules).
func (d *Detector) accept(r *compiled, input []byte, s, e, ks, ke int) bool {
	if s < 0 || e > len(input) || s >= e {
		return false
	}
	sec := input[s:e]
	if r.MinEntropy > 0 && entropy(sec) < r.MinEntropy {
		return false
	}
	if ks >= 0 && (ke <= s || e <= ks) && !ownKeywordsOK(r, sec) {
		return false
	}
	if looksExample(sec) {
		return false
	}
	return r.Validate == nil || r.Validate(sec)
}

// resolve turns candidates into sorted, non-overlapping findings: on overlap a specific
// rule beats a generic one, then the longer span wins, then the earlier one.
func (d *Detector) resolve(cands []candidate) []Finding {
	if len(cands) == 0 {
		return nil
	}
	kept := keepBest(cands, func(c candidate) (int, int) { return c.start, c.end }, func(a, b candidate) int {
		ga, gb := d.rules[a.rule].Generic, d.rules[b.rule].Generic
		if ga != gb {
			if gb {
				return -1
			}
			return 1
		}
		if la, lb := a.end-a.start, b.end-b.start; la != lb {
			return lb - la
		}
		if a.start != b.start {
			return a.start - b.start
		}
		return a.rule - b.rule
	})
	out := make([]Finding, len(kept))
	for i, c := range kept {
		r := &d.rules[c.rule]
		out[i] = Finding{RuleID: r.ID, Class: r.Class, Start: c.start, End: c.end}
	}
	return out
}

// minResidual is the least number of bytes a context rule's secret must hold besides
// copies of the rule's own keywords.
const minResidual = 6

// ownKeywordsOK judges a secret found next to (not at) a keyword of r: bytes that
// spell one of r's keywords (ASCII case folded) do not count as secret, so the rest
// must be at least minResidual bytes and, if r has a MinEntropy, reach it. This
// rejects values that are mostly key names, as in "aws_secret=aws_secret=...".
func ownKeywordsOK(r *compiled, sec []byte) bool {
	var mark [64]uint64 // bytes of sec covered by a keyword; sec longer than 4 KiB is not checked
	if len(sec) > len(mark)*64 {
		return true
	}
	found := false
	for i, c := range sec {
		if c = lowerASCII(c); r.kwLead[c>>6]&(1<<(c&63)) == 0 {
			continue
		}
		for _, kw := range r.lowKw {
			if i+len(kw) <= len(sec) && len(kw) > 0 && kw[0] == c && hasPrefixFold(sec[i:], kw) {
				found = true
				for j := i; j < i+len(kw); j++ {
					mark[j>>6] |= 1 << (j & 63)
				}
			}
		}
	}
	if !found {
		return true
	}
	rest := make([]byte, 0, len(sec))
	for j, c := range sec {
		if mark[j>>6]&(1<<(j&63)) == 0 {
			rest = append(rest, c)
		}
	}
	if len(rest) < minResidual {
		return false
	}
	return r.MinEntropy == 0 || entropy(rest) >= r.MinEntropy
}
