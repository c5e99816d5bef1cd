package sse

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/cloakroom/cloakroom/proxy/walk"
)

var endings = []struct{ name, eol string }{
	{"LF", "\n"}, {"CRLF", "\r\n"}, {"CR", "\r"},
}

func TestRestoreStreams(t *testing.T) {
	tests := []struct {
		name   string
		stream func() testStream
		check  func(t *testing.T, out []byte)
	}{
		{name: "anthropic", stream: anthropicStream},
		{name: "openai chat", stream: chatStream},
		{name: "openai responses", stream: responsesStream, check: checkResponsesDone},
		{name: "gemini", stream: geminiStream, check: checkGeminiCall},
	}
	for _, tt := range tests {
		for _, e := range endings {
			for seed := uint64(0); seed < 6; seed++ {
				ts := tt.stream()
				src := withEndings(ts.sse, e.eol)
				var in io.ReadCloser = chop(src, seed)
				if seed == 0 {
					in = io.NopCloser(strings.NewReader(src)) // whole reads
				}
				t.Run(tt.name+"/"+e.name+"/seed"+itoa(int(seed)), func(t *testing.T) {
					out := run(t, in, &fakeRestorer{})
					got := collect(t, out)
					for k, want := range ts.want {
						if got[k] != want {
							t.Errorf("key %s: got %q, want %q", k, got[k], want)
						}
					}
					for k, fields := range ts.jsonKeys {
						var doc map[string]any
						if err := json.Unmarshal([]byte(got[k]), &doc); err != nil {
							t.Fatalf("key %s: arguments are not JSON: %v: %q", k, err, got[k])
						}
						for f, want := range fields {
							if doc[f] != want {
								t.Errorf("key %s field %s: got %q, want %q", k, f, doc[f], want)
							}
						}
					}
					var verbatim []string
					for _, v := range ts.verbatim {
						verbatim = append(verbatim, withEndings(v, e.eol))
					}
					if miss, ok := isSubsequence(verbatim, parseEvents(out)); !ok {
						t.Errorf("event not passed on byte-identical (or out of order): %q", miss)
					}
					if tt.check != nil {
						tt.check(t, out)
					}
				})
			}
		}
	}
}

// checkResponsesDone checks that whole-text events went through Restorer.JSON.
func checkResponsesDone(t *testing.T, out []byte) {
	t.Helper()
	found := 0
	for _, ev := range parseEvents(out) {
		var d struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal([]byte(ev.data), &d); err != nil {
			t.Fatalf("not JSON: %v", err)
		}
		switch d.Type {
		case "response.output_text.done":
			found++
			if want := restored("Key "+tokAWS+" and\n"+tokPEM+" done", false); d.Text != want {
				t.Errorf("output_text.done: got %q, want %q", d.Text, want)
			}
		case "response.completed":
			found++
			if strings.Contains(ev.data, tokAWS) {
				t.Errorf("response.completed still holds a token")
			}
		}
	}
	if found != 2 {
		t.Errorf("got %d done/completed events, want 2", found)
	}
}

// checkGeminiCall checks that the function call's args were restored.
func checkGeminiCall(t *testing.T, out []byte) {
	t.Helper()
	calls := 0
	for _, ev := range parseEvents(out) {
		var d struct {
			Candidates []struct {
				Content struct {
					Parts []struct {
						FunctionCall *struct {
							Args map[string]string `json:"args"`
						} `json:"functionCall"`
						ThoughtSignature string `json:"thoughtSignature"`
					} `json:"parts"`
				} `json:"content"`
			} `json:"candidates"`
		}
		if err := json.Unmarshal([]byte(ev.data), &d); err != nil {
			t.Fatalf("not JSON: %v", err)
		}
		for _, c := range d.Candidates {
			for _, p := range c.Content.Parts {
				if p.FunctionCall == nil {
					continue
				}
				calls++
				if got := p.FunctionCall.Args["content"]; got != valPEM {
					t.Errorf("functionCall args: got %q, want %q", got, valPEM)
				}
				if p.ThoughtSignature != "CiIBVKhc7oDUZm" {
					t.Errorf("thoughtSignature: got %q", p.ThoughtSignature)
				}
			}
		}
	}
	if calls != 1 {
		t.Errorf("got %d function calls, want 1", calls)
	}
}

