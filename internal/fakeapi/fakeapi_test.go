package fakeapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"github.com/coder/websocket"
)

// echoText has a token, JSON-special characters, a newline and multibyte
// runes so that cuts land inside tokens, escapes and UTF-8 sequences.
const echoText = "key=cloak_aws_abcdefghijklmnopqrst \"q\" <&>\nline2 é 日本 cloak_gh_abcdefghijklmnopqrst"

// recordConn counts the TLS records (all are type application_data once
// TLS 1.3 is up) that the client reads. Record boundaries survive TCP
// coalescing, so they show how the server cut its writes.
type recordConn struct {
	net.Conn
	records *atomic.Int64
	hdr     [5]byte
	hdrN    int
	left    int
}

func (c *recordConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	b := p[:n]
	for len(b) > 0 {
		if c.left > 0 {
			k := min(c.left, len(b))
			c.left -= k
			b = b[k:]
			continue
		}
		c.hdr[c.hdrN] = b[0]
		c.hdrN++
		b = b[1:]
		if c.hdrN == len(c.hdr) {
			c.hdrN = 0
			c.left = int(c.hdr[3])<<8 | int(c.hdr[4])
			if c.hdr[0] == 0x17 {
				c.records.Add(1)
			}
		}
	}
	return n, err
}

// client returns an HTTP client that trusts the fake's CA and dials the fake
// for any host. records, when not nil, counts the TLS records read.
func client(t *testing.T, s *Server, h2 bool, records *atomic.Int64) *http.Client {
	t.Helper()
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: s.RootCAs},
		ForceAttemptHTTP2: h2,
		DisableKeepAlives: records != nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := s.Dial(ctx, network, addr)
			if err != nil || records == nil {
				return c, err
			}
			return &recordConn{Conn: c, records: records}, nil
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func post(t *testing.T, c *http.Client, url, body string) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body of %s: %v", url, err)
	}
	return resp, b
}

type sseEvent struct{ name, data string }

// parseSSE splits an SSE body into events; it accepts LF or CRLF line ends.
func parseSSE(t *testing.T, body []byte) []sseEvent {
	t.Helper()
	var out []sseEvent
	var cur sseEvent
	for line := range strings.SplitSeq(strings.ReplaceAll(string(body), "\r\n", "\n"), "\n") {
		switch {
		case line == "":
			if cur != (sseEvent{}) {
				out = append(out, cur)
				cur = sseEvent{}
			}
		case strings.HasPrefix(line, "event: "):
			cur.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.data = strings.TrimPrefix(line, "data: ")
		default:
			t.Fatalf("unexpected SSE line %q", line)
		}
	}
	if cur != (sseEvent{}) {
		t.Fatalf("stream ends inside an event: %+v", cur)
	}
	return out
}

func decode(t *testing.T, data string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(data), &m); err != nil {
		t.Fatalf("event data is not JSON: %v: %q", err, data)
	}
	return m
}

// get walks m along keys (string for objects, int for arrays).
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

// checkArgs checks that args is the JSON text of {"text": echoText}.
func checkArgs(t *testing.T, args string) {
	t.Helper()
	var m struct{ Text string }
	if err := json.Unmarshal([]byte(args), &m); err != nil {
		t.Fatalf("tool arguments are not JSON: %v: %q", err, args)
	}
	if m.Text != echoText {
		t.Errorf("tool arguments text: got %q, want %q", m.Text, echoText)
	}
}

// checkPieces checks that deltas are valid UTF-8, at most chunk bytes
// (plus the rest of a rune) and that there is more than one.
func checkPieces(t *testing.T, what string, deltas []string, chunk int) {
	t.Helper()
	if len(deltas) < 2 {
		t.Errorf("%s: got %d deltas, want several", what, len(deltas))
	}
	for _, d := range deltas {
		if !utf8.ValidString(d) || len(d) > chunk+utf8.UTFMax-1 || d == "" {
			t.Errorf("%s: bad delta %q (chunk %d)", what, d, chunk)
		}
	}
}

func jsonStr(s string) string { return string(mustMarshal(s)) }

