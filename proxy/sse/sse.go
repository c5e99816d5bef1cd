package sse

import (
	"bytes"
	"errors"
	"io"
)

// MaxEventSize is the largest event, in raw stream bytes, that a reader accepts.
const MaxEventSize = 16 << 20

// ErrEventTooLarge is returned by a reader when one event (or one line) of the source
// exceeds MaxEventSize bytes.
var ErrEventTooLarge = errors.New("sse: event exceeds 16 MiB")

// errNoProgress is returned when the source keeps returning no data and no error.
var errNoProgress = errors.New("sse: source returns no data")

// Restorer is what the proxy supplies; it knows the vault and the policy. The slices
// passed to it are only valid during the call: a Restorer must not keep them.
type Restorer interface {
	// Text returns frag with every token that may be restored replaced by its value,
	// or frag itself. jsonText reports that frag is a piece of JSON text (tool-call
	// arguments), in which case inserted values must be JSON-string-escaped by the
	// Restorer.
	Text(frag []byte, jsonText bool) []byte
	// JSON returns doc (a whole JSON value, an event's data) with tokens restored in
	// its string values except inside signed/thinking content, or doc itself.
	JSON(doc []byte) []byte
}

// NewReader returns a reader of the restored stream. Each output event becomes
// readable as soon as it is processed (never wait for more input than the current
// event needs). Closing it closes src.
//
// The stream is parsed as Server-Sent Events. Events are re-emitted byte-identical
// unless they carry a token or a held-back token prefix; a rewritten event differs only
// inside the string literal that changed. Text deltas of the Anthropic Messages, OpenAI
// Chat Completions, OpenAI Responses and Gemini streaming APIs are restored per content
// block, holding back only a trailing possible token prefix until the next delta of the
// same block, a flush point (the block's end, a non-delta event, [DONE]) or the end of
// the stream. Other JSON events holding a token go through Restorer.JSON; anything
// else is passed through unchanged.
//
// An event larger than MaxEventSize makes Read fail with ErrEventTooLarge. At the end
// of src, or on its read error, every held-back text is emitted, then an incomplete
// last event as it is; then Read returns io.EOF or src's error. Read must not be called concurrently with itself;
// Close may be called concurrently with Read to abort it.
func NewReader(src io.ReadCloser, r Restorer) io.ReadCloser {
	return newReader(src, r, MaxEventSize)
}

func newReader(src io.ReadCloser, r Restorer, maxEvent int) *reader {
	return &reader{src: src, rs: r, max: maxEvent, nlFrom: -1, state: state{maxHeld: maxHeld}}
}

const (
	minRead    = 4 << 10  // least free space offered to src.Read
	initBuf    = 32 << 10 // first input buffer
	maxHeld    = 4 << 20  // bound on the synthetic-event templates held for pending text
	maxStreams = 64       // bound on the keys with pending text
)

// line is one line of the current event, offsets relative to the event's start.
type line struct {
	start, vs, ve, next int // line at start; value [vs,ve); terminator [ve,next)
	data                bool
}

// event is a complete event: its raw bytes (lines plus the blank line) and lines.
type event struct {
	raw   []byte
	lines []line
	ndata int  // number of data lines
	first int  // index in lines of the first data line
	whole bool // raw is the data itself, a whole message (see Messages): no field lines
}

type reader struct {
	src io.ReadCloser
	rs  Restorer
	max int

	buf   []byte // input; buf[head:] is not yet consumed
	head  int    // start of the current, incomplete event
	scan  int    // next input byte to examine
	lines []line
	bomOK bool // the start of the stream was checked for a byte order mark
	empty int  // consecutive reads that returned nothing

	seen int // buf[scan:seen] holds no line terminator
	// nlFrom and nlAt remember the last '\n' search so that lines ending in a lone
	// '\r' do not rescan the rest of the buffer each (which is quadratic): buf[nlFrom:nlAt]
	// holds no '\n', and nlAt is either len(buf) at search time or a '\n'. nlFrom < 0:
	// nothing remembered.
	nlFrom, nlAt int
	nlSearched   int64 // bytes nextNL examined, so tests can check the work stays linear

	out    []byte
	outPos int
	err    error // returned once out is drained
	// ends, when not nil, collects the end in out of every emitted synthetic event, so
	// that Messages can cut out into messages.
	ends []int

	state
}

