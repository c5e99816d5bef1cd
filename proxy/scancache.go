package proxy

import (
	"encoding/binary"
	"hash/maphash"
	"slices"
	"unsafe"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/cloakroom/cloakroom/detect"
	"github.com/cloakroom/cloakroom/proxy/walk"
	"github.com/cloakroom/cloakroom/tokenize"
)

// Scan cache. Each agent turn resends the whole conversation, so nearly every string
// of a request body was scanned in an earlier request. Findings of long strings are
// kept in an LRU keyed by a 128-bit keyed hash of the member name and the value, so
// a resent conversation costs one hash per string instead of a scan. Known values
// only grow: an entry remembers how many there were when it was made, and when more
// have been learned since, only the known-value scan is run again. With the cache on,
// a resent body's prefix is not even parsed again (resume.go).
const (
	// DefaultScanCacheEntries is the size of the scan cache when Config leaves it zero.
	DefaultScanCacheEntries = 1 << 15
	// minCachedLen is the shortest string worth a cache entry: shorter ones scan in
	// about the time a lookup takes, and hold few of a body's bytes.
	minCachedLen = 256
)

type scanKey struct{ h1, h2 uint64 }

// Key domains: a decoded string's findings; a JSON string literal's findings, keyed
// by the literal's raw bytes (what it decodes to is a function of them, so a
// literal's bytes are hashed once, escaped or not); or a raw JSON literal known to
// be clean.
const (
	domainDecoded = 'd'
	domainLiteral = 'l'
	domainClean   = 'c'
)

// scanEntry is what one string's scan found. Its slices are never modified once
// the entry is in the cache.
type scanEntry struct {
	patterns []detect.Finding // the detector's findings
	known    int              // size of the known-value set when merged was made
	merged   []detect.Finding // patterns merged with known values, tokens removed
	clean    bool             // a raw literal that held nothing to replace
}

type scanCache struct {
	lru          *lru.Cache[scanKey, *scanEntry]
	seed1, seed2 maphash.Seed
	resume       *resumeCache // where resent bodies resume (resume.go); on with the cache
}

func newScanCache(entries int) *scanCache {
	c, err := lru.New[scanKey, *scanEntry](entries)
	if err != nil {
		return nil
	}
	return &scanCache{lru: c, seed1: maphash.MakeSeed(), seed2: maphash.MakeSeed(), resume: newResumeCache()}
}

// strHash is a string's bytes run through the cache's two keyed hashes. A string
// has a key per domain (and use), each finished from a copy (key): its bytes are
// hashed once.
type strHash struct {
	h1, h2 maphash.Hash
	n      int
}

func (c *scanCache) hash(s []byte) strHash {
	var h strHash
	h.h1.SetSeed(c.seed1)
	h.h2.SetSeed(c.seed2)
	_, _ = h.h1.Write(s)
	_, _ = h.h2.Write(s)
	h.n = len(s)
	return h
}

// key finishes h with everything a string's treatment depends on besides its bytes:
// the domain, the member name (rules read it), the media type (base64 text payloads
// are decoded) and whether it is a member name. The lengths come last, so that no
// two different inputs hash the same bytes.
func (h *strHash) key(domain byte, name, mediaType string, isName bool) scanKey {
	var tail [2 + 3*8]byte
	tail[0] = domain
	if isName {
		tail[1] = 1
	}
	binary.LittleEndian.PutUint64(tail[2:], uint64(h.n))
	binary.LittleEndian.PutUint64(tail[10:], uint64(len(name)))
	binary.LittleEndian.PutUint64(tail[18:], uint64(len(mediaType)))
	sum := func(x maphash.Hash) uint64 { // a copy: h stays as it is
		_, _ = x.WriteString(name)
		_, _ = x.WriteString(mediaType)
		_, _ = x.Write(tail[:])
		return x.Sum64()
	}
	return scanKey{sum(h.h1), sum(h.h2)}
}

// key hashes s and finishes its key in one go.
func (c *scanCache) key(domain byte, name, mediaType string, isName bool, s []byte) scanKey {
	h := c.hash(s)
	return h.key(domain, name, mediaType, isName)
}

