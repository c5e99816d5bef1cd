package detect

import (
	"math/bits"
	"slices"
)

// keepBest resolves overlapping spans: visiting cands from most to least preferred
// (cmp < 0 means a is preferred to b), it keeps each span that overlaps none kept
// before. It returns the kept spans sorted by start, in O(n log n) time whatever the
// overlap pattern: kept spans sit in a Fenwick tree over the start order, so the
// nearest kept neighbours of a span are found in O(log n). It may reorder and
// overwrite cands, and return a slice of it.
func keepBest[T any](cands []T, span func(T) (int, int), cmp func(a, b T) int) []T {
	n := len(cands)
	if n <= 1 {
		return cands
	}
	if n <= smallKeep {
		return keepBestSmall(cands, span, cmp)
	}
	byStart := make([]int32, n)
	for i := range byStart {
		byStart[i] = int32(i)
	}
	slices.SortFunc(byStart, func(a, b int32) int {
		sa, ea := span(cands[a])
		sb, eb := span(cands[b])
		if sa != sb {
			return sa - sb
		}
		return ea - eb
	})
	pos := make([]int32, n) // candidate -> index in byStart
	for p, i := range byStart {
		pos[i] = int32(p)
	}
	pref := slices.Clone(byStart)
	slices.SortStableFunc(pref, func(a, b int32) int { return cmp(cands[a], cands[b]) })

	kept := make([]bool, n)    // by index in byStart
	tree := make([]int32, n+1) // Fenwick tree of kept flags over byStart
	total := int32(0)
	prefix := func(p int) int32 { // kept among byStart[0..p]
		s := int32(0)
		for i := p + 1; i > 0; i -= i & -i {
			s += tree[i]
		}
		return s
	}
	find := func(k int32) int { // index in byStart of the k-th kept (1-based)
		p := 0
		for step := 1 << (bits.Len(uint(n)) - 1); step > 0; step >>= 1 {
			if q := p + step; q <= n && tree[q] < k {
				p = q
				k -= tree[q]
			}
		}
		return p
	}
	for _, i := range pref {
		p := int(pos[i])
		s, e := span(cands[i])
		c := prefix(p)
		if c > 0 {
			if _, pe := span(cands[byStart[find(c)]]); pe > s {
				continue
			}
		}
		if c < total {
			if ns, _ := span(cands[byStart[find(c+1)]]); ns < e {
				continue
			}
		}
		for j := p + 1; j <= n; j += j & -j {
			tree[j]++
		}
		kept[p] = true
		total++
	}
	out := make([]T, 0, total)
	for p, k := range kept {
		if k {
			out = append(out, cands[byStart[p]])
		}
	}
	return out
}

// smallKeep is the most candidates keepBestSmall resolves.
const smallKeep = 8

// keepBestSmall is keepBest for a few candidates (most scans have none to a handful):
// the same result, by pairwise comparison, without allocating. The kept spans are
// written to the front of cands.
func keepBestSmall[T any](cands []T, span func(T) (int, int), cmp func(a, b T) int) []T {
	n := len(cands)
	// before orders candidates as keepBest visits them: by preference, ties by span.
	before := func(a, b int) bool {
		if c := cmp(cands[a], cands[b]); c != 0 {
			return c < 0
		}
		sa, ea := span(cands[a])
		sb, eb := span(cands[b])
		if sa != sb {
			return sa < sb
		}
		return ea < eb
	}
	var order [smallKeep]int
	for i := 0; i < n; i++ {
		j := i
		for ; j > 0 && before(i, order[j-1]); j-- {
			order[j] = order[j-1]
		}
		order[j] = i
	}
	var kept [smallKeep]int // kept candidates, by start
	k := 0
next:
	for _, i := range order[:n] {
		s, e := span(cands[i])
		for _, q := range kept[:k] {
			if qs, qe := span(cands[q]); qs < e && s < qe {
				continue next
			}
		}
		j := k
		for ; j > 0; j-- {
			if qs, _ := span(cands[kept[j-1]]); qs < s {
				break
			}
		}
		copy(kept[j+1:k+1], kept[j:k])
		kept[j] = i
		k++
	}
	var out [smallKeep]T
	for p, i := range kept[:k] {
		out[p] = cands[i]
	}
	return append(cands[:0], out[:k]...)
}
