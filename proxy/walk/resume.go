package walk

import (
	"bytes"
	"errors"
	"fmt"
	"math"
)

// MaxCheckpointDepth is how deep a Checkpoint may be: after an element of an array or
// a member of an object at most this many levels into the body. The history of a
// request (messages, input, contents) is at level 2, its elements' members at 3.
const MaxCheckpointDepth = 3

// ErrCannotResume reports that RedactResume cannot resume at the checkpoint it was
// given: the checkpoint does not fit the body, or what follows it changes how the
// strings before it are treated (an object around it turns out to be a thinking
// block). Walk the body whole instead. Errors wrapping ErrInvalidJSON or ErrTooDeep
// from a resumed walk also mean: walk the body whole, which reports them exactly.
var ErrCannotResume = errors.New("walk: cannot resume at this checkpoint")

var errOpaqueResumed = fmt.Errorf("%w: an object open at the checkpoint is opaque", ErrCannotResume)

// Checkpoint is a point of a body at which a later redaction of a body with the same
// bytes before it can resume (see RedactResume). It holds offsets and counts, never
// body bytes.
type Checkpoint struct {
	// Offset is the body offset just after the value the checkpoint follows.
	Offset int
	// Reps is how many replacements the walk made before Offset.
	Reps int

	depth  uint8 // open containers
	frames [MaxCheckpointDepth]frame
}

// frame is an open container at a checkpoint: an array and the index of the element
// that ends there, or an object, the location of its current member's name, its
// holder's kind and whether it has a "type" that keeps it from being a media payload.
// Checkpoints are taken only in the first 4 GiB of a body.
type frame struct {
	idx              uint32
	keyStart, keyEnd uint32
	obj, keyEsc      bool
	otherType        bool
	holder           uint8
}

// taken is a checkpoint as the walk that takes it keeps it until the redact pass
// reports it: with the index in walker.recs of the first string after it, and the
// recs of its open members' names (-1 for none), which fn must not have replaced.
type taken struct {
	cp    Checkpoint
	rec   int
	names [MaxCheckpointDepth]int
}

// ResumeOptions tune RedactResume.
type ResumeOptions struct {
	// Skip, if set, is asked about each string first, as in RedactSkip.
	Skip SkipFunc
	// From, if set, is a checkpoint taken by an earlier walk of a body whose bytes
	// before From.Offset are exactly body's: the walk starts there, as it was then.
	// The strings before it are neither parsed nor passed to fn, and Before are
	// their replacements, From.Reps of them, as that walk made them. The caller
	// vouches for the bytes (a strong hash) and for fn: it must return what it
	// returned then for every string before the checkpoint.
	From   *Checkpoint
	Before []Replacement
	// OnCheckpoint, if set, turns checkpoints on: one after an array element or
	// object member of the body at most MaxCheckpointDepth levels deep (never inside
	// JSON text held by a string), whenever Gap bytes or more have passed since the
	// last one (or since From), unless the strings before it could be treated
	// otherwise depending on what follows (inside a skipped value or a media object,
	// a member name fn replaced still holding it). It is called with each one, in
	// body order, once fn has seen every string before it and none after; reps are
	// the replacements made so far (Before included), valid only during the call.
	OnCheckpoint func(cp Checkpoint, reps []Replacement)
	Gap          int
	// InPlace lets the walk write its output over body's backing array when body's
	// capacity holds it (the tokens take no more room than what they replace, say),
	// instead of allocating a new one: a megabyte of fresh memory costs more than the
	// rest of a resumed walk. The caller must not use body's bytes after a call that
	// returns no error. The bytes of body that the output does not cover are zeroed:
	// the array keeps nothing of the original body but what the output holds.
	InPlace bool
}