// hashMemo keeps the hash of the raw literal the walk's skip hook last looked up,
// for the callback the walk calls next on the same literal: to key the findings of
// its decoded content (domainLiteral) and to mark it clean. A walk of one body runs
// on one goroutine: each walk has its own memo.
type hashMemo struct {
	ptr *byte // the literal's first byte, nil when the memo is empty
	n   int
	h   strHash
}

// set hashes raw into the memo.
func (m *hashMemo) set(c *scanCache, raw []byte) *strHash {
	m.h, m.ptr, m.n = c.hash(raw), unsafe.SliceData(raw), len(raw)
	return &m.h
}

// literal returns the memo's hash if raw is the very slice it hashed, else nil.
func (m *hashMemo) literal(raw []byte) *strHash {
	if m.ptr != nil && m.ptr == unsafe.SliceData(raw) && m.n == len(raw) {
		return &m.h
	}
	return nil
}

// of returns the hash of b: the memo's if b is the very slice it hashed, else b's own.
func (m *hashMemo) of(c *scanCache, b []byte) *strHash {
	if h := m.literal(b); h != nil {
		return h
	}
	h := c.hash(b)
	return &h
}

// skipString tells the JSON walk which strings to leave alone: those under a JSON
// path the detector's allowlist names, and long literals scanned before that held
// nothing to replace (unless values have been learned since: a resent conversation
// is then neither decoded nor scanned again). It leaves raw's hash in memo for the
// callback that follows.
func (p *Proxy) skipString(f walk.Field, raw []byte, memo *hashMemo) bool {
	memo.ptr = nil // whatever happens, the memo is not the previous string's
	if p.detector.SkipPath(f.Path) {
		return true
	}
	if p.scans == nil || len(raw) < minCachedLen {
		return false
	}
	e, ok := p.scans.lru.Get(memo.set(p.scans, raw).key(domainClean, f.Key, f.MediaType, f.Name))
	if ok && e.clean && e.known == p.known.Len() {
		p.metrics.cached(cacheClean)
		return true
	}
	return false
}

// markClean remembers that raw, scanned with known values in the known-value set,
// held nothing to replace. memo may hold raw's hash (skipString).
func (p *Proxy) markClean(f walk.Field, raw []byte, known int, memo *hashMemo) {
	if p.scans == nil || len(raw) < minCachedLen {
		return
	}
	k := memo.of(p.scans, raw).key(domainClean, f.Key, f.MediaType, f.Name)
	p.scans.lru.Add(k, &scanEntry{known: known, clean: true})
}

// findings returns the secrets in one decoded string: pattern matches and known
// values, non-overlapping, minus anything that is already a token. The result must
// not be modified. lit, if not nil, is the hash of the raw JSON literal s is the
// content of, which then keys the cache.
func (p *Proxy) findings(key string, s []byte, lit *strHash) []detect.Finding {
	if p.scans == nil || len(s) < minCachedLen {
		return p.merge(s, p.scanPatterns(key, s))
	}
	var k scanKey
	if lit != nil {
		k = lit.key(domainLiteral, key, "", false)
	} else {
		k = p.scans.key(domainDecoded, key, "", false, s)
	}
	known := p.known.Len()
	e, ok := p.scans.lru.Get(k)
	switch {
	case ok && e.known == known:
		p.metrics.cached(cacheHit)
		return e.merged
	case ok:
		p.metrics.cached(cacheKnownRescan)
		e = &scanEntry{patterns: e.patterns}
	default:
		p.metrics.cached(cacheMiss)
		e = &scanEntry{patterns: p.scanPatterns(key, s)}
	}
	e.known = known
	e.merged = p.merge(s, slices.Clone(e.patterns))
	p.scans.lru.Add(k, e)
	return e.merged
}

func (p *Proxy) scanPatterns(key string, s []byte) []detect.Finding {
	if key != "" {
		return p.detector.ScanField(key, s)
	}
	return p.detector.Scan(s)
}

// merge adds the known values found in s to fs and drops what is already a token.
// It may reorder and modify fs.
func (p *Proxy) merge(s []byte, fs []detect.Finding) []detect.Finding {
	if p.known.Len() > 0 {
		fs = detect.Merge(fs, p.known.Scan(s))
	}
	return slices.DeleteFunc(fs, func(f detect.Finding) bool {
		return tokenize.Contains(s[f.Start:f.End]) || f.End <= f.Start
	})
}
