package bench

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/cloakroom/cloakroom/detect"
	"github.com/cloakroom/cloakroom/proxy/walk"
)

// KindFiller names the strings of a labeled body that hold no plant (the corpus text
// around them, tool inputs, ids, member names) and the config lines around a sample.
const KindFiller = "filler"

// Recall is the score of a detector on labeled bodies: recall per rule class and per
// context, false positives per hard-negative kind. It names rules, contexts and paths,
// never a value.
type Recall struct {
	Bodies, Bytes int
	Rules         int // rules with at least one planted sample
	Classes       []ClassScore
	Contexts      []ContextScore
	Negatives     []NegativeScore // NegativeKinds in order, then KindFiller
	Misses        []Miss
	Flags         []Flag
}

// ClassScore counts the planted samples of one rule class.
type ClassScore struct {
	Class   string
	Rules   int // rules of the class with planted samples
	Samples int // distinct true-positive samples
	Planted int // samples times the contexts they were planted in
	Found   int // planted samples whose secret was covered by findings, every occurrence, every byte
	Exact   int // of those, found by their own rule with exactly the secret's span
}

// ContextScore counts the planted samples of one context.
type ContextScore struct {
	Context        string
	Planted, Found int
}

// NegativeScore counts the strings holding one kind of hard negative.
type NegativeScore struct {
	Kind     string
	Strings  int // strings planted (for KindFiller: strings scanned that hold no plant)
	Values   int // hard-negative values in them
	Scanned  int // strings the walker passed to the detector (the rest are skipped by design)
	Flagged  int // scanned strings with at least one finding
	Findings int
}

// Miss is a planted sample whose secret was not covered.
type Miss struct {
	Rule, Class, Context string
	Sample               int
	// Reason is "not found", "partly covered", "not scanned" or "secret not in text".
	Reason string
	// Got lists the rules of the findings inside the sample's text, if any.
	Got []string
}

// Flag is a finding in a hard negative or filler string.
type Flag struct {
	Kind, Context, Path, Rule string
}

// Recall returns the share of planted samples found, 1 when none were planted.
func (c ClassScore) Recall() float64 { return ratio(c.Found, c.Planted) }

// Recall returns the share of planted samples found, 1 when none were planted.
func (c ContextScore) Recall() float64 { return ratio(c.Found, c.Planted) }

func ratio(a, b int) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}

// Score runs bodies through ScanJSON (the proxy's JSON-aware path, with no known
// values) and scores the findings against the plants.
func Score(d *detect.Detector, bodies []LabeledBody) (*Recall, error) {
	sc := newScorer()
	for i, b := range bodies {
		if err := sc.body(d, b); err != nil {
			return nil, fmt.Errorf("body %d: %w", i, err)
		}
	}
	return sc.result(), nil
}

type scorer struct {
	r        Recall
	classes  map[string]*ClassScore
	rules    map[string]map[string]bool // class -> rule IDs
	samples  map[string]map[string]bool // class -> rule/sample
	contexts map[string]*ContextScore
	negs     map[string]*NegativeScore
}

func newScorer() *scorer {
	sc := &scorer{
		classes:  map[string]*ClassScore{},
		rules:    map[string]map[string]bool{},
		samples:  map[string]map[string]bool{},
		contexts: map[string]*ContextScore{},
		negs:     map[string]*NegativeScore{},
	}
	for _, k := range append(slices.Clone(NegativeKinds), KindFiller) {
		sc.negs[k] = &NegativeScore{Kind: k}
	}
	return sc
}

