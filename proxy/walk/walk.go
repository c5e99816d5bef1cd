package walk

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
)

const (
	// MaxDepth is the deepest nesting of arrays and objects a document may have, as in
	// encoding/json. A deeper body is refused with ErrTooDeep.
	MaxDepth = 10000
	// MaxNesting is how many levels of JSON text inside string values are walked as
	// documents. A string holding JSON text at a deeper level is an ordinary string:
	// Redact passes it to the callback whole, Restore restores it as text.
	MaxNesting = 4
)

// ErrInvalidJSON reports a body that does not parse as JSON. Errors wrapping it name
// the offset, never the content.
var ErrInvalidJSON = errors.New("body is not valid JSON")

// ErrTooDeep reports a body nested deeper than MaxDepth.
var ErrTooDeep = errors.New("body is nested too deeply")

// ErrBadReplacement reports a replacement out of range, overlapping another, or whose
// With needs JSON escaping.
var ErrBadReplacement = errors.New("bad replacement")

func syntaxError(off int) error { return fmt.Errorf("walk: %w (offset %d)", ErrInvalidJSON, off) }
func tooDeep(off int) error {
	return fmt.Errorf("walk: %w (more than %d levels at offset %d)", ErrTooDeep, MaxDepth, off)
}

// Field describes where a string value or member name sits.
type Field struct {
	// Path locates the string, e.g. messages[2].content[0].text. A string inside JSON
	// text held by a string gets the outer path, "#" and its inner path, e.g.
	// messages[1].tool_calls[0].function.arguments#.command. Member names appear
	// unquoted, as Redact leaves them: a name that fn replaced appears replaced in the
	// paths of the values under it, so a secret used as a name never shows in a Path.
	// For a member name (Name set), Path is the path of the object holding it, ""
	// for the body's own object.
	Path string
	// Key is the name of the member holding the string, "" for an array element and
	// for a member name.
	Key string
	// Name reports that the string is a member name, not a value.
	Name bool
	// MediaType is set when the string is a media payload that the skip rules let
	// through because its media type is not binary: the lower-case media type
	// essence (no parameters), e.g. "text/plain" or "application/json". The string is
	// then either a data: URL (it starts with "data:"; the media type is the URL's
	// own, "text/plain" when the URL names none), or the base64 "data" member of a
	// media object (the media type is its media_type, mime_type or mimeType
	// sibling's). It is "" for every other string, and for a "data" member whose
	// sibling media type is unknown (empty or not a string); Anthropic's plain-text
	// document source, {"type":"text","media_type":"text/plain","data":"..."}, holds
	// plain text and has none.
	MediaType string
}

// Replacement replaces the decoded bytes [Start,End) of a string with With. With must
// need no JSON escaping: no '"', '\\' or control character (tokens are plain ASCII).
type Replacement struct {
	Start, End int
	With       string
}

// RedactFunc returns the replacements for the decoded string s, non-overlapping, or
// nil; Redact sorts them by Start in place if needed. s may alias the body or a reused
// buffer: the function must not modify it or keep it after returning. An error aborts
// the walk. Field strings may be kept.
type RedactFunc func(f Field, s []byte) ([]Replacement, error)

// RestoreFunc returns the new decoded content of the string s, or nil to leave it
// unchanged. s may alias the body or a reused buffer: the function must not modify it
// or keep it after returning.
type RestoreFunc func(f Field, s []byte) []byte

// SkipFunc is asked about each string before it is decoded; raw is its literal as it
// appears in the document walked (escapes included, quotes not: the body itself, or
// for a string inside nested JSON text, that text), valid only during the call.
// Returning true skips the string: it is not decoded, not passed to fn, and JSON text
// it holds is not walked. Callers use it to skip literals they have already seen to
// hold nothing (a resent conversation).
type SkipFunc func(f Field, raw []byte) bool

// RedactRawFunc is a RedactFunc that also gets the string's raw literal, as SkipFunc
// does.
type RedactRawFunc func(f Field, raw, s []byte) ([]Replacement, error)

// RedactSkip is Redact with skip consulted first for every string, and raw literals
// passed to fn.
func RedactSkip(body []byte, fn RedactRawFunc, skip SkipFunc) ([]byte, error) {
	return redact(body, fn, skip)
}

// Redact calls fn for every string value and member name of body that no skip rule
// protects, and returns body with the replacements spliced into the raw bytes.
// Decoded offsets map back to raw offsets inside each literal, an escape sequence
// counting as the bytes it decodes to; a bound inside one escape sequence widens the
// replaced span to the whole sequence. Nothing else changes. fn sees a member name
// before the values under it. If nothing is replaced Redact returns body itself. A
// body that is not JSON gives an error wrapping ErrInvalidJSON, one nested too deeply
// ErrTooDeep; an error from fn is returned wrapped, with the offset of the string.
func Redact(body []byte, fn RedactFunc) ([]byte, error) {
	return redact(body, func(f Field, _, s []byte) ([]Replacement, error) { return fn(f, s) }, nil)
}