func TestAnthropic(t *testing.T) {
	s := Start(t, Options{})
	// Two text blocks joined with "\n" give echoText back.
	first, second, _ := strings.Cut(echoText, "\n")
	body := `{"model":"claude-x","max_tokens":100,"messages":[` +
		`{"role":"user","content":"first turn"},` +
		`{"role":"assistant","content":[{"type":"text","text":"ok"}]},` +
		`{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"ignored"},` +
		`{"type":"text","text":` + jsonStr(first) + `},{"type":"text","text":` + jsonStr(second) + `}]}],` +
		`"stream":%s}`
	want := echoText

	for _, h2 := range []bool{false, true} {
		c := client(t, s, h2, nil)
		t.Run("json/h2="+boolStr(h2), func(t *testing.T) {
			resp, b := post(t, c, "https://api.anthropic.com/v1/messages", strings.Replace(body, "%s", "false", 1))
			wantMajor := 1
			if h2 {
				wantMajor = 2
			}
			if resp.StatusCode != 200 || resp.ProtoMajor != wantMajor {
				t.Fatalf("got status %d proto %s, want 200 HTTP/%d", resp.StatusCode, resp.Proto, wantMajor)
			}
			m := decode(t, string(b))
			checks := []struct {
				name string
				got  any
				want any
			}{
				{"model", get(m, "model"), "claude-x"},
				{"thinking", get(m, "content", 0, "thinking"), thinkingPrefix + want},
				{"signature", get(m, "content", 0, "signature"), anthropicSignature},
				{"text", get(m, "content", 1, "text"), want},
				{"tool input", get(m, "content", 2, "input", "text"), want},
				{"tool name", get(m, "content", 2, "name"), "echo"},
				{"stop_reason", get(m, "stop_reason"), "tool_use"},
			}
			for _, ck := range checks {
				if ck.got != ck.want {
					t.Errorf("%s: got %v, want %v", ck.name, ck.got, ck.want)
				}
			}
		})
		t.Run("sse/h2="+boolStr(h2), func(t *testing.T) {
			resp, b := post(t, c, "https://api.anthropic.com/v1/messages", strings.Replace(body, "%s", "true", 1))
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
				t.Fatalf("Content-Type: got %q, want text/event-stream", ct)
			}
			var names []string
			var thinking, text, args strings.Builder
			var textDeltas []string
			for _, ev := range parseSSE(t, b) {
				m := decode(t, ev.data)
				if got := get(m, "type"); got != ev.name {
					t.Errorf("event %q has data type %v", ev.name, got)
				}
				name := ev.name
				if d, ok := get(m, "delta", "type").(string); ok && name == "content_block_delta" {
					name = d
				}
				if len(names) == 0 || names[len(names)-1] != name {
					names = append(names, name)
				}
				switch name {
				case "thinking_delta":
					thinking.WriteString(get(m, "delta", "thinking").(string))
				case "text_delta":
					d := get(m, "delta", "text").(string)
					textDeltas = append(textDeltas, d)
					text.WriteString(d)
				case "input_json_delta":
					args.WriteString(get(m, "delta", "partial_json").(string))
				}
			}
			wantNames := []string{"message_start",
				"content_block_start", "thinking_delta", "signature_delta", "content_block_stop", "ping",
				"content_block_start", "text_delta", "content_block_stop",
				"content_block_start", "input_json_delta", "content_block_stop",
				"message_delta", "message_stop"}
			if !slices.Equal(names, wantNames) {
				t.Errorf("event sequence:\ngot  %v\nwant %v", names, wantNames)
			}
			if thinking.String() != thinkingPrefix+want {
				t.Errorf("thinking: got %q, want %q", thinking.String(), thinkingPrefix+want)
			}
			if text.String() != want {
				t.Errorf("text: got %q, want %q", text.String(), want)
			}
			checkPieces(t, "text_delta", textDeltas, DefaultChunk)
			var in struct{ Text string }
			if err := json.Unmarshal([]byte(args.String()), &in); err != nil || in.Text != want {
				t.Errorf("partial_json: got %q (err %v), want text %q", args.String(), err, want)
			}
		})
	}
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func TestChatCompletions(t *testing.T) {
	s := Start(t, Options{Chunk: 5})
	c := client(t, s, false, nil)
	for _, tc := range []struct {
		name    string
		content string
	}{
		{"string", jsonStr(echoText)},
		{"parts", `[{"type":"text","text":` + jsonStr(echoText) + `}]`},
	} {
		body := `{"model":"gpt-x","messages":[{"role":"system","content":"sys"},{"role":"user","content":` + tc.content + `}],"stream":%s}`
		t.Run(tc.name+"/json", func(t *testing.T) {
			_, b := post(t, c, "https://api.openai.com/v1/chat/completions", strings.Replace(body, "%s", "false", 1))
			m := decode(t, string(b))
			if got := get(m, "choices", 0, "message", "content"); got != echoText {
				t.Errorf("content: got %v, want %q", got, echoText)
			}
			if got := get(m, "choices", 0, "finish_reason"); got != "tool_calls" {
				t.Errorf("finish_reason: got %v, want tool_calls", got)
			}
			args, _ := get(m, "choices", 0, "message", "tool_calls", 0, "function", "arguments").(string)
			checkArgs(t, args)
		})
		t.Run(tc.name+"/sse", func(t *testing.T) {
			_, b := post(t, c, "https://api.openai.com/v1/chat/completions", strings.Replace(body, "%s", "true", 1))
			evs := parseSSE(t, b)
			if len(evs) == 0 || evs[len(evs)-1].data != "[DONE]" {
				t.Fatalf("stream does not end with [DONE]: %q", b)
			}
			var text, args strings.Builder
			var deltas []string
			var finish any
			for i, ev := range evs[:len(evs)-1] {
				m := decode(t, ev.data)
				d := get(m, "choices", 0, "delta")
				if i == 0 && get(d, "role") != "assistant" {
					t.Errorf("first chunk: got delta %v, want role assistant", d)
				}
				if s, ok := get(d, "content").(string); ok && s != "" {
					deltas = append(deltas, s)
					text.WriteString(s)
				}
				if a, ok := get(d, "tool_calls", 0, "function", "arguments").(string); ok {
					args.WriteString(a)
				}
				if f := get(m, "choices", 0, "finish_reason"); f != nil {
					finish = f
				}
			}
			if text.String() != echoText {
				t.Errorf("content: got %q, want %q", text.String(), echoText)
			}
			checkPieces(t, "content", deltas, 5)
			checkArgs(t, args.String())
			if finish != "tool_calls" {
				t.Errorf("finish_reason: got %v, want tool_calls", finish)
			}
		})
	}
}

