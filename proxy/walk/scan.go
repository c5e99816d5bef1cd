package walk

import "fmt"

// Location maps offsets in a string that Visit passes to its callback back to the raw
// body. It aliases the body and the walker's buffers: it is valid only during the
// call and must not be kept.
type Location struct {
	// levels holds the literal of the string and, for a string inside JSON text held
	// by a string, the literals holding it, innermost first.
	levels []litLevel
}

// litLevel is one string literal: its raw content (between the quotes), where that
// content starts in its document, and whether it holds escapes. The document of
// level 0 is the body; the document of a nested level is the decoded content of the
// next level out.
type litLevel struct {
	raw  []byte
	base int
	esc  bool
}

// Literal returns the span of the content (between the quotes) of the string literal
// in the body that holds the string: the string's own literal, or for a string inside
// JSON text held by a string, the outermost literal holding that text.
func (l Location) Literal() (start, end int) {
	if len(l.levels) == 0 {
		return 0, 0
	}
	o := l.levels[len(l.levels)-1]
	return o.base, o.base + len(o.raw)
}

// Raw returns the span of the body that holds the decoded bytes s[start:end] of the
// string, through every level of nesting. A bound that falls inside the decoded bytes
// of one escape sequence widens the span to the whole sequence (as Redact does), so
// the span never cuts an escape: when both bounds fall between escapes, decoding the
// returned raw span gives exactly s[start:end]. Bounds out of range are clamped.
func (l Location) Raw(start, end int) (rawStart, rawEnd int) {
	rawStart, rawEnd = start, end
	for _, lv := range l.levels {
		if lv.esc {
			rawStart, rawEnd = RawSpan(lv.raw, rawStart, rawEnd)
		} else {
			rawStart = min(max(rawStart, 0), len(lv.raw))
			rawEnd = min(max(rawEnd, rawStart), len(lv.raw))
		}
		rawStart, rawEnd = lv.base+rawStart, lv.base+rawEnd
	}
	return rawStart, rawEnd
}

// RawSpan maps the span [start,end) of the decoded content of a JSON string literal to
// the span of raw, the literal's content as written (the bytes between the quotes),
// that encodes it. Escapes decode as Redact decodes them (as encoding/json does; a
// lone surrogate escape is U+FFFD), and raw need not be valid: an invalid escape counts
// as its raw bytes. A bound inside the decoded bytes of one escape sequence (the two
// bytes of \u00e9, the four of a surrogate pair) widens the span to the whole
// sequence. Bounds are clamped to the decoded length, and end to at least start.
func RawSpan(raw []byte, start, end int) (rawStart, rawEnd int) {
	start = max(start, 0)
	end = max(end, start)
	var one [1]Replacement
	m := mapSpans(one[:0], raw, 0, []Replacement{{Start: start, End: end}}, true)
	return m[0].Start, m[0].End
}

// VisitFunc is called by Visit for one decoded string s at f, located in the body by
// loc. s may alias the body or a reused buffer: the function must not modify it, nor
// keep it or loc after returning. An error stops the walk.
type VisitFunc func(f Field, s []byte, loc Location) error

// Visit calls fn for every string that Redact would pass to its callback, in the same
// order, with the same Field and decoded content, and with its Location in body: the
// strings of JSON text held by a string (tool-call arguments) included, skipped values
// excluded. Paths hold member names as they are in body. It changes nothing. Errors
// are as for Redact.
func Visit(body []byte, fn VisitFunc) error {
	w := getWalker()
	defer putWalker(w)
	w.reset(body, nil, 0, false)
	if err := w.parse(); err != nil {
		return err
	}
	return w.visit(fn, nil)
}

// visit calls fn for the recorded strings of w; outer holds the levels of the
// literals around w's document, innermost first.
func (w *walker) visit(fn VisitFunc, outer []litLevel) error {
	w.renames = w.renames[:0]
	levels := make([]litLevel, 1, len(outer)+1)
	levels = append(levels, outer...)
	for k := range w.recs {
		r := &w.recs[k]
		if r.drop {
			continue
		}
		levels[0] = litLevel{raw: w.b[r.start:r.end], base: r.start, esc: r.esc}
		s := w.b[r.start:r.end]
		if r.esc {
			s = w.decoded(r)
		}
		var err error
		if c := w.nested(k, s, false); c != nil {
			err = c.visit(fn, levels)
		} else {
			err = fn(w.field(k), s, Location{levels: levels})
		}
		if err != nil {
			if w.level > 0 {
				return err
			}
			return fmt.Errorf("walk: string at offset %d: %w", r.start-1, err)
		}
	}
	return nil
}
