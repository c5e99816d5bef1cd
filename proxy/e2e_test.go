package proxy_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func tlsConfig(pool *x509.CertPool) *tls.Config { return &tls.Config{RootCAs: pool} }

// apiCase knows how to ask one provider API to echo a prompt and how to read what
// comes back, streaming or not.
type apiCase struct {
	name  string
	url   func(stream bool) string
	body  func(prompt string, stream bool) []byte
	parse func(t *testing.T, body []byte, stream bool) echoed
}

// echoed is what the agent got back.
type echoed struct {
	Text     string // assistant text
	ToolText string // the "text" argument of the echo tool call
	Thinking string // thinking text (Anthropic), never restored
}

func q(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSpace(buf.String())
}

var apiCases = []apiCase{
	{
		name: "anthropic",
		url:  func(bool) string { return "https://api.anthropic.com/v1/messages" },
		body: func(p string, stream bool) []byte {
			// Unusual spacing on purpose: it must survive byte for byte.
			return fmt.Appendf(nil, "{\"model\": \"claude-sonnet-4-5\",  \"max_tokens\":1024,\"stream\":%v,\n \"messages\":[ {\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":%s}]}]}", stream, q(p))
		},
		parse: parseAnthropic,
	},
	{
		name: "openai-chat",
		url:  func(bool) string { return "https://api.openai.com/v1/chat/completions" },
		body: func(p string, stream bool) []byte {
			return fmt.Appendf(nil, `{"model":"gpt-4.1","stream":%v,"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":%s}]}`, stream, q(p))
		},
		parse: parseChat,
	},
	{
		name: "openai-responses",
		url:  func(bool) string { return "https://api.openai.com/v1/responses" },
		body: func(p string, stream bool) []byte {
			return fmt.Appendf(nil, `{"model":"gpt-5","stream":%v,"input":[{"role":"user","content":[{"type":"input_text","text":%s}]}]}`, stream, q(p))
		},
		parse: parseResponses,
	},
	{
		name: "gemini",
		url: func(stream bool) string {
			if stream {
				return "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
			}
			return "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:generateContent"
		},
		body: func(p string, _ bool) []byte {
			return fmt.Appendf(nil, `{"contents":[{"role":"user","parts":[{"text":%s}]}],"generationConfig":{"temperature":0}}`, q(p))
		},
		parse: parseGemini,
	},
}

// sseEvent is one parsed server-sent event.
type sseEvent struct {
	Name string
	Data string
}

func parseSSE(t *testing.T, body []byte) []sseEvent {
	t.Helper()
	var events []sseEvent
	var cur sseEvent
	var data []string
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		switch {
		case line == "":
			if data != nil || cur.Name != "" {
				cur.Data = strings.Join(data, "\n")
				events = append(events, cur)
			}
			cur, data = sseEvent{}, nil
		case strings.HasPrefix(line, "event:"):
			cur.Name = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		}
	}
	return events
}

func mustJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("response is not valid JSON (%v): %.300s", err, s)
	}
}

func toolText(t *testing.T, args string) string {
	t.Helper()
	var a struct{ Text string }
	mustJSON(t, args, &a)
	return a.Text
}

func parseAnthropic(t *testing.T, body []byte, stream bool) echoed {
	var out echoed
	if !stream {
		var m struct {
			Content []struct {
				Type, Text, Thinking string
				Input                struct{ Text string }
			}
		}
		mustJSON(t, string(body), &m)
		for _, c := range m.Content {
			switch c.Type {
			case "text":
				out.Text += c.Text
			case "tool_use":
				out.ToolText = c.Input.Text
			case "thinking":
				out.Thinking += c.Thinking
			}
		}
		return out
	}
	var args strings.Builder
	for _, e := range parseSSE(t, body) {
		if e.Name != "content_block_delta" {
			continue
		}
		var d struct {
			Delta struct{ Type, Text, PartialJSON, Thinking string } `json:"delta"`
		}
		mustJSON(t, e.Data, &d)
		var raw struct {
			Delta struct {
				PartialJSON string `json:"partial_json"`
			} `json:"delta"`
		}
		mustJSON(t, e.Data, &raw)
		switch d.Delta.Type {
		case "text_delta":
			out.Text += d.Delta.Text
		case "input_json_delta":
			args.WriteString(raw.Delta.PartialJSON)
		case "thinking_delta":
			out.Thinking += d.Delta.Thinking
		}
	}
	out.ToolText = toolText(t, args.String())
	return out
}

func parseChat(t *testing.T, body []byte, stream bool) echoed {
	var out echoed
	type toolCall struct {
		Function struct{ Arguments string }
	}
	if !stream {
		var m struct {
			Choices []struct {
				Message struct {
					Content   string
					ToolCalls []toolCall `json:"tool_calls"`
				}
			}
		}
		mustJSON(t, string(body), &m)
		out.Text = m.Choices[0].Message.Content
		out.ToolText = toolText(t, m.Choices[0].Message.ToolCalls[0].Function.Arguments)
		return out
	}
	var args strings.Builder
	for _, e := range parseSSE(t, body) {
		if e.Data == "[DONE]" {
			continue
		}
		var c struct {
			Choices []struct {
				Delta struct {
					Content   string
					ToolCalls []toolCall `json:"tool_calls"`
				}
			}
		}
		mustJSON(t, e.Data, &c)
		for _, ch := range c.Choices {
			out.Text += ch.Delta.Content
			for _, tc := range ch.Delta.ToolCalls {
				args.WriteString(tc.Function.Arguments)
			}
		}
	}
	out.ToolText = toolText(t, args.String())
	return out
}