func TestResponses(t *testing.T) {
	s := Start(t, Options{})
	c := client(t, s, true, nil)
	for _, tc := range []struct {
		name  string
		input string
	}{
		{"string", jsonStr(echoText)},
		{"items", `[{"role":"user","content":"old"},{"type":"message","role":"assistant","content":[{"type":"output_text","text":"x"}]},` +
			`{"type":"message","role":"user","content":[{"type":"input_text","text":` + jsonStr(echoText) + `}]},` +
			`{"type":"function_call_output","call_id":"c","output":"out"}]`},
	} {
		body := `{"model":"gpt-r","input":` + tc.input + `,"stream":%s}`
		t.Run(tc.name+"/json", func(t *testing.T) {
			_, b := post(t, c, "https://chatgpt.com/v1/responses", strings.Replace(body, "%s", "false", 1))
			m := decode(t, string(b))
			checkResponse(t, m)
		})
		t.Run(tc.name+"/sse", func(t *testing.T) {
			_, b := post(t, c, "https://api.openai.com/v1/responses", strings.Replace(body, "%s", "true", 1))
			var text, args strings.Builder
			var deltas []string
			var done map[string]any
			for i, ev := range parseSSE(t, b) {
				m := decode(t, ev.data)
				if get(m, "type") != ev.name {
					t.Errorf("event %q has data type %v", ev.name, get(m, "type"))
				}
				if got := get(m, "sequence_number"); got != float64(i) {
					t.Errorf("event %d sequence_number: got %v, want %d", i, got, i)
				}
				switch ev.name {
				case "response.output_text.delta":
					if get(m, "output_index") != 1.0 || get(m, "item_id") != respMsgID {
						t.Errorf("text delta at %v/%v, want 1/%s", get(m, "output_index"), get(m, "item_id"), respMsgID)
					}
					d := get(m, "delta").(string)
					deltas = append(deltas, d)
					text.WriteString(d)
				case "response.output_text.done":
					if get(m, "text") != echoText {
						t.Errorf("output_text.done: got %v, want %q", get(m, "text"), echoText)
					}
				case "response.function_call_arguments.delta":
					args.WriteString(get(m, "delta").(string))
				case "response.function_call_arguments.done":
					checkArgs(t, get(m, "arguments").(string))
				case "response.completed":
					done = m
				}
			}
			if text.String() != echoText {
				t.Errorf("text: got %q, want %q", text.String(), echoText)
			}
			checkPieces(t, "output_text.delta", deltas, DefaultChunk)
			checkArgs(t, args.String())
			if done == nil {
				t.Fatal("no response.completed event")
			}
			checkResponse(t, get(done, "response").(map[string]any))
		})
	}
}