// Streams without tokens or token prefixes come out byte-identical.
func TestNoTokensIdentical(t *testing.T) {
	tests := []struct {
		name, sse string
	}{
		{"anthropic", sseEvent("message_start", `{"type":"message_start","message":{}}`) +
			sseEvent("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello, world! \u00e9\n\"x\""}}`) +
			": keep-alive comment\n\n" +
			sseEvent("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"More text."}}`) +
			sseEvent("content_block_stop", `{"type":"content_block_stop","index":0}`)},
		{"chat", sseEvent("", `{"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi there"},"finish_reason":null}]}`) +
			sseEvent("", `{"object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`) +
			sseEvent("", "[DONE]")},
		{"odd fields", "id: 7\nretry: 1000\nevent: x\ndata\ndata: two\n\nevent: only-name\n\n\n\nfield-without-colon\ndata:no-space\n\n"},
		{"not json", sseEvent("", "plain text cloak_ and more") + sseEvent("", "{broken json")},
	}
	for _, tt := range tests {
		for _, e := range endings {
			t.Run(tt.name+"/"+e.name, func(t *testing.T) {
				src := withEndings(tt.sse, e.eol)
				rs := &fakeRestorer{}
				out := run(t, chop(src, 3), rs)
				if string(out) != src {
					t.Errorf("got %q, want %q", out, src)
				}
				if rs.texts+rs.jsons != 0 {
					t.Errorf("got %d restorer calls, want 0", rs.texts+rs.jsons)
				}
			})
		}
	}
}

// readEvent reads from r until it has read one whole event (ending in a blank line).
func readEvent(t *testing.T, r io.Reader) string {
	t.Helper()
	done := make(chan string, 1)
	go func() {
		var b []byte
		one := make([]byte, 1)
		for !bytes.HasSuffix(b, []byte("\n\n")) {
			n, err := r.Read(one)
			b = append(b, one[:n]...)
			if err != nil {
				break
			}
		}
		done <- string(b)
	}()
	select {
	case s := <-done:
		return s
	case <-time.After(10 * time.Second): // liveness guard only: the reader is stuck
		t.Fatal("event not readable before more input arrived")
		return ""
	}
}

func textDelta(i int, s string) string {
	return sseEvent("content_block_delta", `{"type":"content_block_delta","index":`+itoa(i)+`,"delta":{"type":"text_delta","text":`+jsonStr(s)+`}}`)
}

// Each event is readable before the next one is written.
func TestStreaming(t *testing.T) {
	pr, pw := io.Pipe()
	r := NewReader(pr, &fakeRestorer{})
	defer r.Close()
	write := func(s string) {
		go func() { _, _ = pw.Write([]byte(s)) }()
	}
	first := textDelta(0, "Hello ")
	write(first)
	if got := readEvent(t, r); got != first {
		t.Fatalf("first event: got %q, want %q", got, first)
	}
	write(textDelta(0, "the key is "+tokAWS[:12]))
	if got, want := readEvent(t, r), textDelta(0, "the key is "); got != want {
		t.Fatalf("second event: got %q, want %q", got, want)
	}
	write(textDelta(0, tokAWS[12:]+" ok"))
	if got, want := readEvent(t, r), textDelta(0, valAWS+" ok"); got != want {
		t.Fatalf("third event: got %q, want %q", got, want)
	}
	write(": comment\n\n")
	if got, want := readEvent(t, r), ": comment\n\n"; got != want {
		t.Fatalf("comment: got %q, want %q", got, want)
	}
	go func() { _ = pw.Close() }()
	if rest, err := io.ReadAll(r); err != nil || len(rest) != 0 {
		t.Fatalf("end: got %q, %v; want nothing, nil", rest, err)
	}
}

