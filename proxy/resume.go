package proxy

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"slices"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/cloakroom/cloakroom/detect"
	"github.com/cloakroom/cloakroom/internal/audit"
	"github.com/cloakroom/cloakroom/proxy/walk"
	"github.com/cloakroom/cloakroom/tokenize"
)

// Resumed history. An agent turn resends the conversation: its body starts with the
// bytes of the previous turn's body up to somewhere in the last messages. The scan
// cache makes each resent string cost a hash, but the body is still parsed whole.
// So for each principal the proxy also remembers, for its last few bodies, where a
// walk can resume (walk.Checkpoint, at the ends of history elements and members),
// the body's bytes up to each such point with the secrets cut out (what went
// upstream around the tokens: nothing a provider did not see), a 128-bit keyed hash
// of each secret, and the replacements (tokens) and audit detections made before it.
// A new body whose prefix matches (its bytes compared, at memory speed, with those
// kept, and its secrets with their hashes) is walked from the last matching point
// only: its prefix is not parsed, decoded or scanned again, and gets the same
// replacements and detections.
//
// That is exactly what a whole walk would produce as long as the walk's callback
// would return the same for every string of the prefix, which holds when:
//   - the bytes are the same (compared; a secret's by its tag, a GMAC under a key
//     made for the process, so no secret is kept);
//   - no value was learned since the prefix was scanned (the known-value set only
//     grows, so its size tells: an entry is made only by a walk during which it did
//     not change, and used only while it has not changed since);
//   - the detector is the same, and the principal (tokens are the principal's own
//     submissions) and API are;
//   - the walk can resume there: walk refuses a checkpoint whose prefix a later byte
//     could treat otherwise, and the proxy then walks the body whole.
//
// Before resuming, the prefix's tokens are looked up in the vault, as tokenizing
// them again would have: a token the store no longer holds for the principal makes
// the body walked whole.
const (
	// minResumeBody is the smallest body worth checkpoints: smaller ones are walked
	// whole in about the time the bookkeeping takes.
	minResumeBody = 32 << 10
	// resumeGap is the least distance between two checkpoints of a walk; bodies
	// larger than resumeGap*maxResumePoints get sparser ones.
	resumeGap = 1 << 10
	// maxResumePoints bounds the checkpoints of an entry: past it every other one is
	// dropped.
	maxResumePoints = 512
	// maxResumeReps bounds the replacements and detections of an entry: checkpoints
	// after more are not kept. An entry thus holds at most about 200 KB (points of
	// 96 bytes, tokens, detections), and a few KB for a 1 MB conversation.
	maxResumeReps = 1024
	// resumePrincipals and resumePerPrincipal bound the entries: the last bodies of
	// so many principals, so many each (concurrent sessions and subagents).
	resumePrincipals   = 64
	resumePerPrincipal = 4
	// maxResumeEntryBytes bounds the bytes an entry keeps: past it, no more points
	// are taken. maxResumeBytes bounds what all entries count together (an
	// entry counts every byte it refers to, shared with an earlier turn or not,
	// so memory stays below it): the principals seen least recently go first.
	maxResumeEntryBytes = 16 << 20
	maxResumeBytes      = 128 << 20
	// resumeHeldFor is how long the vault's answer that it holds an entry's tokens
	// is trusted, well under the vault's own cache TTL (tokenize.DefaultCacheTTL),
	// for which tokenizing a value again would not ask the store either.
	resumeHeldFor = 10 * time.Second
)

// resumeCache holds the entries of the principals seen last. It is safe for
// concurrent use; entries are never modified once stored.
type resumeCache struct {
	mu     sync.Mutex // held to replace a principal's list
	lru    *lru.Cache[string, []*resumeEntry]
	bytes  int         // what the entries in lru count together, under mu
	budget int         // the most bytes may be: maxResumeBytes (tests lower it)
	gmac   cipher.AEAD // keyed hash of secrets (chunkTag)
}

func newResumeCache() *resumeCache {
	rc := &resumeCache{budget: maxResumeBytes}
	c, err := lru.NewWithEvict(resumePrincipals, func(_ string, gone []*resumeEntry) {
		for _, o := range gone { // under rc.mu: evictions happen in store
			rc.bytes -= o.bytes
		}
	})
	if err != nil {
		return nil
	}
	key := make([]byte, 16)
	if _, err := rand.Read(key); err != nil {
		return nil
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil
	}
	gmac, err := cipher.NewGCM(block)
	if err != nil {
		return nil
	}
	rc.lru, rc.gmac = c, gmac
	return rc
}