func checkResponse(t *testing.T, m map[string]any) {
	t.Helper()
	if get(m, "status") != "completed" || get(m, "object") != "response" {
		t.Errorf("response: got object %v status %v, want response completed", get(m, "object"), get(m, "status"))
	}
	if get(m, "output", 0, "encrypted_content") != encrypted {
		t.Errorf("reasoning item: got %v", get(m, "output", 0))
	}
	if got := get(m, "output", 1, "content", 0, "text"); got != echoText {
		t.Errorf("output_text: got %v, want %q", got, echoText)
	}
	args, _ := get(m, "output", 2, "arguments").(string)
	checkArgs(t, args)
}

func TestGemini(t *testing.T) {
	s := Start(t, Options{Chunk: 4})
	c := client(t, s, false, nil)
	body := `{"contents":[{"role":"user","parts":[{"text":"old"}]},{"role":"model","parts":[{"text":"x"}]},` +
		`{"role":"user","parts":[{"text":` + jsonStr(echoText) + `}]}]}`
	base := "https://generativelanguage.googleapis.com/v1beta/models/gemini-x"

	checkFinal := func(t *testing.T, m map[string]any, wantText bool) {
		t.Helper()
		parts, _ := get(m, "candidates", 0, "content", "parts").([]any)
		call := get(parts[len(parts)-1], "functionCall")
		if get(call, "name") != "echo" || get(call, "args", "text") != echoText {
			t.Errorf("functionCall: got %v, want echo of %q", call, echoText)
		}
		if wantText && get(parts, 0, "text") != echoText {
			t.Errorf("text: got %v, want %q", get(parts, 0, "text"), echoText)
		}
		if get(m, "candidates", 0, "finishReason") != "STOP" || get(m, "modelVersion") != "gemini-x" {
			t.Errorf("final chunk: got finishReason %v modelVersion %v", get(m, "candidates", 0, "finishReason"), get(m, "modelVersion"))
		}
	}
	// streamText reassembles the text of chunks and checks the last one.
	streamText := func(t *testing.T, chunks []map[string]any) {
		t.Helper()
		var text strings.Builder
		var deltas []string
		for _, m := range chunks[:len(chunks)-1] {
			d, _ := get(m, "candidates", 0, "content", "parts", 0, "text").(string)
			deltas = append(deltas, d)
			text.WriteString(d)
		}
		if text.String() != echoText {
			t.Errorf("text: got %q, want %q", text.String(), echoText)
		}
		checkPieces(t, "text parts", deltas, 4)
		checkFinal(t, chunks[len(chunks)-1], false)
	}

	t.Run("generateContent", func(t *testing.T) {
		_, b := post(t, c, base+":generateContent", body)
		checkFinal(t, decode(t, string(b)), true)
	})
	t.Run("sse", func(t *testing.T) {
		_, b := post(t, c, base+":streamGenerateContent?alt=sse", body)
		if n := bytes.Count(b, []byte("\n")); n == 0 || n != bytes.Count(b, []byte("\r\n")) {
			t.Fatalf("got %d LF of which %d in CRLF, want all CRLF", n, bytes.Count(b, []byte("\r\n")))
		}
		if !bytes.HasSuffix(b, []byte("}\r\n\r\n")) {
			t.Errorf("stream end: got %q, want }\\r\\n\\r\\n", b[max(0, len(b)-10):])
		}
		var chunks []map[string]any
		for _, ev := range parseSSE(t, b) {
			chunks = append(chunks, decode(t, ev.data))
		}
		streamText(t, chunks)
	})
	t.Run("json-array", func(t *testing.T) {
		_, b := post(t, c, base+":streamGenerateContent", body)
		var chunks []map[string]any
		if err := json.Unmarshal(b, &chunks); err != nil || len(chunks) == 0 {
			t.Fatalf("stream is not a JSON array: %v", err)
		}
		streamText(t, chunks)
	})
}

