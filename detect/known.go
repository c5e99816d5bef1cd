package detect

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"
)

// DefaultKnownMinLen is the shortest value a KnownSet holds when NewKnownSet is given
// a length <= 0.
const DefaultKnownMinLen = 8

// KnownSet finds exact occurrences of known secret values (values the vault already
// holds) anywhere in a text, with no pattern: a secret restored to an agent comes back
// in later prompts in contexts no rule matches.
//
// Values are indexed by their first bytes (up to 8) in a hash table guarded by a bit
// filter, so Scan costs one filter probe per input byte whatever the number of values.
// Values that share those bytes (every JWT starts "eyJhbGci") are kept sorted in their
// bucket and found by binary search, so a crowded bucket costs a logarithmic number
// of comparisons, not one per value.
// Scan works on an immutable snapshot of the index; Add records values under a mutex
// and the next Scan publishes a new snapshot. Rebuilds are incremental: new values go
// to a small table that is merged into the main one once it grows past a quarter of
// it. A KnownSet is safe for concurrent use, Add while Scan runs included, and never
// prints its values.
type KnownSet struct {
	minLen int
	keyLen int    // bytes of a value's index key: min(8, minLen)
	mask   uint64 // keeps keyLen bytes of a little-endian load

	mu      sync.Mutex
	entries []knownEntry       // append-only; guarded by mu
	all     map[uint64][]int32 // every entry by key, for dedupe; guarded by mu
	count   atomic.Int64       // len(entries), readable without mu
	idx     atomic.Pointer[knownIndex]
	probes  atomic.Int64 // value comparisons made by Scan, for tests
}

type knownEntry struct {
	value       []byte
	class, rule string
	run         []byte // the value's longest run of ASCII letters and digits (AbsentSince)
}

// knownIndex is an immutable snapshot of a KnownSet, except for filter, which only
// ever gains bits (atomically) while its size stays the same.
type knownIndex struct {
	n       int          // entries covered
	baseN   int          // entries in base; entries[baseN:n] are in recent
	entries []knownEntry // entries[:n]
	shift   uint         // 64 - log2(filter bits)
	filter  []atomic.Uint64
	// filter4 holds the 4-byte windows at offsets 0 to 3 of every value, when values
	// are 8 bytes or longer: Scan then probes every fourth position only (stride).
	filter4 []atomic.Uint64
	base    map[uint64]*knownBucket
	recent  map[uint64]*knownBucket
}

// knownBucket holds the values that share an index key, sorted by bytes. parent[j] is
// the position of the longest other value that is a prefix of value j, or -1.
type knownBucket struct {
	ents   []int32
	parent []int32
}

const (
	filterBitsPerValue = 128 // filter size target: under 1% false probes
	// minFilterBits is the smallest filter: 2 KiB. A set of the few dozen values a
	// session learns keeps its filters to a few cache lines, which a request scanned
	// after seconds of idle finds evicted: larger ones cost cache misses, not probes.
	minFilterBits = 1 << 14
	hashMul       = 0x9E3779B97F4A7C15
)

// NewKnownSet returns an empty set that ignores values shorter than minLen bytes
// (DefaultKnownMinLen when minLen <= 0).
func NewKnownSet(minLen int) *KnownSet {
	if minLen <= 0 {
		minLen = DefaultKnownMinLen
	}
	kl := min(8, minLen)
	return &KnownSet{
		minLen: minLen,
		keyLen: kl,
		mask:   ^uint64(0) >> (64 - 8*kl),
		all:    map[uint64][]int32{},
	}
}

// key returns the index key of the value (or text) starting at b: its first keyLen
// bytes, little-endian. len(b) must be >= keyLen.
func (k *KnownSet) key(b []byte) uint64 {
	if len(b) >= 8 {
		return binary.LittleEndian.Uint64(b) & k.mask
	}
	var buf [8]byte
	copy(buf[:], b[:k.keyLen])
	return binary.LittleEndian.Uint64(buf[:]) & k.mask
}

// Add records a copy of value, reported with class and ruleID when found. Values
// shorter than the set's minimum length, and values already held, are ignored.
func (k *KnownSet) Add(value []byte, class, ruleID string) {
	if len(value) < k.minLen {
		return
	}
	key := k.key(value)
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, i := range k.all[key] {
		if bytes.Equal(k.entries[i].value, value) {
			return
		}
	}
	k.all[key] = append(k.all[key], int32(len(k.entries)))
	v := bytes.Clone(value)
	k.entries = append(k.entries, knownEntry{value: v, class: class, rule: ruleID, run: longestAlnumRun(v)})
	k.count.Store(int64(len(k.entries)))
}