// gmacNonce is the nonce of every chunk tag. Reusing a GCM nonce lets whoever sees
// two tags of known data recover the hash key; tags never leave the process.
var gmacNonce = make([]byte, 12)

// chunkTag returns the 128-bit keyed hash of a secret's bytes: its GMAC under a key
// made for the process (AES-GCM with the bytes as additional data). Two different
// secrets of n bytes get the same tag with a probability of at most (n/16+1)/2^128
// when the key is unknown.
func (c *resumeCache) chunkTag(b []byte) (tag [16]byte) {
	c.gmac.Seal(tag[:0], gmacNonce, nil, b)
	return tag
}

// resumeEntry is what one walk of a body left for later ones.
type resumeEntry struct {
	det     *detect.Detector
	known   int       // size of the known-value set during the walks that made it
	held    time.Time // when the vault last held its tokens (tokensHeld)
	points  []resumePoint
	reps    []walk.Replacement // the replacements before the last point: tokens
	secrets [][16]byte         // the tag of the bytes each of reps replaced
	dets    []audit.Detection  // the detections before the last point
	bytes   int                // the gap bytes of its points
}

// resumePoint is a checkpoint, the body's bytes since the previous point (from the
// start for the first) with the replaced spans cut out, and how many detections the
// walk had made there. gaps are never modified once made: entries share them.
type resumePoint struct {
	cp   walk.Checkpoint
	gaps [][]byte
	dets int
}

// sameChunk reports whether body's bytes from prev to pt (the i-th point of e) are
// those e's walk saw: the bytes between replacements equal the gaps kept, and each
// replaced span hashes to its tag.
func (c *resumeCache) sameChunk(e *resumeEntry, i, prev int, body []byte) bool {
	pt := &e.points[i]
	if pt.cp.Offset > len(body) {
		return false
	}
	r0 := 0
	if i > 0 {
		r0 = e.points[i-1].cp.Reps
	}
	gaps, g := pt.gaps, []byte(nil)
	// same compares b with the next len(b) bytes kept.
	same := func(b []byte) bool {
		for len(b) > 0 {
			for len(g) == 0 {
				if len(gaps) == 0 {
					return false
				}
				g, gaps = gaps[0], gaps[1:]
			}
			n := min(len(b), len(g))
			if !bytes.Equal(b[:n], g[:n]) {
				return false
			}
			b, g = b[n:], g[n:]
		}
		return true
	}
	pos := prev
	for k := r0; k < pt.cp.Reps; k++ {
		r := e.reps[k]
		if !same(body[pos:r.Start]) || c.chunkTag(body[r.Start:r.End]) != e.secrets[k] {
			return false
		}
		pos = r.End
	}
	if !same(body[pos:pt.cp.Offset]) || len(g) != 0 {
		return false
	}
	for _, rest := range gaps {
		if len(rest) != 0 {
			return false
		}
	}
	return true
}

// end is where the entry's last point is, 0 if it has none.
func (e *resumeEntry) end() int {
	if len(e.points) == 0 {
		return 0
	}
	return e.points[len(e.points)-1].cp.Offset
}

// resumeKey names a principal's entries for one API.
func resumeKey(st *reqState) string { return string(st.api) + "\x00" + st.rec.Principal }

// resumeFrom is where a walk resumes: an entry and its point.
type resumeFrom struct {
	e *resumeEntry
	i int
}

// match returns the entry of key whose points match the longest prefix of body, and
// the last matching point, or ok false. Points are compared in order, so each match
// has hashed the bytes before it once.
func (c *resumeCache) match(key string, det *detect.Detector, known int, body []byte) (best resumeFrom, ok bool) {
	list, _ := c.lru.Get(key)
	bestEnd := 0
	for _, e := range list {
		if e.det != det || e.known != known {
			continue
		}
		prev, i := 0, -1
		for k := range e.points {
			pt := &e.points[k]
			if pt.cp.Offset >= len(body) || !c.sameChunk(e, k, prev, body) {
				break
			}
			prev, i = pt.cp.Offset, k
		}
		if i >= 0 && prev > bestEnd {
			best, ok, bestEnd = resumeFrom{e: e, i: i}, true, prev
		}
	}
	return best, ok
}

