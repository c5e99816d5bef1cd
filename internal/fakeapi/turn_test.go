package fakeapi

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/coder/websocket"
)

// resultText is the text of the tool results in the tests below: a token, JSON-special
// characters and multibyte runes, like echoText.
const resultText = "out=cloak_aws_abcdefghijklmnopqrst \"q\" é 日本"

func TestTurns(t *testing.T) {
	u, r := jsonStr(echoText), jsonStr(resultText)
	tests := []struct {
		name     string
		read     func([]byte) (turn, error)
		body     string
		want     string // the echo
		wantEnds bool   // a tool-result turn: text only, ending the turn
		wantErr  bool
	}{
		// Anthropic Messages.
		{name: "anthropic user text", read: readAnthropic, want: echoText,
			body: `{"messages":[{"role":"user","content":` + u + `}]}`},
		{name: "anthropic tool_result after user text", read: readAnthropic, want: resultText + "\n" + echoText, wantEnds: true,
			body: `{"messages":[{"role":"user","content":[{"type":"text","text":` + u + `}]},` +
				`{"role":"assistant","content":[{"type":"text","text":"x"},{"type":"tool_use","id":"t","name":"echo","input":{}}]},` +
				`{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":` + r + `,"is_error":true}]}]}`},
		{name: "anthropic tool_result blocks, two results", read: readAnthropic, want: "a\nb\n" + resultText + "\n" + echoText, wantEnds: true,
			body: `{"messages":[{"role":"user","content":` + u + `},{"role":"assistant","content":"x"},` +
				`{"role":"user","content":[{"type":"tool_result","tool_use_id":"1","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},` +
				`{"type":"tool_result","tool_use_id":"2","content":` + r + `}]}]}`},
		{name: "anthropic tool_result without text, no user text in history", read: readAnthropic, want: "", wantEnds: true,
			body: `{"messages":[{"role":"assistant","content":"x"},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t"}]}]}`},
		{name: "anthropic history skips earlier tool results", read: readAnthropic, want: resultText + "\n" + echoText, wantEnds: true,
			body: `{"messages":[{"role":"user","content":` + u + `},{"role":"assistant","content":"x"},` +
				`{"role":"user","content":[{"type":"tool_result","tool_use_id":"1","content":"old"}]},{"role":"assistant","content":"y"},` +
				`{"role":"user","content":[{"type":"tool_result","tool_use_id":"2","content":` + r + `}]}]}`},
		{name: "anthropic tool_result with user text stays a user turn", read: readAnthropic, want: echoText,
			body: `{"messages":[{"role":"assistant","content":"x"},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"r"},{"type":"text","text":` + u + `}]}]}`},
		{name: "anthropic no user", read: readAnthropic, wantErr: true,
			body: `{"messages":[{"role":"assistant","content":"x"}]}`},

		// Chat Completions.
		{name: "chat user text", read: readChat, want: echoText,
			body: `{"messages":[{"role":"system","content":"s"},{"role":"user","content":` + u + `}]}`},
		{name: "chat tool messages", read: readChat, want: resultText + "\nb\n" + echoText, wantEnds: true,
			body: `{"messages":[{"role":"system","content":"s"},{"role":"user","content":` + u + `},` +
				`{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"echo","arguments":"{}"}}]},` +
				`{"role":"tool","tool_call_id":"c","content":` + r + `},{"role":"tool","tool_call_id":"d","content":[{"type":"text","text":"b"}]}]}`},
		{name: "chat user text after tool message", read: readChat, want: echoText,
			body: `{"messages":[{"role":"assistant","content":"x"},{"role":"tool","content":"r"},{"role":"user","content":` + u + `}]}`},
		{name: "chat ends with assistant", read: readChat, want: echoText,
			body: `{"messages":[{"role":"user","content":` + u + `},{"role":"assistant","content":"x"}]}`},

		// Responses.
		{name: "responses string input", read: readResponses, want: echoText,
			body: `{"input":` + u + `}`},
		{name: "responses function_call_output", read: readResponses, want: resultText + "\n" + echoText, wantEnds: true,
			body: `{"input":[{"type":"message","role":"developer","content":[{"type":"input_text","text":"dev"}]},` +
				`{"type":"message","role":"user","content":[{"type":"input_text","text":` + u + `}]},` +
				`{"type":"reasoning","id":"rs","summary":[]},{"type":"message","role":"assistant","content":[{"type":"output_text","text":"x"}]},` +
				`{"type":"function_call","call_id":"c","name":"echo","arguments":"{}"},{"type":"function_call_output","call_id":"c","output":` + r + `}]}`},
		{name: "responses output parts and custom tool output", read: readResponses, want: "a\n" + resultText, wantEnds: true,
			body: `{"input":[{"type":"custom_tool_call","call_id":"c","name":"x","input":"i"},` +
				`{"type":"function_call_output","call_id":"c","output":[{"type":"input_text","text":"a"}]},` +
				`{"type":"custom_tool_call_output","call_id":"d","output":` + r + `}]}`},
		{name: "responses later turn: previous_response_id and only a tool output", read: readResponses, want: resultText, wantEnds: true,
			body: `{"previous_response_id":"resp_1","input":[{"type":"function_call_output","call_id":"c","output":` + r + `}]}`},
		{name: "responses user message after the tool output wins", read: readResponses, want: echoText,
			body: `{"input":[{"type":"function_call","call_id":"c","name":"echo","arguments":"{}"},` +
				`{"type":"message","role":"user","content":[{"type":"input_text","text":` + u + `}]},{"type":"function_call_output","call_id":"c","output":"r"}]}`},
		{name: "responses empty input", read: readResponses, wantErr: true, body: `{"input":[]}`},
		{name: "responses warm-up needs no input", read: readResponses, body: `{"input":[],"generate":false}`},

		// Gemini.
		{name: "gemini user text", read: geminiEcho, want: echoText,
			body: `{"contents":[{"role":"user","parts":[{"text":` + u + `}]}]}`},
		{name: "gemini functionResponse", read: geminiEcho, want: resultText + "\nfailed\n" + `{"n":1}` + "\n" + echoText, wantEnds: true,
			body: `{"contents":[{"role":"user","parts":[{"text":` + u + `}]},{"role":"model","parts":[{"functionCall":{"name":"echo","args":{}}}]},` +
				`{"role":"user","parts":[{"functionResponse":{"name":"echo","response":{"output":` + r + `}}},` +
				`{"functionResponse":{"name":"echo","response":{"error":"failed"}}},{"functionResponse":{"name":"echo","response":{ "n" : 1 }}}]}]}`},
		{name: "gemini text with functionResponse stays a user turn", read: geminiEcho, want: echoText,
			body: `{"contents":[{"role":"model","parts":[{"text":"x"}]},` +
				`{"role":"user","parts":[{"functionResponse":{"name":"echo","response":{"output":"r"}}},{"text":` + u + `}]}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.read([]byte(tc.body))
			if (err != nil) != tc.wantErr {
				t.Fatalf("got error %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if got.echo() != tc.want || got.endsTurn() != tc.wantEnds {
				t.Errorf("got echo %q, ends turn %v; want %q, %v", got.echo(), got.endsTurn(), tc.want, tc.wantEnds)
			}
		})
	}
}

func readAnthropic(b []byte) (turn, error) { _, t, err := anthropicEcho(b); return t, err }
func readChat(b []byte) (turn, error)      { _, t, err := chatEcho(b); return t, err }
func readResponses(b []byte) (turn, error) { _, t, err := responsesEcho(b); return t, err }

// TestToolResultAnswers checks the answers to tool-result turns on the wire: the text,
// no tool call, and the stop reason that ends the turn, streamed or not.
func TestToolResultAnswers(t *testing.T) {
	s := Start(t, Options{})
	c := client(t, s, false, nil)
	want := resultText + "\n" + echoText
	u, r := jsonStr(echoText), jsonStr(resultText)

	anthropic := `{"model":"m","max_tokens":9,"stream":%s,"messages":[{"role":"user","content":` + u + `},` +
		`{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"echo","input":{}}]},` +
		`{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":` + r + `}]}]}`
	t.Run("anthropic/json", func(t *testing.T) {
		_, b := post(t, c, "https://api.anthropic.com/v1/messages", strings.Replace(anthropic, "%s", "false", 1))
		m := decode(t, string(b))
		content, _ := get(m, "content").([]any)
		if len(content) != 2 || get(content, 1, "text") != want || get(content, 0, "thinking") != thinkingPrefix+want {
			t.Errorf("content: got %v, want thinking and text of %q", content, want)
		}
		if got := get(m, "stop_reason"); got != "end_turn" {
			t.Errorf("stop_reason: got %v, want end_turn", got)
		}
	})
	t.Run("anthropic/sse", func(t *testing.T) {
		_, b := post(t, c, "https://api.anthropic.com/v1/messages", strings.Replace(anthropic, "%s", "true", 1))
		var names []string
		var text strings.Builder
		var stop any
		for _, ev := range parseSSE(t, b) {
			m := decode(t, ev.data)
			if len(names) == 0 || names[len(names)-1] != ev.name {
				names = append(names, ev.name)
			}
			if d, ok := get(m, "delta", "text").(string); ok {
				text.WriteString(d)
			}
			if ev.name == "message_delta" {
				stop = get(m, "delta", "stop_reason")
			}
		}
		wantNames := []string{"message_start",
			"content_block_start", "content_block_delta", "content_block_stop", "ping",
			"content_block_start", "content_block_delta", "content_block_stop",
			"message_delta", "message_stop"}
		if !slices.Equal(names, wantNames) {
			t.Errorf("event sequence:\ngot  %v\nwant %v", names, wantNames)
		}
		if text.String() != want || stop != "end_turn" {
			t.Errorf("got text %q, stop_reason %v; want %q, end_turn", text.String(), stop, want)
		}
	})

	chat := `{"model":"m","stream":%s,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":` + u + `},` +
		`{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"echo","arguments":"{}"}}]},` +
		`{"role":"tool","tool_call_id":"c","content":` + r + `}]}`
	t.Run("chat/json", func(t *testing.T) {
		_, b := post(t, c, "https://api.openai.com/v1/chat/completions", strings.Replace(chat, "%s", "false", 1))
		m := decode(t, string(b))
		msg := get(m, "choices", 0, "message")
		if get(msg, "content") != want || get(msg, "tool_calls") != nil || get(m, "choices", 0, "finish_reason") != "stop" {
			t.Errorf("got message %v, finish_reason %v; want the text %q, no tool call, stop", msg, get(m, "choices", 0, "finish_reason"), want)
		}
	})
	t.Run("chat/sse", func(t *testing.T) {
		_, b := post(t, c, "https://api.openai.com/v1/chat/completions", strings.Replace(chat, "%s", "true", 1))
		evs := parseSSE(t, b)
		var text strings.Builder
		var finish any
		for _, ev := range evs[:len(evs)-1] {
			m := decode(t, ev.data)
			d := get(m, "choices", 0, "delta")
			if get(d, "tool_calls") != nil {
				t.Errorf("got a tool call delta %v, want none", d)
			}
			if s, ok := get(d, "content").(string); ok {
				text.WriteString(s)
			}
			if f := get(m, "choices", 0, "finish_reason"); f != nil {
				finish = f
			}
		}
		if text.String() != want || finish != "stop" || evs[len(evs)-1].data != "[DONE]" {
			t.Errorf("got text %q, finish_reason %v, last %q; want %q, stop, [DONE]", text.String(), finish, evs[len(evs)-1].data, want)
		}
	})

	responses := `{"model":"m","stream":%s,"input":[{"role":"user","content":` + u + `},` +
		`{"type":"function_call","call_id":"c","name":"echo","arguments":"{}"},{"type":"function_call_output","call_id":"c","output":` + r + `}]}`
	checkOutput := func(t *testing.T, resp any) {
		t.Helper()
		out, _ := get(resp, "output").([]any)
		if len(out) != 2 || get(out, 1, "content", 0, "text") != want || get(resp, "status") != "completed" {
			t.Errorf("got status %v, output %v; want completed with reasoning and the text %q", get(resp, "status"), out, want)
		}
	}
	t.Run("responses/json", func(t *testing.T) {
		_, b := post(t, c, "https://api.openai.com/v1/responses", strings.Replace(responses, "%s", "false", 1))
		checkOutput(t, decode(t, string(b)))
	})
	t.Run("responses/sse", func(t *testing.T) {
		_, b := post(t, c, "https://api.openai.com/v1/responses", strings.Replace(responses, "%s", "true", 1))
		var text strings.Builder
		var done any
		for _, ev := range parseSSE(t, b) {
			m := decode(t, ev.data)
			if strings.Contains(ev.name, "function_call") || get(m, "item", "type") == "function_call" {
				t.Errorf("got event %s %v, want no function call", ev.name, get(m, "item"))
			}
			switch ev.name {
			case "response.output_text.delta":
				text.WriteString(get(m, "delta").(string))
			case "response.completed":
				done = get(m, "response")
			}
		}
		if text.String() != want {
			t.Errorf("text: got %q, want %q", text.String(), want)
		}
		checkOutput(t, done)
	})

	gemini := `{"contents":[{"role":"user","parts":[{"text":` + u + `}]},{"role":"model","parts":[{"functionCall":{"name":"echo","args":{}}}]},` +
		`{"role":"user","parts":[{"functionResponse":{"name":"echo","response":{"output":` + r + `}}}]}]}`
	base := "https://generativelanguage.googleapis.com/v1beta/models/g"
	t.Run("gemini/json", func(t *testing.T) {
		_, b := post(t, c, base+":generateContent", gemini)
		m := decode(t, string(b))
		parts, _ := get(m, "candidates", 0, "content", "parts").([]any)
		if len(parts) != 1 || get(parts, 0, "text") != want || get(m, "candidates", 0, "finishReason") != "STOP" {
			t.Errorf("got parts %v, finishReason %v; want one text part %q, STOP", parts, get(m, "candidates", 0, "finishReason"), want)
		}
	})
	t.Run("gemini/sse", func(t *testing.T) {
		_, b := post(t, c, base+":streamGenerateContent?alt=sse", gemini)
		evs := parseSSE(t, b)
		var text strings.Builder
		for i, ev := range evs {
			m := decode(t, ev.data)
			parts, _ := get(m, "candidates", 0, "content", "parts").([]any)
			if len(parts) != 1 || get(parts, 0, "functionCall") != nil {
				t.Errorf("chunk %d: got parts %v, want one text part", i, parts)
			}
			s, _ := get(parts, 0, "text").(string)
			text.WriteString(s)
			if fin := get(m, "candidates", 0, "finishReason"); (fin == "STOP") != (i == len(evs)-1) {
				t.Errorf("chunk %d of %d: got finishReason %v, want STOP on the last only", i, len(evs), fin)
			}
		}
		if text.String() != want {
			t.Errorf("text: got %q, want %q", text.String(), want)
		}
	})
}

// TestResponsesWebSocketSession drives one socket as Codex does: a warm-up
// (generate false), a first turn referencing it, and a later turn sending only its
// tool output with previous_response_id, answered after the first turn's user text.
func TestResponsesWebSocketSession(t *testing.T) {
	s := Start(t, Options{})
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: s.RootCAs},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return s.Dial(ctx, network, addr)
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	ctx := t.Context()
	c, _, err := websocket.Dial(ctx, "wss://api.openai.com/v1/responses", &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.CloseNow()
	c.SetReadLimit(-1)

	// exchange sends msg and reads events up to response.completed or an error.
	exchange := func(t *testing.T, msg string) (types []string, text string, done any) {
		t.Helper()
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for {
			_, m, err := c.Read(ctx)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			ev := decode(t, string(m))
			typ, _ := ev["type"].(string)
			types = append(types, typ)
			if typ == "response.output_text.delta" {
				b.WriteString(get(ev, "delta").(string))
			}
			if typ == "response.completed" || typ == "error" {
				return types, b.String(), get(ev, "response")
			}
		}
	}

	types, text, done := exchange(t, `{"type":"response.create","model":"m","input":[],"generate":false}`)
	if want := []string{"response.created", "response.completed"}; !slices.Equal(types, want) || text != "" {
		t.Fatalf("warm-up: got events %v, text %q; want %v and no text", types, text, want)
	}
	if out, ok := get(done, "output").([]any); !ok || len(out) != 0 || get(done, "status") != "completed" {
		t.Errorf("warm-up: got status %v, output %v; want completed with an empty output", get(done, "status"), get(done, "output"))
	}

	types, text, done = exchange(t, `{"type":"response.create","model":"m","previous_response_id":"resp_1",`+
		`"input":[{"type":"message","role":"user","content":[{"type":"input_text","text":`+jsonStr(echoText)+`}]}]}`)
	if text != echoText || !slices.Contains(types, "response.function_call_arguments.done") {
		t.Errorf("first turn: got text %q, events %v; want the echo and a function call", text, types)
	}
	id, _ := get(done, "id").(string)

	types, text, done = exchange(t, `{"type":"response.create","model":"m","previous_response_id":"`+id+`",`+
		`"input":[{"type":"function_call_output","call_id":"call_1","output":`+jsonStr(resultText)+`}]}`)
	if want := resultText + "\n" + echoText; text != want {
		t.Errorf("later turn: got text %q, want %q", text, want)
	}
	if slices.Contains(types, "error") || slices.Contains(types, "response.function_call_arguments.done") || len(get(done, "output").([]any)) != 2 {
		t.Errorf("later turn: got events %v, output %v; want text only, completed", types, get(done, "output"))
	}

	// The memory is the connection's: a new socket knows no user text.
	c2, _, err := websocket.Dial(ctx, "wss://api.openai.com/v1/responses", &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c2.CloseNow()
	c = c2
	if _, text, _ := exchange(t, `{"type":"response.create","model":"m","previous_response_id":"resp_1",`+
		`"input":[{"type":"function_call_output","call_id":"call_1","output":`+jsonStr(resultText)+`}]}`); text != resultText {
		t.Errorf("later turn on a new socket: got text %q, want %q", text, resultText)
	}
}

func TestHello(t *testing.T) {
	s := Start(t, Options{})
	c := client(t, s, false, nil)
	for _, tc := range []struct {
		name, method string
		want         int
	}{
		{"head", http.MethodHead, 200},
		{"get", http.MethodGet, 200},
		{"post", http.MethodPost, 405},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, "https://api.anthropic.com/api/hello", nil)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("%s /api/hello: got %d, want %d", tc.method, resp.StatusCode, tc.want)
			}
		})
	}
}