func (r *reader) Close() error { return r.src.Close() }

func (r *reader) Read(p []byte) (int, error) {
	for {
		if r.outPos < len(r.out) {
			n := copy(p, r.out[r.outPos:])
			r.outPos += n
			if r.outPos == len(r.out) {
				r.out, r.outPos = r.out[:0], 0
			}
			return n, nil
		}
		if r.err != nil {
			return 0, r.err
		}
		if len(p) == 0 {
			return 0, nil
		}
		r.parse()
		if len(r.out) == 0 {
			r.fill()
		}
	}
}

// fill reads more input, or records the end of the stream.
func (r *reader) fill() {
	if len(r.buf)-r.head >= r.max {
		r.finish(ErrEventTooLarge, false)
		return
	}
	if r.head > 0 && cap(r.buf)-len(r.buf) < minRead {
		n := copy(r.buf, r.buf[r.head:])
		r.scan -= r.head
		r.seen -= r.head
		if r.nlFrom >= 0 {
			r.nlFrom, r.nlAt = r.nlFrom-r.head, r.nlAt-r.head
		}
		r.buf, r.head = r.buf[:n], 0
	}
	if cap(r.buf)-len(r.buf) < minRead {
		c := max(2*cap(r.buf), initBuf)
		c = min(c, r.max+minRead)
		if c-len(r.buf) < minRead {
			c = len(r.buf) + minRead
		}
		nb := make([]byte, len(r.buf), c)
		copy(nb, r.buf)
		r.buf = nb
	}
	n, err := r.src.Read(r.buf[len(r.buf):cap(r.buf)])
	r.buf = r.buf[:len(r.buf)+n]
	switch {
	case n > 0:
		r.empty = 0
	case err == nil:
		if r.empty++; r.empty >= 100 {
			err = errNoProgress
		}
	}
	if err != nil {
		r.parse()
		r.finish(err, true)
	}
}

// finish ends the stream with err: it flushes every pending text and, if tail, the
// unconsumed input (an incomplete event) unchanged.
func (r *reader) finish(err error, tail bool) {
	r.flushAll()
	if tail {
		r.out = append(r.out, r.buf[r.head:]...)
	}
	r.head, r.scan, r.seen, r.buf = 0, 0, 0, r.buf[:0]
	r.nlFrom = -1
	r.err = err
}

var bom = []byte("\xEF\xBB\xBF")

// parse consumes every complete line of the input, dispatching complete events.
func (r *reader) parse() {
	if !r.bomOK {
		in := r.buf[r.scan:]
		if len(in) < len(bom) && bytes.HasPrefix(bom, in) {
			return // too early to tell
		}
		r.bomOK = true
		if bytes.HasPrefix(in, bom) {
			r.out = append(r.out, bom...)
			r.scan += len(bom)
			r.head = r.scan
		}
	}
	for r.scan < len(r.buf) {
		in := r.buf[r.scan:]
		from := max(r.seen-r.scan, 0)
		end := len(in)
		if nl := r.nextNL(r.scan + from); nl >= 0 {
			end = nl - r.scan
		}
		if cr := bytes.IndexByte(in[from:end], '\r'); cr >= 0 {
			end = from + cr
		}
		if end == len(in) {
			r.seen = len(r.buf)
			return // no line end yet
		}
		next := end + 1
		if in[end] == '\r' {
			switch {
			case next < len(in):
				if in[next] == '\n' {
					next++
				}
			case end > 0:
				r.seen = r.scan + end
				return // "\r\n" or "\r": the next byte decides where the line ends
			}
			// A blank line ending in '\r' at the end of the input ends the event now;
			// a '\n' after it then reads as one more blank line, which dispatches
			// nothing and is passed on as is.
		}
		start := r.scan - r.head
		r.scan += next
		if end == 0 { // blank line
			if len(r.lines) > 0 {
				r.dispatch(r.buf[r.head:r.scan])
				r.lines = r.lines[:0]
			} else {
				r.out = append(r.out, r.buf[r.head:r.scan]...)
			}
			r.head = r.scan
			continue
		}
		r.lines = append(r.lines, fieldLine(in[:end], start, start+end, start+next))
	}
}