// longestAlnumRun returns the first of the longest runs of ASCII letters and digits
// in v (empty if it has none).
func longestAlnumRun(v []byte) []byte {
	var best []byte
	for i := 0; i < len(v); {
		if !isAlnum(v[i]) {
			i++
			continue
		}
		j := i
		for j < len(v) && isAlnum(v[j]) {
			j++
		}
		if j-i > len(best) {
			best = v[i:j]
		}
		i = j
	}
	return best
}

// maxSinceValues bounds the values AbsentSince looks for.
const maxSinceValues = 16

// AbsentSince reports whether no value added after the set's first n can occur in
// text read in a way that leaves ASCII letters and digits as they are: JSON text
// whose strings are decoded, say, unless it writes one of those as a \u escape (the
// caller rules that out). Such an occurrence holds the value's longest run of
// letters and digits as it is, so text is searched for each run. A false answer
// may be wrong (the run found may not be part of the value), a true one is not:
// it is false for a value without letters or digits, and when more than
// maxSinceValues values were added. It lets a walk resumed after values were
// learned skip scanning the resent prefix for them.
func (k *KnownSet) AbsentSince(n int, text []byte) bool {
	k.mu.Lock()
	var since []knownEntry
	if n < len(k.entries) {
		since = k.entries[max(n, 0):len(k.entries):len(k.entries)]
	}
	k.mu.Unlock()
	if len(since) > maxSinceValues {
		return false
	}
	for _, e := range since { // entries never change once added
		if len(e.run) == 0 || bytes.Contains(text, e.run) {
			return false
		}
	}
	return true
}

// Len returns the number of distinct values held.
func (k *KnownSet) Len() int { return int(k.count.Load()) }

// String describes the set without its values.
func (k *KnownSet) String() string { return fmt.Sprintf("detect.KnownSet(%d values)", k.Len()) }

// Format prints the String form for every verb, so values never reach fmt output.
func (k *KnownSet) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.String())) }