// RedactResume is RedactSkip with checkpoints: it can report where a later walk may
// resume, and resume a walk at a checkpoint of an earlier body with the same bytes up
// to it. Its output is what RedactSkip returns for the same body, skip and fn. A
// resumed walk that fails with an error wrapping ErrCannotResume, ErrInvalidJSON or
// ErrTooDeep has not called fn: walk the body whole to get the exact error.
func RedactResume(body []byte, fn RedactRawFunc, opt ResumeOptions) ([]byte, error) {
	w := getWalker()
	defer putWalker(w)
	w.reset(body, nil, 0, false)
	w.skip = opt.Skip
	if opt.OnCheckpoint != nil {
		w.gap, w.onCP = max(opt.Gap, 1), opt.OnCheckpoint
	}
	var err error
	if opt.From != nil {
		if err = checkPrefix(opt.From, opt.Before, len(body)); err == nil {
			w.before = opt.Before
			err = w.parseFrom(opt.From)
		}
	} else {
		err = w.parse()
	}
	if err != nil {
		return nil, err
	}
	reps, err := w.redact(fn)
	if err != nil {
		return nil, err
	}
	if opt.InPlace {
		if out, ok := spliceInPlace(body, reps); ok {
			return out, nil
		}
	}
	return Splice(body, reps), nil
}

// spliceInPlace is Splice writing over body's backing array, if its capacity holds
// the output. The output may start past body's start: where the longest piece of
// body between replacements stays put, so that it is not moved. The bytes of body
// outside the output are zeroed. The other pieces
// are moved in an order that never overwrites one not yet moved: those going right
// from the last to the first, then those going left from the first to the last;
// then the tokens are written.
func spliceInPlace(body []byte, reps []Replacement) ([]byte, bool) {
	if len(reps) == 0 {
		return body, true
	}
	// Piece k is body[from(k):to(k)]; shift(k) is the growth of the replacements
	// before it.
	from := func(k int) int {
		if k == 0 {
			return 0
		}
		return reps[k-1].End
	}
	to := func(k int) int {
		if k == len(reps) {
			return len(body)
		}
		return reps[k].Start
	}
	growth := func(k int) int { return len(reps[k].With) - (reps[k].End - reps[k].Start) }
	shift, longest, keep := 0, -1, 0
	for k := 0; k <= len(reps); k++ {
		if n := to(k) - from(k); n > longest {
			longest, keep = n, shift
		}
		if k < len(reps) {
			shift += growth(k)
		}
	}
	n := len(body) + shift // the output's length
	o := -keep             // where it starts
	if o < 0 || o+n > cap(body) {
		if o = 0; n > cap(body) {
			return nil, false
		}
	}
	buf := body[:cap(body)]
	move := func(k, shift int) {
		copy(buf[o+from(k)+shift:], body[from(k):to(k)])
	}
	shift = n - len(body)
	for k := len(reps); k >= 0; k-- {
		if o+shift > 0 {
			move(k, shift)
		}
		if k > 0 {
			shift -= growth(k - 1)
		}
	}
	shift = 0
	for k := 0; k <= len(reps); k++ {
		if o+shift < 0 {
			move(k, shift)
		}
		if k < len(reps) {
			shift += growth(k)
		}
	}
	shift = 0
	for k, r := range reps {
		copy(buf[o+r.Start+shift:], r.With)
		shift += growth(k)
	}
	// What the output does not cover of the body's bytes still holds some of them,
	// secrets maybe (the output is shorter, or starts further on): clear it, so that
	// whoever keeps the buffer for the output keeps no byte of the original body.
	clear(buf[:o])
	if o+n < len(body) {
		clear(buf[o+n : len(body)])
	}
	return buf[o : o+n : o+n], true
}

// checkPrefix checks that a checkpoint and its replacements fit a body of n bytes.
func checkPrefix(cp *Checkpoint, before []Replacement, n int) error {
	if cp.Offset > n || cp.Offset < 0 || cp.depth == 0 || int(cp.depth) > MaxCheckpointDepth || len(before) != cp.Reps {
		return ErrCannotResume
	}
	last := 0
	for _, r := range before {
		if r.Start < last || r.End < r.Start || r.End > cp.Offset {
			return ErrCannotResume
		}
		last = r.End
	}
	for _, f := range cp.frames[:cp.depth] {
		if f.obj && (f.keyStart > f.keyEnd || int(f.keyEnd) > cp.Offset) {
			return ErrCannotResume
		}
	}
	return nil
}

