package detect

import "slices"

// Merge merges two lists of findings, each sorted and non-overlapping (as Scan and
// KnownSet.Scan return them), into one: where two overlap, the earlier one wins,
// then the longer. The result may share a's or b's backing array.
func Merge(a, b []Finding) []Finding {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return b
	}
	all := append(append(make([]Finding, 0, len(a)+len(b)), a...), b...)
	slices.SortFunc(all, func(x, y Finding) int {
		if x.Start != y.Start {
			return x.Start - y.Start
		}
		return (y.End - y.Start) - (x.End - x.Start)
	})
	out := all[:0]
	for _, f := range all {
		if n := len(out); n > 0 && f.Start < out[n-1].End {
			continue
		}
		out = append(out, f)
	}
	return out
}
