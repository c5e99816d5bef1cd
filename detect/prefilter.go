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
	heads   []kwHead                    // per keyword: its first 8 bytes, for verify
	minLen  int                         // shortest keyword
}

// kwHead holds a keyword's first (up to) 8 bytes for a one-word comparison: the 8
// input bytes x at a position start with them, case folded, iff x|fold&mask == val.
// fold sets 0x20 where the keyword has a letter: OR-ing it folds exactly A-Z onto
// a-z there, and other bytes must equal the keyword's.
type kwHead struct {
	val, fold, mask uint64
}

func newKWHead(kw string) kwHead {
	var h kwHead
	for j := 0; j < len(kw) && j < 8; j++ {
		c := uint64(kw[j])
		h.val |= c << (8 * j)
		h.mask |= 0xFF << (8 * j)
		if kw[j] >= 'a' && kw[j] <= 'z' {
			h.fold |= 0x20 << (8 * j)
		}
	}
	return h
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
		p.heads = append(p.heads, newKWHead(kw))
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
	if len(p.kws) == 0 || len(input) < p.minLen {
		return
	}
	for i := 0; ; i++ {
		var h uint32
		if i, h = p.next(input, i); i < 0 {
			return
		}
		p.verify(input, i, h, hit)
	}
}

// next returns the first position from i on whose gram's bit is set, and the gram's
// hash, or -1. It is the probe loop, kept apart from verify and the rules so that
// its values stay in registers.
func (p *prefilter) next(input []byte, i int) (int, uint32) {
	n := len(input)
	bm := &p.bitmap
	// Four positions per 8-byte load: the grams at i to i+3, folded as gram does.
	if i < n {
		b := input[i:]
		for ; len(b) >= 8; b = b[4:] {
			x := binary.LittleEndian.Uint64(b) | 0x2020202020202020
			h0 := gramHash(uint32(x) & 0xFFFFFF)
			h1 := gramHash(uint32(x>>8) & 0xFFFFFF)
			h2 := gramHash(uint32(x>>16) & 0xFFFFFF)
			h3 := gramHash(uint32(x>>24) & 0xFFFFFF)
			if bm[h0>>6]&(1<<(h0&63)) != 0 {
				return n - len(b), h0
			}
			if bm[h1>>6]&(1<<(h1&63)) != 0 {
				return n - len(b) + 1, h1
			}
			if bm[h2>>6]&(1<<(h2&63)) != 0 {
				return n - len(b) + 2, h2
			}
			if bm[h3>>6]&(1<<(h3&63)) != 0 {
				return n - len(b) + 3, h3
			}
		}
		i = n - len(b)
	}
	// The last positions, fewer than 8 bytes from the end: the bytes past it read as
	// zeros (which fold to blanks, as in gram).
	if i < n {
		var buf [16]byte
		copy(buf[:8], input[i:])
		for j := 0; j < 8 && i+j+p.minLen <= n; j++ {
			x := binary.LittleEndian.Uint32(buf[j:]) | 0x20202020
			if h := gramHash(x & 0xFFFFFF); bm[h>>6]&(1<<(h&63)) != 0 {
				return i + j, h
			}
		}
	}
	return -1, 0
}

// verify reports the keywords of bucket h that occur at input[i:].
func (p *prefilter) verify(input []byte, i int, h uint32, hit func(k, start int)) {
	var x uint64 // the 8 bytes at i, zero-padded past the end (the length test below rules those out)
	if i+8 <= len(input) {
		x = binary.LittleEndian.Uint64(input[i:])
	} else {
		var b [8]byte
		copy(b[:], input[i:])
		x = binary.LittleEndian.Uint64(b[:])
	}
	for _, k := range p.bucket(h) {
		kh := &p.heads[k]
		if (x|kh.fold)&kh.mask != kh.val {
			continue
		}
		kw := p.kws[k]
		if i+len(kw) <= len(input) && (len(kw) <= 8 || hasPrefixFold(input[i+8:], kw[8:])) {
			hit(int(k), i)
		}
	}
}
