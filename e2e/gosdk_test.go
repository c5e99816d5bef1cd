package e2e_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	aoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/openai/openai-go/v3"
	ooption "github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
)

// sdkTimeout bounds one SDK call.
const sdkTimeout = 30 * time.Second

// fakeAPIKey is what the clients send as their API key. It matches no detection rule,
// so it reaches the fake as is.
const fakeAPIKey = "e2e-fake-key"

// echo is what a client got back: the assistant text and the "text" argument of the
// fake's echo tool call.
type echo struct {
	Text, ToolText string
}

func (e echo) assertRestored(t *testing.T, c canary) {
	t.Helper()
	if got, want := e.Text, c.Prompt(); got != want {
		t.Errorf("assistant text: got %d bytes (tokens left: %v), want the prompt back (%d bytes)", len(got), strings.Contains(got, "cloak_"), len(want))
	}
	if got, want := e.ToolText, c.Prompt(); got != want {
		t.Errorf("tool call text: got %d bytes (tokens left: %v), want the prompt back (%d bytes)", len(got), strings.Contains(got, "cloak_"), len(want))
	}
	c.assertRestored(t, "assistant text", e.Text)
	c.assertRestored(t, "tool call", e.ToolText)
}

// toolText reads the "text" member of tool-call arguments.
func toolText(t *testing.T, args string) string {
	t.Helper()
	var v struct{ Text string }
	if err := json.Unmarshal([]byte(args), &v); err != nil {
		t.Errorf("tool call arguments are not JSON: %v", err)
	}
	return v.Text
}

// protoLog records the protocol of every response a client got.
type protoLog struct {
	mu     sync.Mutex
	protos []string
}

func (p *protoLog) add(resp *http.Response) {
	if resp == nil {
		return
	}
	p.mu.Lock()
	p.protos = append(p.protos, resp.Proto)
	p.mu.Unlock()
}

func (p *protoLog) all() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.protos...)
}