// store keeps e as the newest entry of key. It replaces from, the entry whose points
// matched the body up to matched, if that is at least half of it (the same
// session's next turn), and drops entries that values learned since have made
// useless.
func (c *resumeCache) store(key string, e *resumeEntry, from *resumeEntry, matched int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old, _ := c.lru.Get(key)
	list := make([]*resumeEntry, 0, resumePerPrincipal)
	list = append(list, e)
	for _, o := range old {
		if len(list) == resumePerPrincipal {
			break
		}
		if o.known < e.known || (o == from && 2*matched >= o.end()) {
			continue
		}
		list = append(list, o)
	}
	c.bytes += e.bytes
	for _, o := range old {
		c.bytes -= o.bytes
	}
	for _, o := range list[1:] {
		c.bytes += o.bytes
	}
	c.lru.Add(key, list)
	// Over the budget: forget the principals seen least recently (the newest entry
	// alone is within it: maxResumeEntryBytes).
	for c.bytes > c.budget {
		if _, _, ok := c.lru.RemoveOldest(); !ok { // the eviction callback counts
			break
		}
	}
}

// resumeRecorder builds the entry of a walk from its checkpoints.
type resumeRecorder struct {
	c    *resumeCache
	body []byte
	st   *reqState
	d0   int // detections of st before the walk
	e    resumeEntry
	full bool // no more points are kept
}

func (c *resumeCache) newRecorder(body []byte, st *reqState) *resumeRecorder {
	return &resumeRecorder{c: c, body: body, st: st, d0: len(st.rec.Detections)}
}

// inherit starts the entry with the points of f before the walk resumes there.
// The gaps are shared, not copied.
func (r *resumeRecorder) inherit(f resumeFrom) {
	pt := f.e.points[f.i]
	r.e.points = slices.Clone(f.e.points[:f.i+1])
	r.e.reps = slices.Clone(f.e.reps[:pt.cp.Reps])
	r.e.secrets = slices.Clone(f.e.secrets[:pt.cp.Reps])
	r.e.dets = slices.Clone(f.e.dets[:pt.dets])
	r.e.bytes = 0
	for _, p := range r.e.points {
		for _, g := range p.gaps {
			r.e.bytes += len(g)
		}
	}
}

// reset forgets what the recorder has, for a walk from the start.
func (r *resumeRecorder) reset() {
	r.e = resumeEntry{}
	r.full = false
}

// add is the walk's OnCheckpoint.
func (r *resumeRecorder) add(cp walk.Checkpoint, reps []walk.Replacement) {
	dets := r.st.rec.Detections[r.d0:]
	if r.full || len(reps) > maxResumeReps || len(dets) > maxResumeReps {
		r.full = true
		return
	}
	prev := r.e.end()
	fresh := reps[len(r.e.reps):]
	// The chunk's bytes with the replaced spans cut out, in one new buffer.
	gap := make([]byte, 0, cp.Offset-prev)
	pos := prev
	for _, rp := range fresh {
		if rp.Start < pos || rp.End > cp.Offset || rp.End < rp.Start {
			r.full = true // cannot happen: replacements lie in order before the point
			return
		}
		gap = append(gap, r.body[pos:rp.Start]...)
		pos = rp.End
	}
	gap = append(gap, r.body[pos:cp.Offset]...)
	if r.e.bytes+len(gap) > maxResumeEntryBytes {
		r.full = true
		return
	}
	if len(r.e.points) == maxResumePoints {
		r.thin()
	}
	for _, rp := range fresh {
		r.e.secrets = append(r.e.secrets, r.c.chunkTag(r.body[rp.Start:rp.End]))
	}
	r.e.points = append(r.e.points, resumePoint{cp: cp, gaps: [][]byte{gap}, dets: len(dets)})
	r.e.bytes += len(gap)
	r.e.reps = append(r.e.reps, fresh...)
	r.e.dets = append(r.e.dets, dets[len(r.e.dets):]...)
}

// thin keeps every other point, the last included; a point kept takes over the
// gaps of the one dropped before it.
func (r *resumeRecorder) thin() {
	pts := r.e.points
	n := 0
	var carry [][]byte
	for k := range pts {
		if (len(pts)-1-k)%2 != 0 { // dropped: its gaps go to the next point kept
			carry = append(carry, pts[k].gaps...)
			continue
		}
		p := pts[k]
		p.gaps = append(slices.Clip(carry), p.gaps...)
		carry = nil
		pts[n] = p
		n++
	}
	r.e.points = pts[:n]
}