func TestHoldBack(t *testing.T) {
	stop := sseEvent("content_block_stop", `{"type":"content_block_stop","index":0}`)
	tests := []struct {
		name  string
		delta string
		emit  string // text of the delta event as emitted
		flush string // text of the synthetic event before content_block_stop, "" if none
	}{
		{"clo holds 3", "Hello clo", "Hello ", "clo"},
		{"no prefix holds nothing", "Hello world", "Hello world", ""},
		{"c holds 1", "magic", "magi", "c"},
		{"whole prefix", "x " + tokAWS[:len(tokAWS)-1], "x ", tokAWS[:len(tokAWS)-1]},
		{"whole token holds nothing", "x " + tokAWS, "x " + valAWS, ""},
		{"token then prefix", tokAWS + " cloak_a", valAWS + " ", "cloak_a"},
		{"not a prefix", "cloak-", "cloak-", ""},
		{"bad class end", "cloak_ab_cd_", "cloak_ab_cd_", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pr, pw := io.Pipe()
			r := NewReader(pr, &fakeRestorer{})
			defer r.Close()
			go func() { _, _ = pw.Write([]byte(textDelta(0, tt.delta))) }()
			if got, want := readEvent(t, r), textDelta(0, tt.emit); got != want {
				t.Errorf("delta: got %q, want %q", got, want)
			}
			go func() {
				_, _ = pw.Write([]byte(stop))
				_ = pw.Close()
			}()
			rest, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			want := stop
			if tt.flush != "" {
				want = textDelta(0, tt.flush) + stop
			}
			if string(rest) != want {
				t.Errorf("rest: got %q, want %q", rest, want)
			}
		})
	}
}