// TestCutWrites counts the TLS records of one Anthropic stream: cut writes
// must give several records per event, whole writes about one.
func TestCutWrites(t *testing.T) {
	body := `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":` + jsonStr(echoText) + `}],"stream":true}`
	measure := func(opts Options) (records int64, events int) {
		s := Start(t, opts)
		var n atomic.Int64
		_, b := post(t, client(t, s, false, &n), "https://api.anthropic.com/v1/messages", body)
		return n.Load(), len(parseSSE(t, b))
	}
	cut, events := measure(Options{CutWrites: true})
	if cut < int64(3*events) {
		t.Errorf("cut writes: got %d TLS records for %d events, want at least %d", cut, events, 3*events)
	}
	whole, events := measure(Options{WholeWrites: true})
	if whole > int64(events+10) {
		t.Errorf("whole writes: got %d TLS records for %d events, want at most %d", whole, events, events+10)
	}
}

func TestRecordingAndEncoding(t *testing.T) {
	s := Start(t, Options{})
	c := client(t, s, false, nil)

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte("hello\nraw body"))
	_ = zw.Close()
	req, _ := http.NewRequest(http.MethodPost, "https://api.openai.com/v1/echo-raw?x=1", bytes.NewReader(gz.Bytes()))
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != "hello\nraw body" || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("echo-raw: got %q (%s), want the decoded body as text/plain", got, resp.Header.Get("Content-Type"))
	}
	last := s.Last()
	if !bytes.Equal(last.Body, gz.Bytes()) || last.Header.Get("Content-Encoding") != "gzip" {
		t.Errorf("recorded body: got %d bytes, want the %d raw gzip bytes", len(last.Body), gz.Len())
	}
	if last.Host != "api.openai.com" || last.Path != "/v1/echo-raw" || last.RawQuery != "x=1" || last.Method != "POST" {
		t.Errorf("recorded request: got %s %s %s ?%s", last.Method, last.Host, last.Path, last.RawQuery)
	}

	req, _ = http.NewRequest(http.MethodPost, "https://api.anthropic.com/v1/messages", strings.NewReader("xx"))
	req.Header.Set("Content-Encoding", "zstd")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("zstd body: got status %d, want 415", resp.StatusCode)
	}

	reqs := s.Requests()
	if len(reqs) != 2 || reqs[0].Path != "/v1/echo-raw" || reqs[1].Path != "/v1/messages" {
		t.Fatalf("Requests: got %d requests, want echo-raw then messages", len(reqs))
	}
	reqs[0].Body[0] ^= 0xff
	if s.Requests()[0].Body[0] == reqs[0].Body[0] {
		t.Error("Requests shares its body bytes with the recorder")
	}
	s.Reset()
	if n := len(s.Requests()); n != 0 || s.Last().Method != "" {
		t.Errorf("after Reset: got %d requests, want 0", n)
	}
}

func TestErrors(t *testing.T) {
	s := Start(t, Options{})
	c := client(t, s, false, nil)
	tests := []struct {
		name   string
		method string
		url    string
		body   string
		want   int
		field  []any // path to a field that must be a string in the reply
	}{
		{"anthropic bad json", "POST", "https://api.anthropic.com/v1/messages", `{"messages":`, 400, []any{"error", "type"}},
		{"anthropic no user", "POST", "https://api.anthropic.com/v1/messages", `{"messages":[{"role":"assistant","content":"x"}]}`, 400, []any{"error", "message"}},
		{"chat bad json", "POST", "https://api.openai.com/v1/chat/completions", `nope`, 400, []any{"error", "type"}},
		{"chat wrong type", "POST", "https://api.openai.com/v1/chat/completions", `{"messages":{}}`, 400, []any{"error", "message"}},
		{"responses bad json", "POST", "https://api.openai.com/v1/responses", `{"input":[}`, 400, []any{"error", "type"}},
		{"responses no input", "POST", "https://api.openai.com/v1/responses", `{}`, 400, []any{"error", "type"}},
		{"gemini bad json", "POST", "https://generativelanguage.googleapis.com/v1beta/models/g:generateContent", `[`, 400, []any{"error", "status"}},
		{"gemini bad method", "POST", "https://generativelanguage.googleapis.com/v1beta/models/g:countTokens", `{}`, 404, []any{"error", "status"}},
		{"unknown path", "POST", "https://api.openai.com/v2/nothing", `{}`, 404, []any{"error", "message"}},
		{"wrong method", "GET", "https://api.openai.com/v1/messages", ``, 405, []any{"error", "message"}},
		{"models", "GET", "https://127.0.0.1/v1/models", ``, 200, []any{"data", 0, "id"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := strings.Replace(tc.url, "127.0.0.1", s.Addr, 1)
			req, _ := http.NewRequest(tc.method, url, strings.NewReader(tc.body))
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status: got %d, want %d", resp.StatusCode, tc.want)
			}
			if _, ok := get(decode(t, string(b)), tc.field...).(string); !ok {
				t.Errorf("reply %s: got no string at %v", b, tc.field)
			}
		})
	}
}