// resumeGapFor returns the checkpoint spacing for a body of n bytes.
func resumeGapFor(n int) int { return max(resumeGap, n/maxResumePoints) }

// walkJSON redacts a JSON body with fn, resuming where an earlier body of the same
// principal shared its bytes, and leaves checkpoints for the next one. The output
// may be written over body (walk.ResumeOptions.InPlace).
func (p *Proxy) walkJSON(ctx context.Context, body []byte, st *reqState, fn walk.RedactRawFunc) ([]byte, error) {
	var c *resumeCache
	if p.scans != nil {
		c = p.scans.resume
	}
	if c == nil || len(body) < minResumeBody {
		return walk.RedactResume(body, fn, walk.ResumeOptions{Skip: p.skipString, InPlace: true})
	}
	known := p.known.Len() // before the walk: a value learned during it makes the entry useless
	key := resumeKey(st)
	rec := c.newRecorder(body, st)
	opt := walk.ResumeOptions{Skip: p.skipString, Gap: resumeGapFor(len(body)), OnCheckpoint: rec.add, InPlace: true}
	from, ok := c.match(key, p.detector, known, body)
	matched := 0 // how far the body goes on from an entry: the same session's next turn
	if ok {
		matched = from.e.points[from.i].cp.Offset
	}
	var reused []audit.Detection
	held := time.Now() // the tokens of a walk from the start are stored as it runs
	if ok {
		held = from.e.held
		if time.Since(held) >= resumeHeldFor {
			held = time.Now()
			ok = p.tokensHeld(ctx, from.e.dets[:from.e.points[from.i].dets], st.rec.Principal)
		}
	}
	if ok {
		pt := &from.e.points[from.i]
		opt.From, opt.Before = &pt.cp, from.e.reps[:pt.cp.Reps]
		reused = from.e.dets[:pt.dets]
		st.rec.Detections = append(st.rec.Detections, reused...)
		rec.inherit(from)
	}
	out, err := walk.RedactResume(body, fn, opt)
	if opt.From != nil && (errors.Is(err, walk.ErrCannotResume) || errors.Is(err, walk.ErrInvalidJSON) || errors.Is(err, walk.ErrTooDeep)) {
		// fn was not called: walk the body whole, which also gives the exact error.
		p.metrics.scanCache.WithLabelValues("resume_fallback").Inc()
		st.rec.Detections = st.rec.Detections[:rec.d0]
		rec.reset()
		opt.From, opt.Before, reused, held = nil, nil, nil, time.Now()
		out, err = walk.RedactResume(body, fn, opt)
	}
	if opt.From != nil {
		p.metrics.scanCache.WithLabelValues("resumed").Inc()
		for _, d := range reused { // as tokenizeFindings counts them
			p.metrics.detected(d.Rule, d.Class, st.label)
			if t, ok := tokenize.Parse(d.Token); ok {
				p.metrics.tokenized.WithLabelValues(t.Class).Inc()
			}
		}
	}
	if err != nil || p.known.Len() != known || len(rec.e.points) == 0 {
		return out, err
	}
	rec.e.det, rec.e.known, rec.e.held = p.detector, known, held
	e := new(resumeEntry) // not &rec.e, which would keep rec.body alive
	*e = rec.e
	c.store(key, e, from.e, matched)
	return out, nil
}

// tokensHeld reports whether the vault still holds every token of dets as submitted
// by principal. It asks as tokenizing the values again would: the vault's cache
// first, the store when the cache entry is stale (which also renews a store TTL).
func (p *Proxy) tokensHeld(ctx context.Context, dets []audit.Detection, principal string) bool {
	toks := make([]string, 0, len(dets))
	for _, d := range dets {
		toks = append(toks, d.Token)
	}
	slices.Sort(toks)
	for _, s := range slices.Compact(toks) {
		tok, ok := tokenize.Parse(s)
		if !ok {
			return false
		}
		vctx, cancel := context.WithTimeout(ctx, VaultCallTimeout)
		e, err := p.vaultLookup(vctx, tok)
		cancel()
		if err != nil {
			return false
		}
		e.Value.Zero()
		if !slices.Contains(e.Submitters, principal) {
			return false
		}
	}
	return true
}