func redact(body []byte, fn RedactRawFunc, skip SkipFunc) ([]byte, error) {
	return RedactResume(body, fn, ResumeOptions{Skip: skip})
}

// Restore calls fn for every string value and member name of body whose raw literal
// holds "cloak_" and that no skip rule protects, and re-encodes the literals whose
// content fn changes (see AppendEscaped). fn sees the content decoded by
// AppendUnquoted, so a lone surrogate escape in a re-encoded literal stays the same
// escape. Paths keep the names as they are in body. A body without "cloak_" is
// returned without parsing. If nothing changes Restore returns body itself. Errors
// are as for Redact.
func Restore(body []byte, fn RestoreFunc) ([]byte, error) {
	if !bytes.Contains(body, []byte(marker)) {
		return body, nil
	}
	w := getWalker()
	defer putWalker(w)
	w.reset(body, nil, 0, true)
	if err := w.parse(); err != nil {
		return nil, err
	}
	out, _ := w.restoreDoc(fn, nil)
	return out, nil
}

// rename is a member name that Redact replaced: the recs before end whose path
// starts with the oldLen bytes of the name's own path get prefix instead.
type rename struct {
	rec    int // the name's rec
	end    int
	oldLen int
	prefix string // the new path of the member
	name   string // the new name
}

// field returns the Field of w.recs[k], with the member names replaced so far. Calls
// must come in rec order.
func (w *walker) field(k int) (f Field) {
	r := &w.recs[k]
	f.Path = w.paths[r.pathOff : r.pathOff+r.pathLen]
	f.Name = r.name
	if !r.name {
		f.Key = f.Path[len(f.Path)-r.keyLen:]
		if r.mtLen > 0 {
			f.MediaType = w.paths[r.aux : r.aux+int(r.mtLen)]
		}
	}
	if len(w.renames) > 0 {
		w.applyRenames(k, &f)
	}
	return f
}

// applyRenames rewrites the path and key of f, the Field of w.recs[k], for the
// innermost name replaced around it.
func (w *walker) applyRenames(k int, f *Field) {
	n := len(w.renames)
	for n > 0 && w.renames[n-1].end <= k {
		n--
	}
	if w.renames = w.renames[:n]; n == 0 {
		return
	}
	rn := &w.renames[n-1]
	if !f.Name && len(f.Path) == rn.oldLen {
		f.Key = rn.name // the value of the replaced name itself
	}
	f.Path = rn.prefix + f.Path[rn.oldLen:]
}

// renamed notes that fn replaced the member name s, at the rec k, by reps (checked),
// for the paths of the recs under it.
func (w *walker) renamed(k int, s []byte, reps []Replacement) {
	path := w.field(k).Path
	r := &w.recs[k]
	var b []byte
	last := 0
	for _, rp := range reps {
		b = append(append(b, s[last:rp.Start]...), rp.With...)
		last = rp.End
	}
	name := string(append(b, s[last:]...))
	sep, oldLen := "", r.pathLen+len(s)
	if r.pathLen > 0 {
		sep, oldLen = ".", oldLen+1
	}
	w.renames = append(w.renames, rename{rec: k, end: r.aux, oldLen: oldLen, prefix: path + sep + name, name: name})
}

// decoded returns the content of r, decoded into w.buf if needed. Redact sees it as
// encoding/json would (unescape). Restore, which re-encodes what fn changes, sees it in
// WTF-8 (AppendUnquoted), so that lone surrogate escapes survive; in a nested document,
// decoded by AppendUnquoted already, an encoded surrogate is such an escape of the
// outer literal and stays as it is.
func (w *walker) decoded(r *rec) []byte {
	raw := w.b[r.start:r.end]
	switch {
	case !w.restore:
		if !r.esc {
			return raw
		}
		w.buf = unescape(w.buf[:0], raw)
	case w.level > 0:
		if !r.esc {
			return raw
		}
		w.buf = unquote(w.buf[:0], raw, true, false)
	default:
		if !r.esc && bytes.IndexByte(raw, 0xED) < 0 {
			return raw
		}
		w.buf = AppendUnquoted(w.buf[:0], raw)
	}
	return w.buf
}

// nested returns a walker over s, the content of w.recs[k], parsed, if s is JSON text
// to walk as a document. Member names never are.
func (w *walker) nested(k int, s []byte, restore bool) *walker {
	if !w.nestable(k, s) {
		return nil
	}
	if w.child == nil {
		w.child = new(walker)
	}
	c := w.child
	c.reset(s, append(append(c.prefix[:0], w.field(k).Path...), '#'), w.level+1, restore)
	if c.parse() != nil {
		return nil
	}
	return c
}

