package sse

import (
	"bytes"

	"github.com/cloakroom/cloakroom/proxy/walk"
	"github.com/cloakroom/cloakroom/tokenize"
)

// state is the restoring half of a reader: pending text per stream key and scratch
// buffers reused from event to event.
type state struct {
	streams []*stream // keys with held-back text, oldest first
	spare   []*stream
	held    int // bytes of synthetic-event templates in streams
	maxHeld int // bound on held

	// per event
	sites  []site
	scopes []span // prefixes (in keys) of the keys the event ends unless it continues them
	edits  []edit
	keys   []byte
	lits   []byte
	text   []byte
	ndata  []byte
	tdata  []byte
	tpl    []byte
	join   []byte
}

// stream is the pending text of one stream key (a content block, a choice's content,
// a tool call's arguments, ...).
type stream struct {
	key  []byte
	tail []byte // held-back text: a possible token prefix, never a whole token
	ev   []byte // the synthetic event that emits tail, without tail
	hole int    // where tail goes in ev
}

// shape says how a synthetic event is built from the event of a site.
type shape uint8

const (
	shapeSame   shape = iota // the same event with the delta string replaced
	shapeChat                // one choice whose delta holds only this field
	shapeGemini              // one candidate whose content holds one text part
)

// site is one delta string of an event.
type site struct {
	lit      span // the string literal in data, quotes included
	key      span // in state.keys
	jsonText bool
	final    bool // the event ends the key's stream: hold nothing back

	shape shape
	outer span   // shapeChat: choices; shapeGemini: candidates
	elem  span   // the choice or candidate
	inner span   // shapeChat: the delta object; shapeGemini: the parts array
	drop  span   // shapeChat: the choice's logprobs, written as null
	field string // shapeChat: the delta member (content, refusal, ...); "" for a tool call
	tool  span   // shapeChat tool call: its index value
	toolN int    // shapeChat tool call: its position, when it has no index
}

// edit replaces data[at.s:at.e] by lits[repl.s:repl.e], or by ext if not nil.
type edit struct {
	at, repl span
	ext      []byte
}

// handle handles one complete event with data.
func (r *reader) handle(ev *event, data []byte) {
	switch r.classify(data) {
	case kindKeep:
		r.out = append(r.out, ev.raw...)
	case kindRaw:
		r.flushAll()
		r.out = append(r.out, ev.raw...)
	case kindOther:
		r.flushAll()
		r.restoreJSON(ev, data)
	case kindDeltaOther:
		r.restoreJSON(ev, data)
	case kindDelta:
		r.deltas(ev, data)
	}
}

// restoreJSON emits ev with its data restored by Restorer.JSON if it may hold a token.
func (r *reader) restoreJSON(ev *event, data []byte) {
	if !tokenize.Contains(data) {
		r.out = append(r.out, ev.raw...)
		return
	}
	r.out, _ = appendEvent(r.out, ev, r.rs.JSON(data), -1)
}

// deltas emits a delta event: streams it ends are flushed first, then every site's
// text is restored and its possible token prefix held back.
func (r *reader) deltas(ev *event, data []byte) {
	if len(r.scopes) > 0 {
		r.flushScoped()
	}
	for i := range r.sites {
		r.site(ev, data, &r.sites[i])
	}
	if len(r.edits) == 0 {
		r.out = append(r.out, ev.raw...)
		return
	}
	for i := 1; i < len(r.edits); i++ { // few edits, almost always in order
		for j := i; j > 0 && r.edits[j].at.s < r.edits[j-1].at.s; j-- {
			r.edits[j], r.edits[j-1] = r.edits[j-1], r.edits[j]
		}
	}
	nd, pos := r.ndata[:0], 0
	for _, e := range r.edits {
		if e.at.s < pos { // overlapping: malformed input, give up on this edit
			continue
		}
		nd = append(nd, data[pos:e.at.s]...)
		if e.ext != nil {
			nd = append(nd, e.ext...)
		} else {
			nd = append(nd, r.lits[e.repl.s:e.repl.e]...)
		}
		pos = e.at.e
	}
	nd = append(nd, data[pos:]...)
	r.ndata = nd
	r.out, _ = appendEvent(r.out, ev, nd, -1)
}