// nextNL returns the index in buf of the first '\n' at or after i, or -1, reusing
// the previous search when i lies inside what it covered.
func (r *reader) nextNL(i int) int {
	from := i
	if r.nlFrom >= 0 && r.nlFrom <= i && i <= r.nlAt {
		if r.nlAt < len(r.buf) && r.buf[r.nlAt] == '\n' {
			return r.nlAt
		}
		from = r.nlAt // nothing before it; only newer bytes remain to search
	}
	r.nlFrom = i
	if j := bytes.IndexByte(r.buf[from:], '\n'); j >= 0 {
		r.nlSearched += int64(j + 1)
		r.nlAt = from + j
		return r.nlAt
	}
	r.nlSearched += int64(len(r.buf) - from)
	r.nlAt = len(r.buf)
	return -1
}

// fieldLine parses the field line content at [start,ve) of the event.
func fieldLine(content []byte, start, ve, next int) line {
	l := line{start: start, vs: ve, ve: ve, next: next}
	name := content
	if c := bytes.IndexByte(content, ':'); c >= 0 {
		name = content[:c]
		l.vs = start + c + 1
		if c+1 < len(content) && content[c+1] == ' ' {
			l.vs++
		}
	}
	l.data = string(name) == "data"
	return l
}

// dispatch handles one complete event.
func (r *reader) dispatch(raw []byte) {
	ev := event{raw: raw, lines: r.lines, first: -1}
	for i, l := range ev.lines {
		if l.data {
			if ev.first < 0 {
				ev.first = i
			}
			ev.ndata++
		}
	}
	if ev.ndata == 0 { // comments, or fields without data: nothing is dispatched
		r.out = append(r.out, raw...)
		return
	}
	var data []byte
	if ev.ndata == 1 {
		l := ev.lines[ev.first]
		data = raw[l.vs:l.ve]
	} else {
		r.join = r.join[:0]
		for i, l := range ev.lines {
			if l.data {
				if i > ev.first {
					r.join = append(r.join, '\n')
				}
				r.join = append(r.join, raw[l.vs:l.ve]...)
			}
		}
		data = r.join
	}
	r.handle(&ev, data)
}

// appendEvent appends ev with its data replaced by data. It returns the position in
// dst of data[hole] (if hole >= 0). The data lines keep their field prefix and line
// ending; data with more lines than ev continues on extra data lines after ev's last,
// data with fewer drops ev's surplus data lines.
func appendEvent(dst []byte, ev *event, data []byte, hole int) ([]byte, int) {
	at := -1
	if ev.whole {
		if hole >= 0 {
			at = len(dst) + hole
		}
		return append(dst, data...), at
	}
	if ev.ndata == 1 && bytes.IndexByte(data, '\n') < 0 {
		l := ev.lines[ev.first]
		dst = append(dst, ev.raw[:l.vs]...)
		if hole >= 0 {
			at = len(dst) + hole
		}
		dst = append(dst, data...)
		return append(dst, ev.raw[l.ve:]...), at
	}
	rest, more, off, seen := data, true, 0, 0
	for _, l := range ev.lines {
		if !l.data {
			dst = append(dst, ev.raw[l.start:l.next]...)
			continue
		}
		seen++
		for more {
			seg := rest
			if j := bytes.IndexByte(rest, '\n'); j >= 0 {
				seg, rest = rest[:j], rest[j+1:]
			} else {
				more = false
			}
			dst = append(dst, ev.raw[l.start:l.vs]...)
			if at < 0 && hole >= off && hole <= off+len(seg) {
				at = len(dst) + hole - off
			}
			dst = append(dst, seg...)
			dst = append(dst, ev.raw[l.ve:l.next]...)
			off += len(seg) + 1
			if seen < ev.ndata {
				break // the next data line takes the next segment
			}
		}
		// once data ran out (more == false), surplus data lines are dropped
	}
	last := ev.lines[len(ev.lines)-1]
	return append(dst, ev.raw[last.next:]...), at
}
