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
	"github.com/prometheus/client_golang/prometheus"

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
// the body as it went upstream, decoded (tokens in place of the secrets: nothing a
// provider did not see; the buffer the output was spliced into, which nothing
// writes again and in which the splice left no byte of the original body, or a
// copy when the buffer is not the proxy's to keep), a 128-bit keyed hash of each
// secret, and the replacements (tokens) and audit detections made before each
// point. A new body whose prefix matches (its bytes between secrets compared, at
// memory speed, with the forwarded body's, and its secrets with their hashes) is
// walked from the last matching point only: its prefix is not parsed, decoded or
// scanned again, and gets the same replacements and detections.
//
// That is exactly what a whole walk would produce as long as the walk's callback
// would return the same for every string of the prefix, which holds when:
//   - the bytes are the same (compared; a secret's by its tag, a GMAC under a key
//     made for the process, so no secret is kept);
//   - no value learned since the prefix was scanned occurs in it. The known-value
//     set only grows, so its size tells what was learned since: an entry is made
//     only by a walk during which it did not change. When values were learned since
//     (by any principal), the prefix is searched for each one's longest run of ASCII
//     letters and digits (detect.KnownSet.AbsentSince), which holds only if the
//     prefix writes every letter and digit as itself (walk.EscapesAlnum) and decodes
//     no base64 payload (whose text is scanned too); otherwise the body is walked
//     whole;
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
	// after more are not kept. Besides the body, an entry thus holds at most about
	// 200 KB (points of 96 bytes, tokens, detections), a few KB for a 1 MB
	// conversation.
	maxResumeReps = 1024
	// resumePrincipals and resumePerPrincipal bound the entries: the last bodies of
	// so many principals, so many each (concurrent sessions and subagents).
	resumePrincipals   = 64
	resumePerPrincipal = 4
	// maxResumeEntryBytes bounds the forwarded bytes an entry uses: of a larger body,
	// only the points within its first maxResumeEntryBytes, and a copy of those
	// bytes. An entry that keeps the body's own buffer counts its capacity (up to
	// twice the body, as it was read). maxResumeBytes bounds what all entries count
	// together: the principals seen least recently go first.
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
	out     []byte    // the body as forwarded, up to the last point at least: never modified
	points  []resumePoint
	reps    []walk.Replacement // the replacements before the last point: tokens
	secrets [][16]byte         // the tag of the bytes each of reps replaced
	dets    []audit.Detection  // the detections before the last point
	counts  reuseCounts        // what dets add to the metrics
	bytes   int                // what out keeps alive
}

// resumePoint is a checkpoint, how much longer than the body the output is before
// it (the replacements' growth), how many detections the walk had made there, and
// whether a base64 payload was decoded before it.
type resumePoint struct {
	cp       walk.Checkpoint
	growth   int
	dets     int
	payloads bool
}

// outAt is where the output has the body's byte at i: i after the replacements
// before it, which grew the output by growth.
func outAt(i, growth int) int { return i + growth }