// Splice returns body with the sorted replacements applied, or body itself if there
// are none. It joins the pieces with bytes.Join, which does not zero the memory it
// then fills.
func Splice(body []byte, reps []Replacement) []byte {
	if len(reps) == 0 {
		return body
	}
	n := 0
	for _, r := range reps {
		n += len(r.With)
	}
	with := make([]byte, 0, n)
	pieces := make([][]byte, 0, 2*len(reps)+1)
	last := 0
	for _, r := range reps {
		k := len(with)
		with = append(with, r.With...)
		pieces = append(pieces, body[last:r.Start], with[k:])
		last = r.End
	}
	return bytes.Join(append(pieces, body[last:]), nil)
}

// mark takes a checkpoint at i, just after a value in the container of the last
// step of w.segs, unless the strings before i could be treated otherwise depending
// on what follows: inside a skipped value, or in an object that is or may turn out
// to be a media payload whose data the walk already recorded.
func (w *walker) mark(i int) {
	if w.mute > 0 || len(w.data) > 0 || uint64(i) > math.MaxUint32 {
		return
	}
	t := taken{cp: Checkpoint{Offset: i, depth: uint8(len(w.segs))}, rec: len(w.recs)}
	for j := range w.segs {
		s := &w.segs[j]
		if s.isKey && s.st.media {
			return
		}
		t.cp.frames[j] = frame{idx: uint32(s.idx), keyStart: uint32(s.keyStart), keyEnd: uint32(s.keyEnd), obj: s.isKey, keyEsc: s.keyEsc, otherType: s.st.otherType, holder: s.holder}
		t.names[j] = -1
		if s.isKey {
			t.names[j] = s.name
		}
	}
	w.cps = append(w.cps, t)
	w.lastMark = i
}

// parseFrom is parse for a walk resumed at cp: it rebuilds the open containers from
// w.b's bytes before cp.Offset, then parses the rest.
func (w *walker) parseFrom(cp *Checkpoint) error {
	b := w.b
	n := int(cp.depth)
	for _, f := range cp.frames[:n] {
		s := seg{idx: int(f.idx), pLen: -1}
		if f.obj {
			key := b[f.keyStart:f.keyEnd]
			if f.keyEsc {
				key = unescape(nil, key)
			}
			s.isKey, s.key, s.keyStart, s.keyEnd, s.keyEsc, s.holder, s.name = true, key, int(f.keyStart), int(f.keyEnd), f.keyEsc, f.holder, -1
			s.st.otherType = f.otherType
		}
		w.segs = append(w.segs, s)
	}
	w.depth, w.lastMark = n, cp.Offset
	return w.parsed(w.resume(0, n, cp.Offset))
}

// resume parses, from b[i] just after a value of the container of w.segs[n-1], the
// rest of the open containers w.segs[j:n], innermost first, and returns the index
// after the end of w.segs[j]'s container.
func (w *walker) resume(j, n, i int) (int, error) {
	if j+1 < n {
		var err error
		if i, err = w.resume(j+1, n, i); err != nil {
			return i, err
		}
		// The value that ended is the container of w.segs[j+1].
		if w.gap > 0 && j < MaxCheckpointDepth && i-w.lastMark >= w.gap {
			w.mark(i)
		}
	}
	if w.segs[j].isKey {
		return w.members(i, j, marks{resumed: true}, true)
	}
	return w.elements(i, j, w.segs[j].idx, true)
}

// checkpoint reports w.cps[c] to w.onCP unless fn replaced the name of a member
// whose value holds it: the paths after it depend on the replacement.
func (w *walker) checkpoint(c int) {
	t := &w.cps[c]
	for _, rn := range w.renames {
		for _, n := range t.names[:t.cp.depth] {
			if rn.rec == n {
				return
			}
		}
	}
	t.cp.Reps = len(w.reps)
	w.onCP(t.cp, w.reps)
}