func (sc *scorer) body(d *detect.Detector, b LabeledBody) error {
	byPath := make(map[string]*Plant, len(b.Plants))
	seen := make(map[string]bool, len(b.Plants))
	for i := range b.Plants {
		p := &b.Plants[i]
		byPath[p.Path] = p
		if p.Negative {
			n := sc.negs[p.Kind]
			n.Strings++
			n.Values += p.Values
		}
	}
	_, _, err := ScanJSON(b.Body, d, nil, func(f walk.Field, s []byte, fs []detect.Finding) {
		var p *Plant
		if !f.Name {
			p = byPath[f.Path]
		}
		switch {
		case p == nil:
			sc.filler(f.Path, "", fs)
		case p.Negative:
			seen[p.Path] = true
			n := sc.negs[p.Kind]
			n.Scanned++
			if len(fs) > 0 {
				n.Flagged++
				n.Findings += len(fs)
				for _, x := range fs {
					sc.r.Flags = append(sc.r.Flags, Flag{Kind: p.Kind, Context: p.Context, Path: p.Path, Rule: x.RuleID})
				}
			}
		default:
			seen[p.Path] = true
			sc.sample(p, s, fs)
		}
	})
	if err != nil {
		return err
	}
	for i := range b.Plants {
		if p := &b.Plants[i]; !p.Negative && !seen[p.Path] {
			sc.count(p, false, false)
			sc.miss(p, "not scanned", nil)
		}
	}
	sc.r.Bodies++
	sc.r.Bytes += len(b.Body)
	return nil
}

// filler counts a string without plant, or (context set) findings in the config
// lines around a sample, which add to the flagged strings but not to those scanned.
func (sc *scorer) filler(path, context string, fs []detect.Finding) {
	n := sc.negs[KindFiller]
	if context == "" {
		n.Strings++
		n.Scanned++
	}
	if len(fs) == 0 {
		return
	}
	n.Flagged++
	n.Findings += len(fs)
	for _, x := range fs {
		sc.r.Flags = append(sc.r.Flags, Flag{Kind: KindFiller, Context: context, Path: path, Rule: x.RuleID})
	}
}

// sample scores the string s holding plant p.
func (sc *scorer) sample(p *Plant, s []byte, fs []detect.Finding) {
	var inside, outside []detect.Finding
	for _, x := range fs {
		if x.End > p.Lo && x.Start < p.Hi {
			inside = append(inside, x)
		} else {
			outside = append(outside, x)
		}
	}
	if len(outside) > 0 {
		sc.filler(p.Path, "around a "+p.Context+" sample", outside)
	}
	got := make([]string, 0, len(inside))
	for _, x := range inside {
		got = append(got, x.RuleID)
	}
	if p.Lo < 0 || p.Hi > len(s) || p.Lo > p.Hi || !bytes.Contains(s[p.Lo:p.Hi], []byte(p.Secret)) {
		sc.count(p, false, false)
		sc.miss(p, "secret not in text", got)
		return
	}
	covered, partly, exact := true, false, false
	sec := []byte(p.Secret)
	for off := p.Lo; ; {
		i := bytes.Index(s[off:p.Hi], sec)
		if i < 0 {
			break
		}
		start, end := off+i, off+i+len(sec)
		c, part := cover(inside, start, end)
		covered = covered && c
		partly = partly || part
		for _, x := range inside {
			exact = exact || x.RuleID == p.Kind && x.Start == start && x.End == end
		}
		off = end
	}
	sc.count(p, covered, covered && exact)
	switch {
	case !covered && partly:
		sc.miss(p, "partly covered", got)
	case !covered:
		sc.miss(p, "not found", got)
	}
}

// cover reports whether sorted, disjoint findings cover every byte of [start, end),
// and whether they cover some of it.
func cover(fs []detect.Finding, start, end int) (all, some bool) {
	at := start
	for _, x := range fs {
		if x.End <= at || x.Start >= end {
			continue
		}
		some = true
		if x.Start > at {
			return false, true
		}
		at = x.End
		if at >= end {
			return true, true
		}
	}
	return false, some
}

func (sc *scorer) count(p *Plant, found, exact bool) {
	c := sc.classes[p.Class]
	if c == nil {
		c = &ClassScore{Class: p.Class}
		sc.classes[p.Class] = c
		sc.rules[p.Class] = map[string]bool{}
		sc.samples[p.Class] = map[string]bool{}
	}
	sc.rules[p.Class][p.Kind] = true
	sc.samples[p.Class][fmt.Sprintf("%s/%d", p.Kind, p.Sample)] = true
	c.Planted++
	x := sc.contexts[p.Context]
	if x == nil {
		x = &ContextScore{Context: p.Context}
		sc.contexts[p.Context] = x
	}
	x.Planted++
	if found {
		c.Found++
		x.Found++
	}
	if exact {
		c.Exact++
	}
}

