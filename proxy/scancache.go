package proxy

import (
	"hash/maphash"
	"slices"

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

// Key domains: a decoded string's findings, or a raw JSON literal known to be clean.
const (
	domainDecoded = 'd'
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

// key hashes everything a string's treatment depends on: the domain, the member
// name (rules read it), the media type (base64 text payloads are decoded), whether it
// is a member name, and the bytes.
func (c *scanCache) key(domain byte, name, mediaType string, isName bool, s []byte) scanKey {
	var h1, h2 maphash.Hash
	h1.SetSeed(c.seed1)
	h2.SetSeed(c.seed2)
	flag := byte(0)
	if isName {
		flag = 1
	}
	for _, h := range []*maphash.Hash{&h1, &h2} {
		_ = h.WriteByte(domain)
		_ = h.WriteByte(flag)
		_, _ = h.WriteString(name)
		_ = h.WriteByte(0)
		_, _ = h.WriteString(mediaType)
		_ = h.WriteByte(0)
		_, _ = h.Write(s)
	}
	return scanKey{h1.Sum64(), h2.Sum64()}
}

// skipString tells the JSON walk which strings to leave alone: those under a JSON
// path the detector's allowlist names, and long literals scanned before that held
// nothing to replace (unless values have been learned since: a resent conversation
// is then neither decoded nor scanned again).
func (p *Proxy) skipString(f walk.Field, raw []byte) bool {
	if p.detector.SkipPath(f.Path) {
		return true
	}
	if p.scans == nil || len(raw) < minCachedLen {
		return false
	}
	e, ok := p.scans.lru.Get(p.scans.key(domainClean, f.Key, f.MediaType, f.Name, raw))
	if ok && e.clean && e.known == p.known.Len() {
		p.metrics.scanCache.WithLabelValues("clean").Inc()
		return true
	}
	return false
}

// markClean remembers that raw, scanned with known values in the known-value set,
// held nothing to replace.
func (p *Proxy) markClean(f walk.Field, raw []byte, known int) {
	if p.scans == nil || len(raw) < minCachedLen {
		return
	}
	p.scans.lru.Add(p.scans.key(domainClean, f.Key, f.MediaType, f.Name, raw), &scanEntry{known: known, clean: true})
}

// findings returns the secrets in one decoded string: pattern matches and known
// values, non-overlapping, minus anything that is already a token. The result must
// not be modified.
func (p *Proxy) findings(key string, s []byte) []detect.Finding {
	if p.scans == nil || len(s) < minCachedLen {
		return p.merge(s, p.scanPatterns(key, s))
	}
	k := p.scans.key(domainDecoded, key, "", false, s)
	known := p.known.Len()
	e, ok := p.scans.lru.Get(k)
	switch {
	case ok && e.known == known:
		p.metrics.scanCache.WithLabelValues("hit").Inc()
		return e.merged
	case ok:
		p.metrics.scanCache.WithLabelValues("known_rescan").Inc()
		e = &scanEntry{patterns: e.patterns}
	default:
		p.metrics.scanCache.WithLabelValues("miss").Inc()
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