// sdkHTTPClient is what HTTPS_PROXY plus SSL_CERT_FILE give a Go program: Go's default
// transport (ForceAttemptHTTP2 included) with the proxy and a root pool that trusts
// cloakroom's CA. (http.ProxyFromEnvironment and the system pool read the environment
// once per process, so the test sets them on the transport instead.)
func sdkHTTPClient(t *testing.T, h *harness) *http.Client {
	t.Helper()
	u, err := url.Parse(h.ProxyURL())
	if err != nil {
		t.Fatal(err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = http.ProxyURL(u)
	tr.TLSClientConfig = &tls.Config{RootCAs: h.caPool}
	if !tr.ForceAttemptHTTP2 {
		t.Fatal("Go's default transport no longer sets ForceAttemptHTTP2")
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// goSDKCase is one API of one Go SDK, streaming or not.
type goSDKCase struct {
	name string
	path string // upstream path
	call func(ctx context.Context, t *testing.T, hc *http.Client, pl *protoLog, prompt string) echo
}

func goSDKCases() []goSDKCase {
	return []goSDKCase{
		{"anthropic/messages", "/v1/messages", anthropicMessages(false)},
		{"anthropic/messages-stream", "/v1/messages", anthropicMessages(true)},
		{"openai/chat", "/v1/chat/completions", openaiChat(false)},
		{"openai/chat-stream", "/v1/chat/completions", openaiChat(true)},
		{"openai/responses", "/v1/responses", openaiResponses(false)},
		{"openai/responses-stream", "/v1/responses", openaiResponses(true)},
	}
}

func anthropicClient(hc *http.Client, pl *protoLog) anthropic.Client {
	return anthropic.NewClient(
		aoption.WithBaseURL("https://api.anthropic.com/"),
		aoption.WithAPIKey(fakeAPIKey),
		aoption.WithHTTPClient(hc),
		aoption.WithMaxRetries(0),
		aoption.WithMiddleware(func(req *http.Request, next aoption.MiddlewareNext) (*http.Response, error) {
			resp, err := next(req)
			pl.add(resp)
			return resp, err
		}),
	)
}

func openaiClient(hc *http.Client, pl *protoLog) openai.Client {
	return openai.NewClient(
		ooption.WithBaseURL("https://api.openai.com/v1/"),
		ooption.WithAPIKey(fakeAPIKey),
		ooption.WithHTTPClient(hc),
		ooption.WithMaxRetries(0),
		ooption.WithMiddleware(func(req *http.Request, next ooption.MiddlewareNext) (*http.Response, error) {
			resp, err := next(req)
			pl.add(resp)
			return resp, err
		}),
	)
}

func anthropicMessages(stream bool) func(context.Context, *testing.T, *http.Client, *protoLog, string) echo {
	return func(ctx context.Context, t *testing.T, hc *http.Client, pl *protoLog, prompt string) echo {
		client := anthropicClient(hc, pl)
		params := anthropic.MessageNewParams{
			Model:     anthropic.Model("claude-sonnet-4-5"),
			MaxTokens: 1024,
			Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(prompt))},
		}
		var msg *anthropic.Message
		if stream {
			s := client.Messages.NewStreaming(ctx, params)
			msg = &anthropic.Message{}
			for s.Next() {
				if err := msg.Accumulate(s.Current()); err != nil {
					t.Fatalf("accumulate: %v", err)
				}
			}
			if err := s.Err(); err != nil {
				t.Fatalf("stream: %v", err)
			}
		} else {
			var err error
			if msg, err = client.Messages.New(ctx, params); err != nil {
				t.Fatalf("messages: %v", err)
			}
		}
		var out echo
		for _, b := range msg.Content {
			switch b.Type {
			case "text":
				out.Text += b.Text
			case "tool_use":
				out.ToolText = toolText(t, string(b.Input))
			case "thinking":
				if !strings.HasPrefix(b.Thinking, "Echo plan for ") {
					t.Errorf("thinking block changed: got %d bytes", len(b.Thinking))
				}
			}
		}
		return out
	}
}

func openaiChat(stream bool) func(context.Context, *testing.T, *http.Client, *protoLog, string) echo {
	return func(ctx context.Context, t *testing.T, hc *http.Client, pl *protoLog, prompt string) echo {
		client := openaiClient(hc, pl)
		params := openai.ChatCompletionNewParams{
			Model:    "gpt-4.1",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage(prompt)},
		}
		var msg openai.ChatCompletionMessage
		if stream {
			s := client.Chat.Completions.NewStreaming(ctx, params)
			acc := openai.ChatCompletionAccumulator{}
			for s.Next() {
				acc.AddChunk(s.Current())
			}
			if err := s.Err(); err != nil {
				t.Fatalf("stream: %v", err)
			}
			if len(acc.Choices) != 1 {
				t.Fatalf("got %d choices, want 1", len(acc.Choices))
			}
			msg = acc.Choices[0].Message
		} else {
			res, err := client.Chat.Completions.New(ctx, params)
			if err != nil {
				t.Fatalf("chat: %v", err)
			}
			if len(res.Choices) != 1 {
				t.Fatalf("got %d choices, want 1", len(res.Choices))
			}
			msg = res.Choices[0].Message
		}
		out := echo{Text: msg.Content}
		if len(msg.ToolCalls) != 1 {
			t.Fatalf("got %d tool calls, want 1", len(msg.ToolCalls))
		}
		out.ToolText = toolText(t, msg.ToolCalls[0].Function.Arguments)
		return out
	}
}

func openaiResponses(stream bool) func(context.Context, *testing.T, *http.Client, *protoLog, string) echo {
	return func(ctx context.Context, t *testing.T, hc *http.Client, pl *protoLog, prompt string) echo {
		client := openaiClient(hc, pl)
		params := responses.ResponseNewParams{
			Model: "gpt-5",
			Input: responses.ResponseNewParamsInputUnion{OfString: openai.String(prompt)},
		}
		var res *responses.Response
		if stream {
			s := client.Responses.NewStreaming(ctx, params)
			var text, args strings.Builder
			for s.Next() {
				ev := s.Current()
				switch ev.Type {
				case "response.output_text.delta":
					text.WriteString(ev.Delta)
				case "response.function_call_arguments.delta":
					args.WriteString(ev.Delta)
				case "response.completed":
					r := ev.Response
					res = &r
				}
			}
			if err := s.Err(); err != nil {
				t.Fatalf("stream: %v", err)
			}
			if res == nil {
				t.Fatal("stream ended without response.completed")
			}
			// What a streaming UI shows (the deltas) must match the final response.
			if got, want := text.String(), res.OutputText(); got != want {
				t.Errorf("output_text deltas and completed response differ: got %d bytes, want %d", len(got), len(want))
			}
			deltas := echo{Text: text.String(), ToolText: toolText(t, args.String())}
			deltas.assertRestoredSame(t, prompt)
		} else {
			var err error
			if res, err = client.Responses.New(ctx, params); err != nil {
				t.Fatalf("responses: %v", err)
			}
		}
		out := echo{Text: res.OutputText()}
		calls := 0
		for _, item := range res.Output {
			if item.Type == "function_call" {
				calls++
				out.ToolText = toolText(t, item.AsFunctionCall().Arguments)
			}
		}
		if calls != 1 {
			t.Fatalf("got %d function calls, want 1", calls)
		}
		return out
	}
}

// assertRestoredSame checks the deltas of a stream against the prompt.
func (e echo) assertRestoredSame(t *testing.T, prompt string) {
	t.Helper()
	if e.Text != prompt {
		t.Errorf("streamed text deltas: got %d bytes, want the prompt back (%d bytes)", len(e.Text), len(prompt))
	}
	if e.ToolText != prompt {
		t.Errorf("streamed tool-call argument deltas: got %d bytes, want the prompt back (%d bytes)", len(e.ToolText), len(prompt))
	}
}

// TestGoSDKs drives the official Go SDKs through the proxy, as a program with
// HTTPS_PROXY and SSL_CERT_FILE set would: the upstream sees tokens, the client gets
// the real values back, whole, streaming or not.
func TestGoSDKs(t *testing.T) {
	for _, tc := range goSDKCases() {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			c := newCanary(h)
			ctx, cancel := context.WithTimeout(context.Background(), sdkTimeout)
			defer cancel()
			hc := sdkHTTPClient(t, h)
			got := tc.call(ctx, t, hc, &protoLog{}, c.Prompt())
			got.assertRestored(t, c)
			h.assertTokenized(c, tc.path)
			h.assertKeySent(tc.path)
			if got, want := len(h.up.Requests()), 1; got != want {
				t.Errorf("upstream got %d requests, want %d: %q", got, want, h.upstreamPaths())
			}
			hc.CloseIdleConnections() // reading the audit drains the proxy, which waits for idle agents
			for _, r := range h.auditRecords() {
				if r.Decision != "forwarded" || r.Restored < 2 {
					t.Errorf("audit: got decision %q, restored %d; want forwarded, at least 2", r.Decision, r.Restored)
				}
			}
		})
	}
}

// TestGoSDKsNegotiateHTTP2 checks that Go's transport (ForceAttemptHTTP2, as
// http.DefaultTransport has it) speaks HTTP/2 inside the intercepted tunnel: the proxy
// offers h2 by ALPN, so the client gets resp.Proto "HTTP/2.0".
func TestGoSDKsNegotiateHTTP2(t *testing.T) {
	for _, tc := range goSDKCases() {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			c := newCanary(h)
			ctx, cancel := context.WithTimeout(context.Background(), sdkTimeout)
			defer cancel()
			pl := &protoLog{}
			got := tc.call(ctx, t, sdkHTTPClient(t, h), pl, c.Prompt())
			got.assertRestored(t, c)
			protos := pl.all()
			if len(protos) == 0 {
				t.Fatal("the client saw no response")
			}
			for _, p := range protos {
				if p != "HTTP/2.0" {
					t.Errorf("client response protocol: got %s, want HTTP/2.0", p)
				}
			}
		})
	}
}