// site restores one delta string: pending text plus the delta, whole tokens restored,
// a trailing possible token prefix held back for the next delta of the key.
func (r *reader) site(ev *event, data []byte, s *site) {
	key := r.keys[s.key.s:s.key.e]
	st := r.find(key)
	var old []byte
	if st != nil {
		old = st.tail
	}
	body := data[s.lit.s+1 : s.lit.e-1]
	text := walk.AppendUnquoted(append(r.text[:0], old...), body)
	r.text = text
	cut := len(text)
	if !s.final {
		if tokenize.Contains(text) {
			cut -= tokenize.HoldBack(text)
		} else {
			cut -= tokenize.HoldBackAfter(text, 0)
		}
	}
	tpl, hole := []byte(nil), 0
	if cut < len(text) {
		tpl, hole = r.template(ev, data, s)
		if r.held-st.size()+len(tpl) > r.maxHeld || st == nil && len(r.streams) >= maxStreams {
			cut = len(text) // too much held already: emit it all
		}
	}
	frag := text[:cut]
	out := frag
	if tokenize.Contains(frag) {
		out = r.rs.Text(frag, s.jsonText)
	}
	held := len(text) - cut
	same := bytes.Equal(out, frag)
	if len(old) > 0 || held > 0 || !same {
		ls := len(r.lits)
		r.lits = append(r.lits, '"')
		if same && cut >= len(old) && plainSuffix(body, held) {
			// keep the delta's own escaping: prepend old, drop the held suffix
			r.lits = append(r.lits, old...)
			r.lits = append(r.lits, body[:len(body)-held]...)
		} else {
			r.lits = walk.AppendEscaped(r.lits, out)
		}
		r.lits = append(r.lits, '"')
		r.edits = append(r.edits, edit{at: s.lit, repl: span{ls, len(r.lits)}})
	}
	switch {
	case held > 0:
		r.hold(st, key, text[cut:], tpl, hole)
	case st != nil:
		r.drop(st)
	}
}

// plainSuffix reports whether the last n bytes of the literal body are literal
// characters, not part of an escape, so that they equal the decoded text's last n.
func plainSuffix(body []byte, n int) bool {
	if n == 0 {
		return true
	}
	if n > len(body) {
		return false
	}
	end := 0 // end of the last escape sequence
	for i := 0; ; {
		j := bytes.IndexByte(body[i:], '\\')
		if j < 0 {
			break
		}
		i += j + 2
		if i-1 < len(body) && body[i-1] == 'u' {
			i += 4
		}
		end = i
		if i >= len(body) {
			break
		}
	}
	return end <= len(body)-n
}

func (st *stream) size() int {
	if st == nil {
		return 0
	}
	return len(st.ev)
}

// find returns the stream of key, or nil.
func (r *reader) find(key []byte) *stream {
	for _, st := range r.streams {
		if bytes.Equal(st.key, key) {
			return st
		}
	}
	return nil
}

// hold sets the pending text of key (stream st, nil if new) to tail, to be emitted by
// the synthetic event tpl with tail at hole.
func (r *reader) hold(st *stream, key, tail, tpl []byte, hole int) {
	if st == nil {
		if n := len(r.spare); n > 0 {
			st, r.spare = r.spare[n-1], r.spare[:n-1]
		} else {
			st = new(stream)
		}
		st.key = append(st.key[:0], key...)
		r.streams = append(r.streams, st)
	}
	r.held += len(tpl) - len(st.ev)
	st.tail = append(st.tail[:0], tail...)
	st.ev = append(st.ev[:0], tpl...)
	st.hole = hole
}

// drop forgets the stream st.
func (r *reader) drop(st *stream) {
	for i, x := range r.streams {
		if x == st {
			r.streams = append(r.streams[:i], r.streams[i+1:]...)
			break
		}
	}
	r.held -= len(st.ev)
	st.tail, st.ev = st.tail[:0], st.ev[:0]
	r.spare = append(r.spare, st)
}