// sameChunk reports whether body's bytes from the previous point to the i-th point
// of e (from the start for the first) are those e's walk saw: the bytes between
// replacements equal the output's there, and each replaced span hashes to its tag.
func (c *resumeCache) sameChunk(e *resumeEntry, i int, body []byte) bool {
	pt := &e.points[i]
	if pt.cp.Offset > len(body) || outAt(pt.cp.Offset, pt.growth) > len(e.out) {
		return false
	}
	pos, g, r0 := 0, 0, 0
	if i > 0 {
		q := &e.points[i-1]
		pos, g, r0 = q.cp.Offset, q.growth, q.cp.Reps
	}
	for k := r0; k < pt.cp.Reps; k++ {
		r := &e.reps[k]
		if !bytes.Equal(body[pos:r.Start], e.out[outAt(pos, g):outAt(r.Start, g)]) || c.chunkTag(body[r.Start:r.End]) != e.secrets[k] {
			return false
		}
		g += len(r.With) - (r.End - r.Start)
		pos = r.End
	}
	return g == pt.growth && bytes.Equal(body[pos:pt.cp.Offset], e.out[outAt(pos, g):outAt(pt.cp.Offset, g)])
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
// has hashed the bytes before it once. Entries made with more known values than
// known (none: the set only grows) are passed over.
func (c *resumeCache) match(key string, det *detect.Detector, known int, body []byte) (best resumeFrom, ok bool) {
	list, _ := c.lru.Get(key)
	bestEnd := 0
	for _, e := range list {
		if e.det != det || e.known > known {
			continue
		}
		prev, i := 0, -1
		for k := range e.points {
			pt := &e.points[k]
			if pt.cp.Offset >= len(body) || !c.sameChunk(e, k, body) {
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
	// alone, at most twice maxResumeEntryBytes, is within it).
	for c.bytes > c.budget {
		if _, _, ok := c.lru.RemoveOldest(); !ok { // the eviction callback counts
			break
		}
	}
}

// resumeRecorder builds the entry of a walk from its checkpoints.
type resumeRecorder struct {
	c      *resumeCache
	body   []byte
	st     *reqState
	d0     int // detections of st before the walk
	p0     int // payloads of st before the walk
	e      resumeEntry
	growth int  // the growth of e.reps
	full   bool // no more points are kept
}

func (c *resumeCache) newRecorder(body []byte, st *reqState) *resumeRecorder {
	return &resumeRecorder{c: c, body: body, st: st, d0: len(st.rec.Detections), p0: st.payloads}
}

// inherit starts the entry with the points of f before the walk resumes there.
func (r *resumeRecorder) inherit(f resumeFrom) {
	pt := f.e.points[f.i]
	r.e.points = slices.Clone(f.e.points[:f.i+1])
	r.e.reps = slices.Clone(f.e.reps[:pt.cp.Reps])
	r.e.secrets = slices.Clone(f.e.secrets[:pt.cp.Reps])
	r.e.dets = slices.Clone(f.e.dets[:pt.dets])
	r.growth = pt.growth
}

// reset forgets what the recorder has, for a walk from the start.
func (r *resumeRecorder) reset() {
	r.e, r.growth, r.full = resumeEntry{}, 0, false
}

// add is the walk's OnCheckpoint. It runs before the output is spliced, while the
// body still holds the secrets it tags.
func (r *resumeRecorder) add(cp walk.Checkpoint, reps []walk.Replacement) {
	dets := r.st.rec.Detections[r.d0:]
	if r.full || len(reps) > maxResumeReps || len(dets) > maxResumeReps {
		r.full = true
		return
	}
	fresh := reps[len(r.e.reps):]
	pos := r.e.end()
	for _, rp := range fresh {
		if rp.Start < pos || rp.End > cp.Offset || rp.End < rp.Start {
			r.full = true // cannot happen: replacements lie in order before the point
			return
		}
		pos = rp.End
	}
	if len(r.e.points) == maxResumePoints {
		r.thin()
	}
	for _, rp := range fresh {
		r.e.secrets = append(r.e.secrets, r.c.chunkTag(r.body[rp.Start:rp.End]))
		r.growth += len(rp.With) - (rp.End - rp.Start)
	}
	payloads := r.st.payloads > r.p0 || len(r.e.points) > 0 && r.e.points[len(r.e.points)-1].payloads
	r.e.points = append(r.e.points, resumePoint{cp: cp, growth: r.growth, dets: len(dets), payloads: payloads})
	r.e.reps = append(r.e.reps, fresh...)
	r.e.dets = append(r.e.dets, dets[len(r.e.dets):]...)
}

// thin keeps every other point, the last included.
func (r *resumeRecorder) thin() {
	pts := r.e.points
	n := 0
	for k := range pts {
		if (len(pts)-1-k)%2 == 0 {
			pts[n] = pts[k]
			n++
		}
	}
	r.e.points = pts[:n]
}

// finish gives the entry the walk's output, out, and reports whether it has points.
// out is kept as it is when owned (the caller never modifies it, nor the body it
// may have been spliced over, where the splice left nothing of the original body
// outside out) and the entry uses most of it and of the buffer behind it;
// otherwise the part the points cover is copied. Points past maxResumeEntryBytes of
// output are dropped.
func (r *resumeRecorder) finish(out []byte, owned bool) bool {
	pts := r.e.points
	n := len(pts)
	for n > 0 && outAt(pts[n-1].cp.Offset, pts[n-1].growth) > maxResumeEntryBytes {
		n--
	}
	if n == 0 {
		return false
	}
	last := pts[n-1]
	r.e.points = pts[:n]
	r.e.reps, r.e.secrets, r.e.dets = r.e.reps[:last.cp.Reps], r.e.secrets[:last.cp.Reps], r.e.dets[:last.dets]
	end := outAt(last.cp.Offset, last.growth)
	// The output was spliced over the body's buffer, or is a new one of its length.
	held := max(cap(r.body), cap(out))
	if !owned || 2*end < len(out) || held > 2*len(out) {
		r.e.out, r.e.bytes = bytes.Clone(out[:end]), end
		return true
	}
	r.e.out, r.e.bytes = out, held
	return true
}

// resumeGapFor returns the checkpoint spacing for a body of n bytes.
func resumeGapFor(n int) int { return max(resumeGap, n/maxResumePoints) }

// walkJSON redacts a JSON body with fn, resuming where an earlier body of the same
// principal shared its bytes, and leaves checkpoints for the next one. The output
// may be written over body (walk.ResumeOptions.InPlace). owned says that nobody
// modifies body's buffer or the output after the call, so the entry may keep the
// output as it is instead of a copy.
func (p *Proxy) walkJSON(ctx context.Context, body []byte, owned bool, st *reqState, skip walk.SkipFunc, fn walk.RedactRawFunc) ([]byte, error) {
	var c *resumeCache
	if p.scans != nil {
		c = p.scans.resume
	}
	if c == nil || len(body) < minResumeBody {
		return walk.RedactResume(body, fn, walk.ResumeOptions{Skip: skip, InPlace: true})
	}
	known := p.known.Len() // before the walk: a value learned during it makes the entry useless
	key := resumeKey(st)
	rec := c.newRecorder(body, st)
	opt := walk.ResumeOptions{Skip: skip, Gap: resumeGapFor(len(body)), OnCheckpoint: rec.add, InPlace: true}
	from, ok := c.match(key, p.detector, known, body)
	matched := 0 // how far the body goes on from an entry: the same session's next turn
	if ok {
		matched = from.e.points[from.i].cp.Offset
	}
	if ok && from.e.known != known {
		// Values were learned since the entry's walk: its prefix was not scanned for
		// them. Resume only if none can occur there.
		pt := &from.e.points[from.i]
		prefix := body[:pt.cp.Offset]
		ok = !pt.payloads && !walk.EscapesAlnum(prefix) && p.known.AbsentSince(from.e.known, prefix)
	}
	var reused []audit.Detection
	held := time.Now() // the tokens of a walk from the start are stored as it runs
	if ok {
		held = from.e.held
		if time.Since(held) >= resumeHeldFor {
			held = time.Now()
			ok = p.tokensHeld(ctx, from.e.dets[:from.e.points[from.i].dets], st.rec.Principal)
			st.vaultTime(held)
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
		p.metrics.cached(cacheResumeFallback)
		st.rec.Detections = st.rec.Detections[:rec.d0]
		rec.reset()
		opt.From, opt.Before, reused, held = nil, nil, nil, time.Now()
		out, err = walk.RedactResume(body, fn, opt)
	}
	if opt.From != nil {
		p.metrics.cached(cacheResumed)
		p.countReused(from.e, len(reused), st.label)
	}
	if err != nil || p.known.Len() != known || !rec.finish(out, owned) {
		return out, err
	}
	rec.e.det, rec.e.known, rec.e.held = p.detector, known, held
	e := new(resumeEntry) // not &rec.e, which would keep rec alive
	*e = rec.e
	if opt.From != nil {
		p.setCounts(e, from.e, len(reused), st.label)
	} else {
		p.setCounts(e, nil, 0, st.label)
	}
	c.store(key, e, from.e, matched)
	return out, nil
}

// reuseCount is one counter a resumed walk's reused detections add to, and how much.
type reuseCount struct {
	c prometheus.Counter
	n float64
}

// reuseCounts is what the first dets detections of an entry add to the detection
// and token counters of requests labelled label: the counters themselves, so that a
// resumed walk counts its reused detections with one Add per series and no label
// lookup (a resent conversation reuses all of them on every turn, and the metrics'
// maps are cold by then).
type reuseCounts struct {
	label string
	dets  int
	adds  []reuseCount
}

// reuseAdds returns adds plus what dets add, as tokenizeFindings counted them.
func (p *Proxy) reuseAdds(adds []reuseCount, dets []audit.Detection, label string) []reuseCount {
	at := make(map[prometheus.Counter]int, len(adds)+2)
	for i, a := range adds {
		at[a.c] = i
	}
	add := func(c prometheus.Counter) {
		if i, ok := at[c]; ok {
			adds[i].n++
			return
		}
		at[c] = len(adds)
		adds = append(adds, reuseCount{c: c, n: 1})
	}
	for _, d := range dets {
		add(p.metrics.detections.WithLabelValues(d.Rule, d.Class, label))
		if t, ok := tokenize.Parse(d.Token); ok {
			add(p.metrics.tokenized.WithLabelValues(t.Class))
		}
	}
	return adds
}

// countReused counts the n detections a resumed walk reused from e (e.dets[:n]) as
// tokenizeFindings counted them when it made them.
func (p *Proxy) countReused(e *resumeEntry, n int, label string) {
	adds := e.counts.adds
	if e.counts.dets != n || e.counts.label != label {
		adds = p.reuseAdds(nil, e.dets[:n], label)
	}
	for _, a := range adds {
		a.c.Add(a.n)
	}
}

// setCounts gives e, a new entry, its reuseCounts: those of from, the entry its walk
// resumed from after the first inherited detections (nil: none), plus its own.
func (p *Proxy) setCounts(e, from *resumeEntry, inherited int, label string) {
	var base []reuseCount
	if from == nil || from.counts.dets != inherited || from.counts.label != label || len(e.dets) < inherited {
		inherited = 0
	} else {
		base = from.counts.adds
	}
	adds := base
	if len(e.dets) > inherited {
		adds = p.reuseAdds(slices.Clone(base), e.dets[inherited:], label)
	}
	e.counts = reuseCounts{label: label, dets: len(e.dets), adds: adds}
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