// nestable reports whether s, the content of w.recs[k], may be JSON text to walk.
func (w *walker) nestable(k int, s []byte) bool {
	i := skipWS(s, 0)
	return i < len(s) && (s[i] == '{' || s[i] == '[') && w.level < MaxNesting && !w.recs[k].name
}

func looksJSON(s []byte) bool {
	i := skipWS(s, 0)
	return i < len(s) && (s[i] == '{' || s[i] == '[')
}

// redact calls fn for the recorded strings and returns the raw replacements, sorted,
// in w.b coordinates. The result is reused by the next call.
func (w *walker) redact(fn RedactRawFunc) ([]Replacement, error) {
	w.reps, w.renames = append(w.reps[:0], w.before...), w.renames[:0]
	c := 0 // next checkpoint
	for k := range w.recs {
		for ; c < len(w.cps) && w.cps[c].rec <= k; c++ {
			w.checkpoint(c)
		}
		r := &w.recs[k]
		if r.drop {
			continue
		}
		raw := w.b[r.start:r.end]
		if w.skip != nil && w.skip(w.field(k), raw) {
			continue
		}
		s := raw
		if r.esc {
			s = w.decoded(r)
		}
		var reps []Replacement
		var err error
		if c := w.nested(k, s, false); c != nil {
			c.skip = w.skip
			reps, err = c.redact(fn)
		} else if reps, err = fn(w.field(k), raw, s); err == nil && len(reps) > 0 {
			if err = checkReplacements(reps, s); err == nil && r.name {
				w.renamed(k, s, reps)
			}
		}
		if err != nil {
			if w.level > 0 {
				return nil, err
			}
			return nil, fmt.Errorf("walk: string at offset %d: %w", r.start-1, err)
		}
		if len(reps) > 0 {
			w.reps = mapSpans(w.reps, w.b[r.start:r.end], r.start, reps, r.esc)
		}
	}
	for ; c < len(w.cps); c++ {
		w.checkpoint(c)
	}
	return w.reps, nil
}

// checkReplacements checks fn's replacements for s, sorting them by Start if needed.
func checkReplacements(reps []Replacement, s []byte) error {
	cmp := func(a, b Replacement) int { return a.Start - b.Start }
	if !slices.IsSortedFunc(reps, cmp) {
		slices.SortStableFunc(reps, cmp)
	}
	prev := 0
	for i, r := range reps {
		if r.Start < prev || r.End < r.Start || r.End > len(s) {
			return fmt.Errorf("%w: replacement %d [%d,%d) of a %d-byte string", ErrBadReplacement, i, r.Start, r.End, len(s))
		}
		prev = r.End
		for j := 0; j < len(r.With); j++ {
			if needsEscape[r.With[j]] {
				return fmt.Errorf("%w: replacement %d needs JSON escaping", ErrBadReplacement, i)
			}
		}
	}
	return nil
}

// restoreDoc calls fn for the recorded strings and returns the restored document and
// whether it changed. The output is appended to dst, or to a new slice if dst is nil
// and something changes; w.b itself is returned if nothing does.
func (w *walker) restoreDoc(fn RestoreFunc, dst []byte) ([]byte, bool) {
	out, started, last := dst, false, 0
	w.renames = w.renames[:0] // paths keep the tokens of names
	for k := range w.recs {
		r := &w.recs[k]
		if r.drop {
			continue
		}
		s := w.decoded(r)
		var ns []byte
		if c := w.nested(k, s, true); c != nil {
			inner, changed := c.restoreDoc(fn, c.out[:0])
			if !changed {
				continue
			}
			c.out, ns = inner, inner
		} else if ns = fn(w.field(k), s); ns == nil || bytes.Equal(ns, s) {
			continue
		}
		if !started {
			started = true
			if out == nil {
				out = make([]byte, 0, len(w.b)+len(w.b)/8+2*len(ns))
			}
		}
		out = append(out, w.b[last:r.start]...)
		out = AppendEscaped(out, ns)
		last = r.end
	}
	if !started {
		return w.b, false
	}
	return append(out, w.b[last:]...), true
}

// Walkers are pooled; big ones are dropped rather than kept.
var walkers = sync.Pool{New: func() any { return new(walker) }}

const maxPooled = 1 << 20 // bytes of arena or buffer, or recs

func getWalker() *walker { return walkers.Get().(*walker) }

func putWalker(w *walker) {
	for c := w; c != nil; c = c.child {
		if cap(c.arena) > maxPooled || cap(c.buf) > maxPooled || cap(c.out) > maxPooled || cap(c.recs) > maxPooled/64 || cap(c.cps) > maxPooled/256 {
			return
		}
	}
	w.reset(nil, nil, 0, false)
	for c := w.child; c != nil; c = c.child {
		c.reset(nil, nil, 0, false)
	}
	walkers.Put(w)
}