func TestPieces(t *testing.T) {
	tests := []struct {
		name string
		s    string
		n    int
		want []string
	}{
		{"empty", "", 3, nil},
		{"ascii", "abcdefg", 3, []string{"abc", "def", "g"}},
		{"rune grows piece", "aé日b", 2, []string{"aé", "日", "b"}},
		{"one byte", "é", 1, []string{"é"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := pieces(tc.s, tc.n); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// teeConn copies everything read from a connection (above TLS) into a buffer,
// so a test can parse the WebSocket frames the fake sent.
type teeConn struct {
	net.Conn
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (c teeConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.buf.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

// wsFrame is one server frame: its header bits and payload length.
type wsFrame struct {
	fin, rsv1 bool
	opcode    byte
	n         int
}

// parseFrames parses the unmasked server frames that follow the HTTP response
// header in raw.
func parseFrames(t *testing.T, raw []byte) []wsFrame {
	t.Helper()
	i := bytes.Index(raw, []byte("\r\n\r\n"))
	if i < 0 {
		t.Fatalf("no HTTP response header in %d bytes", len(raw))
	}
	b := raw[i+4:]
	var out []wsFrame
	for len(b) >= 2 {
		f := wsFrame{fin: b[0]&0x80 != 0, rsv1: b[0]&0x40 != 0, opcode: b[0] & 0x0f}
		n, h := int(b[1]&0x7f), 2
		switch n {
		case 126:
			n, h = int(b[2])<<8|int(b[3]), 4
		case 127:
			n, h = 0, 10
			for _, c := range b[2:10] {
				n = n<<8 | int(c)
			}
		}
		if b[1]&0x80 != 0 {
			t.Fatal("server frame is masked")
		}
		if len(b) < h+n {
			break
		}
		f.n = n
		out = append(out, f)
		b = b[h+n:]
	}
	return out
}

func TestResponsesWebSocket(t *testing.T) {
	const model = "gpt-ws"
	input := `[{"type":"message","role":"user","content":[{"type":"input_text","text":` + jsonStr(echoText) + `}]}]`
	create := `{"type":"response.create","model":"` + model + `","input":` + input + `}`
	tests := []struct {
		name        string
		offer       bool
		opts        Options
		wantDeflate bool
	}{
		{name: "plain", opts: Options{}},
		{name: "deflate offered", offer: true, wantDeflate: true},
		{name: "deflate refused", offer: true, opts: Options{NoCompression: true}},
		{name: "fragmented", opts: Options{FragmentFrames: true}},
		{name: "fragmented, deflate offered", offer: true, opts: Options{FragmentFrames: true}, wantDeflate: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Start(t, tc.opts)
			// The SSE stream's events are what the WebSocket must carry.
			_, body := post(t, client(t, s, false, nil), "https://api.openai.com/v1/responses",
				`{"model":"`+model+`","input":`+input+`,"stream":true}`)
			var want []string
			for _, ev := range parseSSE(t, body) {
				want = append(want, ev.data)
			}
			s.Reset()

			var mu sync.Mutex
			var raw bytes.Buffer
			tr := &http.Transport{DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := s.Dial(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				tc := tls.Client(c, &tls.Config{RootCAs: s.RootCAs, ServerName: "api.openai.com"})
				if err := tc.HandshakeContext(ctx); err != nil {
					c.Close()
					return nil, err
				}
				return teeConn{Conn: tc, mu: &mu, buf: &raw}, nil
			}}
			t.Cleanup(tr.CloseIdleConnections)
			mode := websocket.CompressionDisabled
			if tc.offer {
				mode = websocket.CompressionContextTakeover
			}
			ctx := t.Context()
			c, resp, err := websocket.Dial(ctx, "wss://api.openai.com/v1/responses", &websocket.DialOptions{
				HTTPClient:      &http.Client{Transport: tr},
				HTTPHeader:      http.Header{"Authorization": {"Bearer test-key"}},
				CompressionMode: mode,
			})
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer c.CloseNow()
			if got := strings.Contains(resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate"); got != tc.wantDeflate {
				t.Errorf("deflate negotiated: got %v, want %v", got, tc.wantDeflate)
			}
			// An unknown message gets an error event and the connection goes on.
			if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"nope"}`)); err != nil {
				t.Fatal(err)
			}
			_, m, err := c.Read(ctx)
			if err != nil || get(decode(t, string(m)), "type") != "error" {
				t.Fatalf("unknown message: got %q, %v; want an error event", m, err)
			}
			if err := c.Write(ctx, websocket.MessageText, []byte(create)); err != nil {
				t.Fatal(err)
			}
			var got []string
			for len(got) < len(want) {
				typ, m, err := c.Read(ctx)
				if err != nil {
					t.Fatalf("read event %d: %v", len(got), err)
				}
				if typ != websocket.MessageText {
					t.Fatalf("event %d: got message type %v, want text", len(got), typ)
				}
				got = append(got, string(m))
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("events differ from the SSE stream's:\ngot  %q\nwant %q", got, want)
			}
			// Binary messages are refused with 1003.
			if err := c.Write(ctx, websocket.MessageBinary, []byte{1}); err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.Read(ctx); websocket.CloseStatus(err) != websocket.StatusUnsupportedData {
				t.Errorf("after a binary message: got %v, want close 1003", err)
			}

			reqs := s.Requests()
			var methods []string
			for _, r := range reqs {
				methods = append(methods, r.Method)
			}
			if want := "GET WS WS"; strings.Join(methods, " ") != want {
				t.Fatalf("recorded: got %q, want %q", strings.Join(methods, " "), want)
			}
			if r := reqs[2]; string(r.Body) != create || r.Path != "/v1/responses" || r.Proto != "HTTP/1.1" ||
				r.Header.Get("Authorization") != "Bearer test-key" || r.Header.Get("Sec-WebSocket-Key") == "" {
				t.Errorf("recorded message: got %s %s %s %q, auth %q; want the message and the handshake's headers",
					r.Method, r.Proto, r.Path, r.Body, r.Header.Get("Authorization"))
			}

			mu.Lock()
			frames := parseFrames(t, raw.Bytes())
			mu.Unlock()
			checkFrames(t, frames, len(want)+1, tc.opts.FragmentFrames, tc.wantDeflate)
		})
	}
}

// checkFrames checks the data frames of msgs messages: fragmented into frames of at
// most 7 bytes, or one frame each, compressed when deflate was negotiated.
func checkFrames(t *testing.T, frames []wsFrame, msgs int, fragmented, deflate bool) {
	t.Helper()
	n, multi := 0, 0
	for i := 0; i < len(frames); i++ {
		f := frames[i]
		if f.opcode != 1 { // text; control frames (the close) are skipped
			continue
		}
		n++
		parts := 1
		for !f.fin && i+1 < len(frames) {
			i++
			f = frames[i]
			parts++
			if f.opcode != 0 || (fragmented && f.n > 7) {
				t.Fatalf("message %d: bad continuation frame %+v", n, f)
			}
		}
		if parts > 1 {
			multi++
		}
		if !fragmented && parts != 1 {
			t.Errorf("message %d: got %d frames, want 1", n, parts)
		}
		if first := frames[i-parts+1]; first.rsv1 != (deflate && !fragmented) {
			t.Errorf("message %d: compressed %v, want %v", n, first.rsv1, deflate && !fragmented)
		}
	}
	if n != msgs {
		t.Errorf("got %d text messages, want %d", n, msgs)
	}
	if fragmented && multi != n {
		t.Errorf("fragmented: %d of %d messages have several frames, want all", multi, n)
	}
}
