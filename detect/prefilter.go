package detect

import (
	"encoding/binary"
	"math/bits"
)

// prefilter finds every case-insensitive occurrence of a set of keywords in one pass.
//
// For each input position it folds the next three bytes to lower case (OR 0x20, which
// is exact for letters and only merges some punctuation, which the exact check below
// sorts out) and tests their hash in a 64 Kib bitmap built from the first three bytes
// of every keyword. The tests of successive positions do not depend on each other, so
// the CPU overlaps them: this runs several times faster than an Aho-Corasick DFA,
// whose every step waits on the previous table load. Only at positions whose hash is
// set (a few percent of prose and code) does it compare the keywords of that bucket
// with the input.
type prefilter struct {
	bitmap  [1 << (hashBits - 6)]uint64
	rank    [1 << (hashBits - 6)]uint32 // set bits before each bitmap word
	offsets []uint32                    // per set bit (by rank): start into list; one extra at the end
	list    []int32                     // keyword indexes, grouped by bucket
	kws     []string                    // lowercase keywords
	minLen  int                         // shortest keyword
}

const (
	hashBits = 16
	gramMul  = 0x9E3779B97F4A7C15
)

func gramHash(x uint32) uint32 { return uint32((uint64(x) * gramMul) >> (64 - hashBits)) }

// gram folds the three bytes starting at b[0] as the scan does.
func gram(b0, b1, b2 byte) uint32 {
	return (uint32(b0) | uint32(b1)<<8 | uint32(b2)<<16) | 0x202020
}

// newPrefilter builds a prefilter for keywords, which must be lowercase and at least
// two bytes long.
func newPrefilter(keywords []string) *prefilter {
	p := &prefilter{kws: keywords}
	buckets := map[uint32][]int32{}
	for i, kw := range keywords {
		if p.minLen == 0 || len(kw) < p.minLen {
			p.minLen = len(kw)
		}
		if len(kw) >= 3 {
			h := gramHash(gram(kw[0], kw[1], kw[2]))
			buckets[h] = append(buckets[h], int32(i))
			continue
		}
		// Two-byte keyword: any third byte. (Scan pads the input's end with zeros.)
		seen := map[uint32]bool{}
		for c := 0; c < 256; c++ {
			h := gramHash(gram(kw[0], kw[1], byte(c)))
			if !seen[h] {
				seen[h] = true
				buckets[h] = append(buckets[h], int32(i))
			}
		}
	}
	for h := range buckets {
		p.bitmap[h>>6] |= 1 << (h & 63)
	}
	n := uint32(0)
	for w := range p.bitmap {
		p.rank[w] = n
		n += uint32(bits.OnesCount64(p.bitmap[w]))
	}
	p.offsets = make([]uint32, 0, int(n)+1)
	for w := range p.bitmap {
		for word := p.bitmap[w]; word != 0; word &= word - 1 {
			h := uint32(w<<6 | bits.TrailingZeros64(word))
			p.offsets = append(p.offsets, uint32(len(p.list)))
			p.list = append(p.list, buckets[h]...)
		}
	}
	p.offsets = append(p.offsets, uint32(len(p.list)))
	return p
}

// bucket returns the keywords whose first three bytes hash to h (whose bit is set).
func (p *prefilter) bucket(h uint32) []int32 {
	w := h >> 6
	r := p.rank[w] + uint32(bits.OnesCount64(p.bitmap[w]&(1<<(h&63)-1)))
	return p.list[p.offsets[r]:p.offsets[r+1]]
}

// scan calls hit for every keyword occurrence in input, in order of start.
func (p *prefilter) scan(input []byte, hit func(k, start int)) {
	n := len(input)
	if len(p.kws) == 0 || n < p.minLen {
		return
	}
	bm := &p.bitmap
	i := 0
	for ; i+4 <= n; i++ {
		x := binary.LittleEndian.Uint32(input[i:]) | 0x20202020
		h := gramHash(x & 0xFFFFFF)
		if bm[h>>6]&(1<<(h&63)) != 0 {
			p.verify(input, i, h, hit)
		}
	}
	for ; i+p.minLen <= n; i++ { // tail, zero-padded
		var b [3]byte
		copy(b[:], input[i:])
		h := gramHash(gram(b[0], b[1], b[2]))
		if bm[h>>6]&(1<<(h&63)) != 0 {
			p.verify(input, i, h, hit)
		}
	}
}

// verify reports the keywords of bucket h that occur at input[i:].
func (p *prefilter) verify(input []byte, i int, h uint32, hit func(k, start int)) {
	for _, k := range p.bucket(h) {
		kw := p.kws[k]
		if i+len(kw) <= len(input) && hasPrefixFold(input[i:], kw) {
			hit(int(k), i)
		}
	}
}