// emit appends the synthetic event that emits st's pending text.
func (r *reader) emit(st *stream) {
	r.out = append(r.out, st.ev[:st.hole]...)
	r.out = walk.AppendEscaped(r.out, st.tail)
	r.out = append(r.out, st.ev[st.hole:]...)
	if r.ends != nil {
		r.ends = append(r.ends, len(r.out))
	}
}

// flushAll emits every pending text, oldest key first.
func (r *reader) flushAll() {
	for _, st := range r.streams {
		r.emit(st)
		r.held -= len(st.ev)
		st.tail, st.ev = st.tail[:0], st.ev[:0]
		r.spare = append(r.spare, st)
	}
	clear(r.streams)
	r.streams = r.streams[:0]
}

// flushScoped emits the pending text of every key under one of the event's scopes
// that the event does not continue.
func (r *reader) flushScoped() {
	for i := 0; i < len(r.streams); {
		st := r.streams[i]
		if r.inScope(st.key) && !r.continues(st.key) {
			r.emit(st)
			r.drop(st)
			continue
		}
		i++
	}
}

func (r *reader) inScope(key []byte) bool {
	for _, sc := range r.scopes {
		if bytes.HasPrefix(key, r.keys[sc.s:sc.e]) {
			return true
		}
	}
	return false
}

func (r *reader) continues(key []byte) bool {
	for _, s := range r.sites {
		if bytes.Equal(key, r.keys[s.key.s:s.key.e]) {
			return true
		}
	}
	return false
}

// template builds the synthetic event that will emit the text held back at site s of
// ev, and the position of the text in it.
func (r *reader) template(ev *event, data []byte, s *site) ([]byte, int) {
	b := r.tdata[:0]
	var hole int
	if s.shape == shapeSame {
		b = append(b, data[:s.lit.s+1]...)
		hole = len(b)
		b = append(b, data[s.lit.e-1:]...)
	} else {
		b = append(b, data[:s.outer.s]...)
		b = append(b, '[')
		pos := s.elem.s
		if s.drop.ok() && s.drop.e <= s.inner.s {
			b = append(b, data[pos:s.drop.s]...)
			b = append(b, "null"...)
			pos = s.drop.e
		}
		b = append(b, data[pos:s.inner.s]...)
		switch {
		case s.shape == shapeGemini:
			b = append(b, `[{"text":"`...)
			hole = len(b)
			b = append(b, `"}]`...)
		case s.field != "":
			b = append(b, `{"`...)
			b = append(b, s.field...)
			b = append(b, `":"`...)
			hole = len(b)
			b = append(b, `"}`...)
		default:
			b = append(b, `{"tool_calls":[{"index":`...)
			if s.tool.ok() {
				b = append(b, data[s.tool.s:s.tool.e]...)
			} else {
				b = appendInt(b, s.toolN)
			}
			b = append(b, `,"function":{"arguments":"`...)
			hole = len(b)
			b = append(b, `"}}]}`...)
		}
		pos = s.inner.e
		if s.drop.ok() && s.drop.s >= s.inner.e {
			b = append(b, data[pos:s.drop.s]...)
			b = append(b, "null"...)
			pos = s.drop.e
		}
		b = append(b, data[pos:s.elem.e]...)
		b = append(b, ']')
		b = append(b, data[s.outer.e:]...)
	}
	r.tdata = b
	tpl, at := appendEvent(r.tpl[:0], ev, b, hole)
	// A blank line that ended the event with a lone '\r' at the end of the input may
	// have been followed by '\n', already passed on: end the copy like the first line.
	if last := ev.lines[len(ev.lines)-1]; string(ev.raw[last.next:]) == "\r" {
		if f := ev.lines[0]; string(ev.raw[f.ve:f.next]) == "\r\n" {
			tpl = append(tpl, '\n')
		}
	}
	r.tpl = tpl
	return tpl, at
}

func appendInt(b []byte, n int) []byte {
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}