type responsesOutput []struct {
	Type      string
	Arguments string
	Content   []struct{ Type, Text string }
}

func (o responsesOutput) echoed(t *testing.T) echoed {
	var out echoed
	for _, item := range o {
		switch item.Type {
		case "message":
			for _, c := range item.Content {
				out.Text += c.Text
			}
		case "function_call":
			out.ToolText = toolText(t, item.Arguments)
		}
	}
	return out
}

func parseResponses(t *testing.T, body []byte, stream bool) echoed {
	if !stream {
		var m struct{ Output responsesOutput }
		mustJSON(t, string(body), &m)
		return m.Output.echoed(t)
	}
	var out echoed
	var args strings.Builder
	var completed echoed
	sawCompleted := false
	for _, e := range parseSSE(t, body) {
		var ev struct {
			Type, Delta, Text, Arguments string
			Response                     struct{ Output responsesOutput }
		}
		mustJSON(t, e.Data, &ev)
		switch ev.Type {
		case "response.output_text.delta":
			out.Text += ev.Delta
		case "response.function_call_arguments.delta":
			args.WriteString(ev.Delta)
		case "response.output_text.done":
			if ev.Text != out.Text {
				t.Errorf("output_text.done text differs from the deltas")
			}
		case "response.function_call_arguments.done":
			if ev.Arguments != args.String() {
				t.Errorf("function_call_arguments.done differs from the deltas")
			}
		case "response.completed":
			completed, sawCompleted = ev.Response.Output.echoed(t), true
		}
	}
	out.ToolText = toolText(t, args.String())
	if !sawCompleted || completed != out {
		t.Errorf("response.completed does not match the streamed deltas")
	}
	return out
}

func parseGemini(t *testing.T, body []byte, stream bool) echoed {
	type chunk struct {
		Candidates []struct {
			Content struct {
				Parts []struct {
					Text         string
					FunctionCall *struct{ Args struct{ Text string } }
				}
			}
		}
	}
	var chunks []chunk
	if stream {
		for _, e := range parseSSE(t, body) {
			var c chunk
			mustJSON(t, e.Data, &c)
			chunks = append(chunks, c)
		}
	} else {
		var c chunk
		mustJSON(t, string(body), &c)
		chunks = append(chunks, c)
	}
	var out echoed
	for _, c := range chunks {
		for _, cand := range c.Candidates {
			for _, p := range cand.Content.Parts {
				out.Text += p.Text
				if p.FunctionCall != nil {
					out.ToolText = p.FunctionCall.Args.Text
				}
			}
		}
	}
	return out
}

// TestRoundTrip is the foundation's acceptance test: through the real proxy, for
// each API, streaming and not, the upstream sees tokens only, the forwarded body is
// byte-identical outside the replaced literals, and the agent gets its values back.
func TestRoundTrip(t *testing.T) {
	for _, api := range apiCases {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stream=%v", api.name, stream), func(t *testing.T) {
				h := newHarness(t, harnessOpts{})
				s := newSecrets(t)
				h.plant(s.all()...)
				prompt := s.prompt()
				body := api.body(prompt, stream)
				resp, got := post(t, h.client("alice"), api.url(stream), nil, body)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("got status %d, want 200: %.500s", resp.StatusCode, got)
				}
				if stream && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
					t.Fatalf("got content type %q, want an event stream", resp.Header.Get("Content-Type"))
				}

				// Upstream: tokens only, and byte-identical outside the replaced literals.
				fwd := h.up.Last().Body
				want := body
				for _, v := range s.all() {
					want = bytes.ReplaceAll(want, []byte(q(v)[1:len(q(v))-1]), []byte(h.tokenFor(v)))
				}
				if !bytes.Equal(fwd, want) {
					t.Errorf("forwarded body differs from the original outside the secrets:\n got %.600s\nwant %.600s", fwd, want)
				}

				// Agent: every value restored, in text and in tool-call arguments.
				e := api.parse(t, got, stream)
				if e.Text != prompt {
					t.Errorf("restored text differs:\n got %q\nwant %q", e.Text, prompt)
				}
				if e.ToolText != prompt {
					t.Errorf("restored tool argument differs:\n got %q\nwant %q", e.ToolText, prompt)
				}
				if api.name == "anthropic" {
					if !strings.Contains(e.Thinking, h.tokenFor(s.GitHub)) || strings.Contains(e.Thinking, s.GitHub) {
						t.Errorf("thinking must keep its tokens untouched, got %q", e.Thinking)
					}
				}
				recs := h.auditRecords()
				if len(recs) != 1 {
					t.Fatalf("got %d audit records, want 1", len(recs))
				}
				if r := recs[0]; r.Principal != "alice" || r.Decision != "forwarded" || r.Status != 200 || len(r.Detections) != 5 || r.Restored < 10 {
					t.Errorf("audit record %+v: want principal alice, forwarded, 200, 5 detections, >= 10 restored", r)
				}
				if r := recs[0]; r.VaultMS <= 0 || r.VaultMS > r.ScanMS {
					t.Errorf("audit record: vault_ms %v, scan_ms %v: want the vault's time, a part of the scan's", r.VaultMS, r.ScanMS)
				}
			})
		}
	}
}
