package fakeapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"unicode/utf8"
)

// created is the fixed creation time put in responses.
const created = 1700000000

// kv is one member of an ordered JSON object.
type kv struct {
	k string
	v any
}

// obj is a JSON object that keeps its key order, as providers do.
type obj []kv

// MarshalJSON encodes o with its keys in order.
func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(m.k))
		b.WriteByte(':')
		v, err := marshal(m.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// marshal encodes v as compact JSON without HTML escaping (providers send
// '<', '>' and '&' as is).
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'}), nil
}

// mustMarshal encodes values built by this package; they cannot fail, so an
// error yields "null" rather than a panic.
func mustMarshal(v any) []byte {
	b, err := marshal(v)
	if err != nil {
		return []byte("null")
	}
	return b
}

// argsJSON is the JSON text of the echo tool's arguments {"text": echo}.
func argsJSON(echo string) string {
	return string(mustMarshal(obj{{"text", echo}}))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b := mustMarshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// pieces cuts s into pieces of n bytes, never inside a UTF-8 sequence (a
// piece grows to the end of the rune it would cut). It returns nil for "".
func pieces(s string, n int) []string {
	var out []string
	for len(s) > 0 {
		end := min(n, len(s))
		for end < len(s) && !utf8.RuneStart(s[end]) {
			end++
		}
		out = append(out, s[:end])
		s = s[end:]
	}
	return out
}

// writeSizes is the cycle of piece sizes (1..7 bytes) used for cut writes.
var writeSizes = [...]int{3, 1, 7, 2, 5, 4, 6}

// stream writes a streaming response, flushing after every write. When cut
// is set each event goes out in pieces of 1..7 bytes. After the first write
// error (the client went away) it writes nothing more.
type stream struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	cut bool
	n   int
	err error
}

func (s *Server) startStream(w http.ResponseWriter, contentType string) *stream {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	st := &stream{w: w, rc: http.NewResponseController(w), cut: !s.opts.WholeWrites}
	st.flush()
	return st
}

func (st *stream) flush() {
	if st.err == nil {
		st.err = st.rc.Flush()
	}
}

// write sends b, cut into small flushed writes if asked.
func (st *stream) write(b []byte) {
	for len(b) > 0 && st.err == nil {
		n := len(b)
		if st.cut {
			n = min(n, writeSizes[st.n%len(writeSizes)])
			st.n++
		}
		_, st.err = st.w.Write(b[:n])
		st.flush()
		b = b[n:]
	}
}

// event writes an Anthropic or Responses style event: "event: X\ndata: J\n\n".
func (st *stream) event(name string, data any) {
	var b bytes.Buffer
	b.WriteString("event: ")
	b.WriteString(name)
	b.WriteString("\ndata: ")
	b.Write(mustMarshal(data))
	b.WriteString("\n\n")
	st.write(b.Bytes())
}

// data writes a data-only event, "data: J" followed by eol twice.
func (st *stream) data(data []byte, eol string) {
	var b bytes.Buffer
	b.WriteString("data: ")
	b.Write(data)
	b.WriteString(eol)
	b.WriteString(eol)
	st.write(b.Bytes())
}