func (sc *scorer) miss(p *Plant, reason string, got []string) {
	sc.r.Misses = append(sc.r.Misses, Miss{Rule: p.Kind, Class: p.Class, Context: p.Context, Sample: p.Sample, Reason: reason, Got: got})
}

func (sc *scorer) result() *Recall {
	r := sc.r
	all := map[string]bool{}
	for class, c := range sc.classes {
		c.Rules = len(sc.rules[class])
		c.Samples = len(sc.samples[class])
		for id := range sc.rules[class] {
			all[id] = true
		}
		r.Classes = append(r.Classes, *c)
	}
	r.Rules = len(all)
	sort.Slice(r.Classes, func(i, j int) bool { return r.Classes[i].Class < r.Classes[j].Class })
	for _, name := range Contexts {
		if x := sc.contexts[name]; x != nil {
			r.Contexts = append(r.Contexts, *x)
		}
	}
	for _, k := range append(slices.Clone(NegativeKinds), KindFiller) {
		r.Negatives = append(r.Negatives, *sc.negs[k])
	}
	sort.SliceStable(r.Misses, func(i, j int) bool {
		a, b := r.Misses[i], r.Misses[j]
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		return a.Sample < b.Sample
	})
	return &r
}

// Total sums the class scores.
func (r *Recall) Total() ClassScore {
	t := ClassScore{Class: "all", Rules: r.Rules}
	for _, c := range r.Classes {
		t.Samples += c.Samples
		t.Planted += c.Planted
		t.Found += c.Found
		t.Exact += c.Exact
	}
	return t
}

// Markdown renders the score as markdown tables, misses and false positives listed by
// rule, context and path.
func (r *Recall) Markdown() string {
	var b strings.Builder
	// Rounded down, so that anything short of all never reads 100 %.
	pct := func(f float64) string { return fmt.Sprintf("%.1f %%", math.Floor(1000*f)/10) }
	fmt.Fprintf(&b, "%d bodies, %d bytes; %d rules with samples.\n\n", r.Bodies, r.Bytes, r.Rules)
	b.WriteString("| class | rules | samples | planted | found | recall | own rule, exact span |\n|---|---|---|---|---|---|---|\n")
	row := func(c ClassScore) {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %s | %d |\n", c.Class, c.Rules, c.Samples, c.Planted, c.Found, pct(c.Recall()), c.Exact)
	}
	for _, c := range r.Classes {
		row(c)
	}
	t := r.Total()
	t.Class = "**all**"
	row(t)
	b.WriteString("\n| context | planted | found | recall |\n|---|---|---|---|\n")
	for _, c := range r.Contexts {
		fmt.Fprintf(&b, "| %s | %d | %d | %s |\n", c.Context, c.Planted, c.Found, pct(c.Recall()))
	}
	b.WriteString("\n| hard negative | strings | values | scanned | flagged strings | findings |\n|---|---|---|---|---|---|\n")
	for _, n := range r.Negatives {
		values := fmt.Sprint(n.Values)
		if n.Kind == KindFiller {
			values = "—"
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %d | %d | %d |\n", n.Kind, n.Strings, values, n.Scanned, n.Flagged, n.Findings)
	}
	if len(r.Misses) > 0 {
		b.WriteString("\nMissed samples (rule, sample index, context: reason, rules found inside the sample's text):\n\n")
		for _, m := range r.Misses {
			fmt.Fprintf(&b, "- %s #%d, %s: %s", m.Rule, m.Sample, m.Context, m.Reason)
			if len(m.Got) > 0 {
				fmt.Fprintf(&b, " (found %s)", strings.Join(m.Got, ", "))
			}
			b.WriteString("\n")
		}
	}
	if len(r.Flags) > 0 {
		b.WriteString("\nFalse positives (kind, where, rule, path):\n\n")
		for _, f := range r.Flags {
			ctx := f.Context
			if ctx == "" {
				ctx = "corpus text"
			}
			fmt.Fprintf(&b, "- %s, %s: %s at %s\n", f.Kind, ctx, f.Rule, f.Path)
		}
	}
	return b.String()
}
