package sse

import "bytes"

// Messages restores tokens in a stream of whole messages, such as the text messages of
// a WebSocket, whose payloads are exactly what an SSE event's data carries (the
// OpenAI Responses API sends the same JSON events over both).
//
// It applies the reader's per-event logic to each message: deltas are restored per
// stream key, holding back only a trailing possible token prefix, which is emitted
// with the key's next delta or, when the key's stream ends, as a synthetic message
// (a copy of the key's last delta message with only the delta string replaced). A
// message is passed on byte-identical unless it carries a token or held-back text.
//
// A Messages is not safe for concurrent use.
type Messages struct {
	r *reader
}

// NewMessages returns a message restorer that restores tokens with r.
func NewMessages(r Restorer) *Messages {
	rd := newReader(nil, r, MaxEventSize)
	rd.ends = make([]int, 0, 4)
	return &Messages{r: rd}
}

// retainOut is the largest output buffer kept between calls; larger ones are freed so
// that one huge message does not pin its memory for the life of the stream.
const retainOut = 1 << 20

// Push takes one message and returns the messages to send now, in order: zero or more
// synthetic messages emitting held-back text of keys the message ends, then the
// message itself with tokens restored, minus the possible token prefix it holds back.
// A returned slice is either msg itself (passed on unchanged) or freshly allocated; none
// is touched by later calls. msg is not retained.
//
// Push fails with ErrEventTooLarge, emitting nothing and keeping its state, when msg is
// longer than MaxEventSize.
func (m *Messages) Push(msg []byte) ([][]byte, error) {
	if len(msg) > MaxEventSize {
		return nil, ErrEventTooLarge
	}
	r := m.r
	r.out, r.ends = r.out[:0], r.ends[:0]
	r.lines = append(r.lines[:0], line{vs: 0, ve: len(msg), next: len(msg), data: true})
	ev := event{raw: msg, lines: r.lines, ndata: 1, first: 0, whole: true}
	r.handle(&ev, msg)
	if len(r.ends) == 0 && bytes.Equal(r.out, msg) {
		m.trim()
		return [][]byte{msg}, nil
	}
	r.ends = append(r.ends, len(r.out))
	return m.take(), nil
}

// Flush returns the synthetic messages that emit every held-back text, oldest key
// first, and forgets it: call it at the end of the stream. The stream may go on after
// a Flush.
func (m *Messages) Flush() [][]byte {
	r := m.r
	r.out, r.ends = r.out[:0], r.ends[:0]
	r.flushAll()
	return m.take()
}

// take returns copies of the messages in r.out, cut at r.ends.
func (m *Messages) take() [][]byte {
	r := m.r
	if len(r.ends) == 0 {
		return nil
	}
	buf := bytes.Clone(r.out)
	if buf == nil {
		buf = []byte{}
	}
	msgs := make([][]byte, len(r.ends))
	start := 0
	for i, end := range r.ends {
		msgs[i] = buf[start:end:end]
		start = end
	}
	m.trim()
	return msgs
}

// trim frees the per-message scratch buffers that one large message grew.
func (m *Messages) trim() {
	r := m.r
	if cap(r.out) > retainOut {
		r.out = nil
	}
	if cap(r.ndata) > retainOut {
		r.ndata = nil
	}
	if cap(r.lits) > retainOut {
		r.lits = nil
	}
	if cap(r.text) > retainOut {
		r.text = nil
	}
}