// snapshot returns an index covering every value added so far.
func (k *KnownSet) snapshot() *knownIndex {
	idx := k.idx.Load()
	if idx != nil && int64(idx.n) == k.count.Load() {
		return idx
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	idx = k.idx.Load()
	if idx != nil && idx.n == len(k.entries) {
		return idx
	}
	idx = k.build(idx)
	k.idx.Store(idx)
	return idx
}

// build returns a new index over k.entries, reusing old where it can. k.mu is held.
func (k *KnownSet) build(old *knownIndex) *knownIndex {
	n := len(k.entries)
	entries := k.entries[:n:n]
	fbits := filterSize(n)
	if old == nil || len(old.filter)*64 < n*filterBitsPerValue/4 || n-old.baseN > 256+old.baseN/4 {
		idx := &knownIndex{n: n, baseN: n, entries: entries, shift: uint(64 - bits.TrailingZeros(uint(fbits)))}
		idx.filter = make([]atomic.Uint64, fbits/64)
		if k.stride() {
			idx.filter4 = make([]atomic.Uint64, fbits/64)
		}
		idx.base = k.table(entries, 0, n, nil, idx)
		return idx
	}
	idx := &knownIndex{n: n, baseN: old.baseN, entries: entries, shift: old.shift, filter: old.filter, filter4: old.filter4, base: old.base}
	idx.recent = k.table(entries, old.n, n, old.recent, idx)
	return idx
}

// table returns a copy of prev plus entries[from:to] by key, and sets their filter
// bits in idx. Each touched bucket is rebuilt once.
func (k *KnownSet) table(entries []knownEntry, from, to int, prev map[uint64]*knownBucket, idx *knownIndex) map[uint64]*knownBucket {
	added := map[uint64][]int32{}
	for i := from; i < to; i++ {
		key := k.key(entries[i].value)
		added[key] = append(added[key], int32(i))
		h := (key * hashMul) >> idx.shift
		idx.filter[h>>6].Or(1 << (h & 63))
		if idx.filter4 != nil {
			for off := 0; off < strideStep; off++ {
				h4 := (uint64(binary.LittleEndian.Uint32(entries[i].value[off:])) * hashMul) >> idx.shift
				idx.filter4[h4>>6].Or(1 << (h4 & 63))
			}
		}
	}
	m := make(map[uint64]*knownBucket, len(prev)+len(added))
	for key, b := range prev {
		m[key] = b
	}
	for key, list := range added {
		if old := m[key]; old != nil {
			list = append(list, old.ents...)
		}
		m[key] = newKnownBucket(entries, list)
	}
	return m
}

// newKnownBucket sorts ents (distinct values) by bytes and links each value to its
// longest prefix among them.
func newKnownBucket(entries []knownEntry, ents []int32) *knownBucket {
	slices.SortFunc(ents, func(a, b int32) int { return bytes.Compare(entries[a].value, entries[b].value) })
	parent := make([]int32, len(ents))
	var chain []int32 // positions of values that are prefixes of the current one, shortest first
	for j, e := range ents {
		v := entries[e].value
		for len(chain) > 0 && !bytes.HasPrefix(v, entries[ents[chain[len(chain)-1]]].value) {
			chain = chain[:len(chain)-1]
		}
		parent[j] = -1
		if len(chain) > 0 {
			parent[j] = chain[len(chain)-1]
		}
		chain = append(chain, int32(j))
	}
	return &knownBucket{ents: ents, parent: parent}
}

// match returns the longest value in b that is a prefix of s, and the number of value
// comparisons made. The largest value u <= s is the answer when it is a prefix of s;
// otherwise the answer is the longest prefix of u no longer than their common prefix.
func (b *knownBucket) match(entries []knownEntry, s []byte) (int32, int, bool) {
	lo, hi := 0, len(b.ents) // find the first value > s
	probes := 0
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		probes++
		if bytes.Compare(entries[b.ents[mid]].value, s) <= 0 {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	j := lo - 1
	if j < 0 {
		return 0, probes, false
	}
	u := entries[b.ents[j]].value
	probes++
	if bytes.HasPrefix(s, u) {
		return b.ents[j], probes, true
	}
	l := commonPrefix(u, s)
	for j = int(b.parent[j]); j >= 0; j = int(b.parent[j]) {
		probes++
		if len(entries[b.ents[j]].value) <= l {
			return b.ents[j], probes, true
		}
	}
	return 0, probes, false
}

// commonPrefix returns the length of the longest common prefix of a and b.
func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for ; i+8 <= n; i += 8 {
		if x := binary.LittleEndian.Uint64(a[i:]) ^ binary.LittleEndian.Uint64(b[i:]); x != 0 {
			return i + bits.TrailingZeros64(x)/8
		}
	}
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}

func filterSize(n int) int {
	size := minFilterBits
	for size < n*filterBitsPerValue && size < 1<<30 {
		size <<= 1
	}
	return size
}

// knownMatch is a value found at a position.
type knownMatch struct {
	start, end int
	entry      int32
}

// Scan returns every occurrence of a held value in input, sorted by Start and
// non-overlapping; on overlap the longer occurrence wins. RuleID and Class are those
// given to Add. It allocates nothing when input holds no value.
func (k *KnownSet) Scan(input []byte) []Finding {
	if len(input) < k.minLen || k.count.Load() == 0 {
		return nil
	}
	idx := k.snapshot()
	if idx.filter4 != nil {
		return k.scanStride(idx, input)
	}
	var buf [4]knownMatch // matches stay on the stack unless there are many
	found := buf[:0]
	probes := 0
	shift, filter, mask := idx.shift, idx.filter, k.mask
	last := len(input) - k.minLen
	fast := min(last, len(input)-8)
	i := 0
	for ; i <= fast; i++ {
		key := binary.LittleEndian.Uint64(input[i:]) & mask
		h := (key * hashMul) >> shift
		if filter[h>>6].Load()&(1<<(h&63)) != 0 {
			found = idx.add(found, input, i, key, &probes)
		}
	}
	for ; i <= last; i++ { // the last few positions, fewer than 8 bytes left
		key := k.key(input[i:])
		h := (key * hashMul) >> shift
		if filter[h>>6].Load()&(1<<(h&63)) != 0 {
			found = idx.add(found, input, i, key, &probes)
		}
	}
	if probes > 0 {
		k.probes.Add(int64(probes))
	}
	return idx.resolve(found)
}

// strideStep is the distance between the positions scanStride probes.
const strideStep = 4

// stride reports whether values are long enough for scanStride: an occurrence of a
// value of 8 bytes or more holds, at one of its offsets 0 to 3, a 4-byte window that
// starts at a multiple of 4 in the input.
func (k *KnownSet) stride() bool { return k.minLen >= 2*strideStep }

// scanStride is Scan probing every fourth position: the 4-byte window there is looked
// up among the values' windows at offsets 0 to 3, and on a hit the four positions it
// may be that offset of are tried as starts. A quarter of the probes of the position
// by position scan, for the same findings (FuzzKnownSet checks both).
func (k *KnownSet) scanStride(idx *knownIndex, input []byte) []Finding {
	var buf [4]knownMatch // matches stay on the stack unless there are many
	found := buf[:0]
	probes := 0
	last := len(input) - k.minLen // last start a value fits at
	end := min(last+strideStep, len(input)-3)
	for p := 0; ; p += strideStep {
		if p = probe4(input, p, end, idx.filter4, idx.shift); p >= end {
			break
		}
		found = idx.strideHit(found, input, p, last, &probes)
	}
	if probes > 0 {
		k.probes.Add(int64(probes))
	}
	return idx.resolve(found)
}

// probe4 returns the first of the positions p, p+strideStep, ... below end whose
// 4-byte window is in filter4, or end if none is. A loop of its own, without calls and
// with few values, which the compiler keeps in registers; two probes per 8-byte load.
func probe4(input []byte, p, end int, filter4 []atomic.Uint64, shift uint) int {
	if len(filter4) == 0 {
		return end
	}
	shift &= 63
	mask := uint64(len(filter4) - 1) // a power of two: the index stays in range
	for ; p+4 < end && p+8 <= len(input); p += 2 * strideStep {
		x := binary.LittleEndian.Uint64(input[p:])
		h0 := (uint64(uint32(x)) * hashMul) >> shift
		h1 := ((x >> 32) * hashMul) >> shift
		if filter4[(h0>>6)&mask].Load()&(1<<(h0&63)) != 0 {
			return p
		}
		if filter4[(h1>>6)&mask].Load()&(1<<(h1&63)) != 0 {
			return p + strideStep
		}
	}
	for ; p < end && p+4 <= len(input); p += strideStep {
		h := (uint64(binary.LittleEndian.Uint32(input[p:])) * hashMul) >> shift
		if filter4[(h>>6)&mask].Load()&(1<<(h&63)) != 0 {
			return p
		}
	}
	return end
}

// strideHit tries the starts p-3 to p (and no later than last) after a hit of
// scanStride's probe at p. It is kept out of the probe loop, which it would slow.
func (idx *knownIndex) strideHit(found []knownMatch, input []byte, p, last int, probes *int) []knownMatch {
	shift, filter := idx.shift&63, idx.filter
	for s := max(0, p-strideStep+1); s <= p && s <= last; s++ {
		key := binary.LittleEndian.Uint64(input[s:]) // s+8 <= len: minLen >= 8
		h := (key * hashMul) >> shift
		if filter[h>>6].Load()&(1<<(h&63)) != 0 {
			found = idx.add(found, input, s, key, probes)
		}
	}
	return found
}

// add appends the longest held value at input[i:], unless it lies inside the
// previous occurrence.
func (idx *knownIndex) add(found []knownMatch, input []byte, i int, key uint64, probes *int) []knownMatch {
	e, ok := idx.match(input[i:], key, probes)
	if !ok {
		return found
	}
	end := i + len(idx.entries[e].value)
	if n := len(found); n > 0 && found[n-1].start <= i && end <= found[n-1].end {
		return found
	}
	return append(found, knownMatch{start: i, end: end, entry: e})
}

// match returns the longest held value that is a prefix of s, adding the value
// comparisons made to probes.
func (idx *knownIndex) match(s []byte, key uint64, probes *int) (int32, bool) {
	best, found := int32(0), false
	for _, m := range [2]map[uint64]*knownBucket{idx.base, idx.recent} {
		b := m[key]
		if b == nil {
			continue
		}
		e, p, ok := b.match(idx.entries, s)
		*probes += p
		if ok && (!found || len(idx.entries[e].value) > len(idx.entries[best].value)) {
			best, found = e, true
		}
	}
	return best, found
}

// resolve keeps the longest of overlapping occurrences and returns findings by Start.
func (idx *knownIndex) resolve(found []knownMatch) []Finding {
	if len(found) == 0 {
		return nil
	}
	kept := keepBest(found, func(m knownMatch) (int, int) { return m.start, m.end }, func(a, b knownMatch) int {
		if la, lb := a.end-a.start, b.end-b.start; la != lb {
			return lb - la
		}
		return a.start - b.start
	})
	out := make([]Finding, len(kept))
	for i, m := range kept {
		e := &idx.entries[m.entry]
		out[i] = Finding{RuleID: e.rule, Class: e.class, Start: m.start, End: m.end}
	}
	return out
}
