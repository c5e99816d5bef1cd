package sse

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzTokens are joined between the '|'-separated pieces of the fuzzed text.
var fuzzTokens = []string{tokAWS, tokPEM, tokPass, tokGone}

// fuzzStream builds a stream of mode carrying text as deltas of the given lengths and
// returns it with the collect key of the text and whether it is JSON text.
func fuzzStream(mode byte, text string, lens []byte) (sse, key string, jsonText bool) {
	var deltas []string
	for rest := text; len(rest) > 0; {
		n := len(rest)
		if len(lens) > 0 {
			n = min(1+int(lens[len(deltas)%len(lens)]%40), n)
			for n < len(rest) && !utf8.RuneStart(rest[n]) {
				n++
			}
		}
		deltas = append(deltas, rest[:n])
		rest = rest[n:]
	}
	var b strings.Builder
	switch mode % 7 {
	case 0, 1:
		typ, field := "text_delta", "text"
		if mode%7 == 1 {
			typ, field, jsonText = "input_json_delta", "partial_json", true
		}
		b.WriteString(sseEvent("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`))
		for _, d := range deltas {
			b.WriteString(sseEvent("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"`+typ+`","`+field+`":`+jsonStr(d)+`}}`))
		}
		b.WriteString(sseEvent("content_block_stop", `{"type":"content_block_stop","index":0}`))
		key = "a0"
	case 2, 3:
		jsonText = mode%7 == 3
		key = "c0.content"
		if jsonText {
			key = "c0.tool0"
		}
		for _, d := range deltas {
			delta := `{"content":` + jsonStr(d) + `}`
			if jsonText {
				delta = `{"tool_calls":[{"index":0,"function":{"arguments":` + jsonStr(d) + `}}]}`
			}
			b.WriteString(sseEvent("", `{"object":"chat.completion.chunk","choices":[{"index":0,"delta":`+delta+`,"finish_reason":null}]}`))
		}
		b.WriteString(sseEvent("", "[DONE]"))
	case 4, 5:
		typ := "response.output_text.delta"
		if mode%7 == 5 {
			typ, jsonText = "response.function_call_arguments.delta", true
		}
		for _, d := range deltas {
			b.WriteString(sseEvent(typ, `{"type":"`+typ+`","item_id":"m","output_index":0,"delta":`+jsonStr(d)+`}`))
		}
		b.WriteString(sseEvent("response.completed", `{"type":"response.completed"}`))
		key = "rm"
	default:
		for _, d := range deltas {
			b.WriteString(sseEvent("", `{"candidates":[{"content":{"parts":[{"text":`+jsonStr(d)+`}],"role":"model"}}]}`))
		}
		key = "g0"
	}
	return b.String(), key, jsonText
}

type sizedReader struct {
	b     []byte
	sizes []byte
	i     int
}

func (s *sizedReader) Read(p []byte) (int, error) {
	if len(s.b) == 0 {
		return 0, io.EOF
	}
	n := len(s.b)
	if len(s.sizes) > 0 {
		n = 1 + int(s.sizes[s.i%len(s.sizes)]%7)
		s.i++
	}
	n = copy(p, s.b[:min(n, len(s.b))])
	s.b = s.b[n:]
	return n, nil
}

func (s *sizedReader) Close() error { return nil }

func FuzzSSERoundTrip(f *testing.F) {
	f.Add(byte(0), "Here is |, and |.", []byte{3, 17, 5}, []byte{1, 2, 3})
	f.Add(byte(1), `{"a":"|","b":"x|"}`, []byte{29, 1, 1}, []byte{6})
	f.Add(byte(2), "clo|cloak_|c", []byte{0}, []byte{})
	f.Add(byte(3), "|\n\"\\", []byte{39}, []byte{0, 5})
	f.Add(byte(5), "é|ü|", []byte{2, 9}, []byte{4})
	f.Add(byte(6), "cloak_aws_|cloak_x|", []byte{10, 20}, []byte{2})
	f.Add(byte(4), "event: x\r\ndata: {\"type\":\"content_block_delta\"}\r\r: c\n\n", []byte{}, []byte{1})
	f.Fuzz(func(t *testing.T, mode byte, raw string, lens, sizes []byte) {
		// Arbitrary bytes as a stream: never panics; without any 'c' nothing can be
		// a token or a token prefix, so the stream comes out unchanged.
		out, err := io.ReadAll(NewReader(&sizedReader{b: []byte(raw), sizes: sizes}, &fakeRestorer{}))
		if err != nil {
			t.Fatalf("arbitrary stream: %v", err)
		}
		if !strings.Contains(raw, "c") && string(out) != raw {
			t.Fatalf("stream without 'c': got %q, want %q", out, raw)
		}

		// A generated stream: the restored concatenation is the restored text.
		text := strings.ToValidUTF8(raw, "?")
		ps := strings.Split(text, "|")
		var b strings.Builder
		for i, p := range ps {
			if i > 0 {
				b.WriteString(fuzzTokens[(i-1)%len(fuzzTokens)])
			}
			b.WriteString(p)
		}
		text = b.String()
		want := restored(text, false)
		if mode%7 == 1 || mode%7 == 3 || mode%7 == 5 {
			text = `{"v":` + jsonStr(text) + `}`
		}
		sse, key, jsonText := fuzzStream(mode, text, lens)
		out, err = io.ReadAll(NewReader(&sizedReader{b: []byte(sse), sizes: sizes}, &fakeRestorer{}))
		if err != nil {
			t.Fatalf("generated stream: %v", err)
		}
		got := collect(t, out)[key]
		if !jsonText {
			if got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
			return
		}
		if wantArgs := restored(text, true); got != wantArgs {
			t.Fatalf("arguments: got %q, want %q", got, wantArgs)
		}
		var doc struct{ V string }
		dec := json.NewDecoder(bytes.NewReader([]byte(got)))
		if err := dec.Decode(&doc); err != nil {
			t.Fatalf("arguments %q: %v", got, err)
		}
		if doc.V != want {
			t.Fatalf("decoded: got %q, want %q", doc.V, want)
		}
	})
}