// Flush points: [DONE], EOF, finish_reason, and events that flush nothing.
func TestFlushPoints(t *testing.T) {
	chunk := func(choices string) string {
		return sseEvent("", `{"object":"chat.completion.chunk","choices":[`+choices+`]}`)
	}
	content := func(i int, s, finish string) string {
		return `{"index":` + itoa(i) + `,"delta":{"content":` + jsonStr(s) + `},"logprobs":{"content":[]},"finish_reason":` + finish + `}`
	}
	tests := []struct {
		name, in, want string
	}{
		{
			name: "done flushes",
			in:   chunk(content(0, "ab c", "null")) + sseEvent("", "[DONE]"),
			want: chunk(content(0, "ab ", "null")) + sseEvent("", `{"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"c"},"logprobs":null,"finish_reason":null}]}`) + sseEvent("", "[DONE]"),
		},
		{
			name: "eof flushes",
			in:   textDelta(3, "x cl"),
			want: textDelta(3, "x ") + textDelta(3, "cl"),
		},
		{
			name: "eof flushes before an incomplete event",
			in:   textDelta(3, "x cl") + "data: {\"partial",
			want: textDelta(3, "x ") + textDelta(3, "cl") + "data: {\"partial",
		},
		{
			name: "finish_reason emits the rest of its own delta",
			in:   chunk(content(0, "ab c", "null")) + chunk(content(0, "lo", `"stop"`)),
			want: chunk(content(0, "ab ", "null")) + chunk(content(0, "clo", `"stop"`)),
		},
		{
			name: "finish_reason flushes only its choice",
			in:   chunk(content(0, "a c", "null")+","+content(1, "b c", "null")) + chunk(`{"index":1,"delta":{},"finish_reason":"stop"}`) + chunk(content(0, "loak_aws_abcdefghijklmnopqrst", `"stop"`)),
			want: chunk(content(0, "a ", "null")+","+content(1, "b ", "null")) +
				sseEvent("", `{"object":"chat.completion.chunk","choices":[{"index":1,"delta":{"content":"c"},"logprobs":null,"finish_reason":null}]}`) +
				chunk(`{"index":1,"delta":{},"finish_reason":"stop"}`) + chunk(content(0, valAWS, `"stop"`)),
		},
		{
			name: "ping and thinking flush nothing",
			in: textDelta(1, "a cloak") + sseEvent("ping", `{"type": "ping"}`) +
				sseEvent("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"`+tokAWS+`"}}`) +
				": c\n\n" + textDelta(1, "_aws_abcdefghijklmnopqrst"),
			want: textDelta(1, "a ") + sseEvent("ping", `{"type": "ping"}`) +
				sseEvent("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"`+tokAWS+`"}}`) +
				": c\n\n" + textDelta(1, valAWS),
		},
		{
			name: "other events flush all keys in order",
			in:   textDelta(0, "a c") + textDelta(1, "b cl") + sseEvent("message_stop", `{"type":"message_stop"}`),
			want: textDelta(0, "a ") + textDelta(1, "b ") + textDelta(0, "c") + textDelta(1, "cl") + sseEvent("message_stop", `{"type":"message_stop"}`),
		},
		{
			name: "tool call flush drops id and name",
			in:   chunk(`{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":2,"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\":\"clo"}}]},"finish_reason":null}`) + sseEvent("", "[DONE]"),
			want: chunk(`{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":2,"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\":\""}}]},"finish_reason":null}`) +
				chunk(`{"index":0,"delta":{"tool_calls":[{"index":2,"function":{"arguments":"clo"}}]},"finish_reason":null}`) + sseEvent("", "[DONE]"),
		},
		{
			name: "gemini flush keeps only the text part",
			in: sseEvent("", `{"candidates":[{"content":{"parts":[{"text":"a c"},{"functionCall":{"name":"f","args":{}}}],"role":"model"},"index":0}],"usageMetadata":{"totalTokenCount":3}}`) +
				sseEvent("", `{"candidates":[{"content":{"parts":[{"functionCall":{"name":"g","args":{}}}]},"finishReason":"STOP"}]}`),
			want: sseEvent("", `{"candidates":[{"content":{"parts":[{"text":"a "},{"functionCall":{"name":"f","args":{}}}],"role":"model"},"index":0}],"usageMetadata":{"totalTokenCount":3}}`) +
				sseEvent("", `{"candidates":[{"content":{"parts":[{"text":"c"}],"role":"model"},"index":0}],"usageMetadata":{"totalTokenCount":3}}`) +
				sseEvent("", `{"candidates":[{"content":{"parts":[{"functionCall":{"name":"g","args":{}}}]},"finishReason":"STOP"}]}`),
		},
		{
			name: "responses delta keeps escapes and emits empty string",
			in: sseEvent("response.output_text.delta", `{"type":"response.output_text.delta","item_id":"m","output_index":0,"content_index":0,"delta":"\u00e9\/ cloa"}`) +
				sseEvent("response.output_text.delta", `{"type":"response.output_text.delta","item_id":"m","output_index":0,"content_index":0,"delta":"k_"}`) +
				sseEvent("response.output_text.done", `{"type":"response.output_text.done","text":"x"}`),
			want: sseEvent("response.output_text.delta", `{"type":"response.output_text.delta","item_id":"m","output_index":0,"content_index":0,"delta":"\u00e9\/ "}`) +
				sseEvent("response.output_text.delta", `{"type":"response.output_text.delta","item_id":"m","output_index":0,"content_index":0,"delta":""}`) +
				sseEvent("response.output_text.delta", `{"type":"response.output_text.delta","item_id":"m","output_index":0,"content_index":0,"delta":"cloak_"}`) +
				sseEvent("response.output_text.done", `{"type":"response.output_text.done","text":"x"}`),
		},
	}
	for _, tt := range tests {
		for _, e := range endings {
			t.Run(tt.name+"/"+e.name, func(t *testing.T) {
				in, want := withEndings(tt.in, e.eol), withEndings(tt.want, e.eol)
				out := run(t, chop(in, 11), &fakeRestorer{})
				if string(out) != want {
					t.Errorf("got  %q\nwant %q", out, want)
				}
			})
		}
	}
}

// A restored event differs from the original only inside the changed string.
func TestSpliceFidelity(t *testing.T) {
	in := "event: content_block_delta\r\nid: 9\r\ndata: {\"type\" : \"content_block_delta\", \"index\": 0 ,\"delta\": {\"type\":\"text_delta\", \"text\":\"k=" + tokPEM + "\"} }\r\n\r\n"
	want := "event: content_block_delta\r\nid: 9\r\ndata: {\"type\" : \"content_block_delta\", \"index\": 0 ,\"delta\": {\"type\":\"text_delta\", \"text\":" + jsonStr("k="+valPEM) + "} }\r\n\r\n"
	if got := run(t, chop(in, 1), &fakeRestorer{}); string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// Multi-line data is joined with \n before it is parsed and re-split on output.
func TestMultiLineData(t *testing.T) {
	in := "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\n: a comment\ndata:  \"index\":0,\"delta\":{\"type\":\"text_delta\",\n" +
		"data: \"text\":\"" + tokAWS + "\"}}\n\n"
	want := "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\n: a comment\ndata:  \"index\":0,\"delta\":{\"type\":\"text_delta\",\n" +
		"data: \"text\":\"" + valAWS + "\"}}\n\n"
	if got := run(t, chop(in, 2), &fakeRestorer{}); string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestBOMAndLoneCR(t *testing.T) {
	in := "\xEF\xBB\xBF" + withEndings(textDelta(0, "x cl")+textDelta(0, "oak_aws_abcdefghijklmnopqrst"), "\r")
	want := "\xEF\xBB\xBF" + withEndings(textDelta(0, "x ")+textDelta(0, valAWS), "\r")
	for seed := uint64(0); seed < 8; seed++ {
		if got := run(t, chop(in, seed), &fakeRestorer{}); string(got) != want {
			t.Errorf("seed %d: got %q, want %q", seed, got, want)
		}
	}
}

// A synthetic event copies a CRLF event whose blank line's '\n' came in a later read.
func TestSplitCRLFTemplate(t *testing.T) {
	ev := withEndings(textDelta(0, "x cl"), "\r\n")
	pr, pw := io.Pipe()
	r := NewReader(pr, &fakeRestorer{})
	go func() {
		_, _ = pw.Write([]byte(ev[:len(ev)-1])) // up to the last '\r'
		_, _ = pw.Write([]byte("\n"))
		_, _ = pw.Write([]byte(withEndings(sseEvent("message_stop", `{"type":"message_stop"}`), "\r\n")))
		_ = pw.Close()
	}()
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	want := withEndings(textDelta(0, "x ")+textDelta(0, "cl")+sseEvent("message_stop", `{"type":"message_stop"}`), "\r\n")
	if string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestEventTooLarge(t *testing.T) {
	in := textDelta(0, "ok") + "data: " + strings.Repeat("x", 5000)
	r := newReader(io.NopCloser(strings.NewReader(in)), &fakeRestorer{}, 1000)
	got, err := io.ReadAll(r)
	if !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("got error %v, want ErrEventTooLarge", err)
	}
	if string(got) != textDelta(0, "ok") {
		t.Errorf("got %q, want the complete event before it", got)
	}
	if cap(r.buf) > 1000+2*minRead {
		t.Errorf("buffer grew to %d bytes, want at most %d", cap(r.buf), 1000+2*minRead)
	}
}

type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		return n, e.err
	}
	return n, err
}

func (e *errReader) Close() error { return nil }

func TestUpstreamError(t *testing.T) {
	boom := errors.New("connection reset")
	in := textDelta(0, "a "+tokAWS) + textDelta(0, "b c") + "data: {\"type\":"
	r := NewReader(&errReader{r: strings.NewReader(in), err: boom}, &fakeRestorer{})
	got, err := io.ReadAll(r)
	if !errors.Is(err, boom) {
		t.Fatalf("got error %v, want %v", err, boom)
	}
	want := textDelta(0, "a "+valAWS) + textDelta(0, "b ") + textDelta(0, "c") + "data: {\"type\":"
	if string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestCloseClosesSource(t *testing.T) {
	src := &closeRecorder{Reader: strings.NewReader("")}
	if err := NewReader(src, &fakeRestorer{}).Close(); err != nil {
		t.Fatal(err)
	}
	if !src.closed {
		t.Error("got source open, want closed")
	}
}

// Thinking, signatures and reasoning never reach the Restorer.
func TestSignedUntouched(t *testing.T) {
	in := sseEvent("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"`+tokAWS+`"}}`) +
		sseEvent("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"`+tokAWS+`"}}`) +
		sseEvent("response.reasoning_text.delta", `{"type":"response.reasoning_text.delta","delta":"`+tokAWS+`"}`) +
		sseEvent("", `{"candidates":[{"content":{"parts":[{"text":"`+tokAWS+`","thought":true}]}}]}`) +
		sseEvent("", `{"candidates":[{"content":{"parts":[{"text":"`+tokAWS+`","thoughtSignature":"`+tokPEM+`"}]}}]}`)
	rs := &fakeRestorer{}
	if got := run(t, chop(in, 5), rs); string(got) != in {
		t.Errorf("got %q, want %q", got, in)
	}
	if rs.texts+rs.jsons != 0 {
		t.Errorf("got %d restorer calls, want 0", rs.texts+rs.jsons)
	}
}

func TestJSONStrings(t *testing.T) {
	tests := []struct {
		name, lit string // a JSON string literal
	}{
		{"plain", `"hello"`},
		{"escapes", `"a\"b\\c\/d\b\f\n\r\t"`},
		{"unicode", `"\u00e9\u4e2d\ud83d\ude00 é"`},
		{"lone surrogates", `"\ud83d x \ude00"`},
		{"controls", `"\u0000\u001f\u007f"`},
		{"html", `"<a href='x'>&amp;</a>"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dec := walk.AppendUnquoted(nil, []byte(tt.lit[1:len(tt.lit)-1]))
			enc := `"` + string(walk.AppendEscaped(nil, dec)) + `"`
			var a, b string
			if err := json.Unmarshal([]byte(tt.lit), &a); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(enc), &b); err != nil {
				t.Fatalf("re-encoded %q is not JSON: %v", enc, err)
			}
			if a != b {
				t.Errorf("got %q, want %q", b, a)
			}
			if again := walk.AppendUnquoted(nil, []byte(enc[1:len(enc)-1])); !bytes.Equal(again, dec) {
				t.Errorf("second round: got %q, want %q", again, dec)
			}
			if strings.ContainsAny(enc, "<>&") != strings.ContainsAny(a, "<>&") {
				t.Errorf("got %q: <>& must not be escaped", enc)
			}
		})
	}
}

func TestMalformedJSON(t *testing.T) {
	tests := []string{
		`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"abc`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":1}}`,
		`{"type":"content_block_delta","delta":"x"}`,
		`{"object":"chat.completion.chunk","choices":{"a":1}}`,
		`{"object":"chat.completion.chunk","choices":[1,{"delta":[]},{"delta":{"tool_calls":{}}}]}`,
		`{"candidates":[{"content":{"parts":{}}}]}`,
		`{"candidates":[{"content":[]}, 3]}`,
		`{"a":}`, `{"a" 1}`, `[1,2`, `{}}`, `{"a":1,}`, `   `,
	}
	for _, data := range tests {
		in := sseEvent("", data)
		if got := run(t, chop(in, 1), &fakeRestorer{}); string(got) != in {
			t.Errorf("got %q, want %q", got, in)
		}
	}
}

// Past the bound on held templates, text is emitted without holding anything back.
func TestHeldBound(t *testing.T) {
	in := textDelta(0, "a clo") + textDelta(1, "b clo") + sseEvent("message_stop", `{"type":"message_stop"}`)
	r := newReader(io.NopCloser(strings.NewReader(in)), &fakeRestorer{}, MaxEventSize)
	r.maxHeld = len(textDelta(0, "")) + 1 // room for one template
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	want := textDelta(0, "a ") + textDelta(1, "b clo") + textDelta(0, "clo") + sseEvent("message_stop", `{"type":"message_stop"}`)
	if string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
