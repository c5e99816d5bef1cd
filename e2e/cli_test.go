package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cloakroom/cloakroom/detect"
)

// cliTimeout bounds one run of an agent CLI.
const cliTimeout = 90 * time.Second

// claudeMaxTurns is only a safety net: the fake answers the tool result of Claude
// Code's second turn with text alone, so the session ends there on its own.
const claudeMaxTurns = "6"

// claudeEvent is one line of `claude -p --output-format stream-json --verbose`.
type claudeEvent struct {
	Type    string `json:"type"`
	Subtype string `json:"subtype"`
	Message struct {
		Content []struct {
			Type  string          `json:"type"`
			Text  string          `json:"text"`
			Name  string          `json:"name"`
			Input json.RawMessage `json:"input"`
		} `json:"content"`
	} `json:"message"`
	// The result event's fields.
	IsError    bool   `json:"is_error"`
	NumTurns   int    `json:"num_turns"`
	StopReason string `json:"stop_reason"`
	Result     string `json:"result"`
}

// claudeModes are the two ways a user points Claude Code at cloakroom, as the
// environment variables they set (besides ANTHROPIC_API_KEY).
var claudeModes = []struct {
	name string
	env  func(h *harness) []string
	// asked is what the proxy listener must be asked for the model requests.
	asked func(h *harness) string
}{
	{
		name: "https-proxy",
		env: func(h *harness) []string {
			return []string{"HTTPS_PROXY=" + h.ProxyURL(), "NODE_EXTRA_CA_CERTS=" + h.CAFile}
		},
		asked: func(*harness) string { return "CONNECT api.anthropic.com:443" },
	},
	{
		name: "gateway",
		env:  func(h *harness) []string { return []string{"ANTHROPIC_BASE_URL=" + h.ProxyURL() + "/anthropic"} },
		asked: func(h *harness) string {
			return "POST " + strings.TrimPrefix(h.ProxyURL(), "http://") + "/anthropic/v1/messages"
		},
	},
}

// TestClaudeCode runs Claude Code non-interactively (`claude -p`) with the
// environment a user sets for cloakroom: HTTPS_PROXY and NODE_EXTRA_CA_CERTS, or
// ANTHROPIC_BASE_URL pointing at the gateway route (plus ANTHROPIC_API_KEY), and lets
// the session end by itself. First turn: the fake echoes the prompt as text and as a
// call of its echo tool, which Claude Code does not have; both must hold the real
// secrets. Second turn: Claude Code sends the tool error back with the whole history,
// whose restored values must reach the upstream as tokens again; the fake answers with
// text alone (the tool result, then the prompt), which ends the session, and that
// final answer must hold the real secrets. The upstream only ever sees tokens.
func TestClaudeCode(t *testing.T) {
	claude := nodeBin(t, "claude")
	for _, mode := range claudeModes {
		t.Run(mode.name, func(t *testing.T) {
			h := newHarness(t)
			c := newCanary(h)
			run := runClaude(t, claude, append(mode.env(h), "ANTHROPIC_API_KEY="+fakeAPIKey), c)
			// First turn: the echo of the user turn, which holds the prompt.
			if !strings.Contains(run.texts[0], c.Prompt()) {
				t.Errorf("claude assistant text (%d bytes) does not hold the prompt", len(run.texts[0]))
			}
			if !strings.Contains(run.tools[0], c.Prompt()) {
				t.Errorf("claude tool call text (%d bytes) does not hold the prompt", len(run.tools[0]))
			}
			c.assertRestored(t, "claude assistant text", run.texts[0])
			c.assertRestored(t, "claude tool call", run.tools[0])
			// Last turn: the answer to the tool result ends the session.
			res := run.result
			if res.Subtype != "success" || res.IsError || res.NumTurns != 2 || res.StopReason != "end_turn" {
				t.Errorf("claude result: got %s (is_error %v) after %d turns, stop_reason %q; want success after 2 turns, end_turn",
					res.Subtype, res.IsError, res.NumTurns, res.StopReason)
			}
			if !strings.Contains(res.Result, c.Prompt()) {
				t.Errorf("claude final answer (%d bytes) does not hold the prompt", len(res.Result))
			}
			c.assertRestored(t, "claude final answer", res.Result)
			if last := run.texts[len(run.texts)-1]; last != res.Result {
				t.Errorf("claude's last text block (%d bytes) is not its final answer (%d bytes)", len(last), len(res.Result))
			}

			h.assertTokenized(c, "/v1/messages")
			h.assertKeySent("/v1/messages")
			var turns [][]byte
			for _, r := range h.up.Requests() {
				if r.Method == "POST" && r.Path == "/v1/messages" {
					turns = append(turns, r.Body)
				}
			}
			if len(turns) != 2 {
				t.Fatalf("upstream got %d POST /v1/messages, want 2 (one per turn): %q", len(turns), h.upstreamPaths())
			}
			// The second turn answers the tool call and carries the prompt, the restored
			// text and the restored tool input back (and the thinking text, never
			// restored): each as a token.
			if !lastUserHoldsToolResult(t, turns[1]) {
				t.Errorf("second turn: the last message is not a user message holding a tool_result")
			}
			for _, tok := range []string{h.token(detect.ClassGitHub, c.GitHub), h.token(detect.ClassAWS, c.AWSSecret)} {
				if n := countIn(turns[1], tok); n < 3 {
					t.Errorf("second turn: got a token %d times, want at least 3 (prompt, text, tool input)", n)
				}
			}
			if want := mode.asked(h); !slices.Contains(h.Seen(), want) {
				t.Errorf("the proxy listener was never asked %q; it was asked %q", want, uniq(h.Seen()))
			}
			t.Logf("claude asked the proxy %q; upstream got %q", uniq(h.Seen()), uniq(h.upstreamPaths()))
		})
	}
}

// lastUserHoldsToolResult reports whether the last message of a Messages request
// body is a user message with a tool_result block.
func lastUserHoldsToolResult(t *testing.T, body []byte) bool {
	t.Helper()
	var req struct {
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(body, &req); err != nil || len(req.Messages) == 0 {
		t.Fatalf("upstream request is not a Messages request with messages (%v)", err)
	}
	last := req.Messages[len(req.Messages)-1]
	var blocks []struct{ Type string }
	_ = json.Unmarshal(last.Content, &blocks) // a string content has no tool_result
	return last.Role == "user" && slices.ContainsFunc(blocks, func(b struct{ Type string }) bool { return b.Type == "tool_result" })
}

// claudeRun is what `claude -p` printed: its text blocks and the echo tool calls'
// "text", in order, and its result event.
type claudeRun struct {
	texts, tools []string
	result       claudeEvent
}

// runClaude runs `claude -p` until it ends by itself, which it must do with exit
// status 0 within cliTimeout, and returns what it printed.
func runClaude(t *testing.T, claude string, env []string, c canary) claudeRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, claude, "-p", c.Prompt(),
		"--output-format", "stream-json", "--verbose", "--max-turns", claudeMaxTurns)
	cmd.Dir = t.TempDir() // not a git repository: no git status in the prompt
	cmd.Env = clientEnv(t.TempDir(), env...)
	cmd.WaitDelay = 5 * time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if ctx.Err() != nil {
		t.Fatalf("claude did not finish in %v; stderr:\n%s", cliTimeout, c.redact(tail(stderr.String(), 4000)))
	}
	var run claudeRun
	var result *claudeEvent
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var ev claudeEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("claude printed a line that is not JSON: %v", err)
		}
		switch ev.Type {
		case "assistant":
			for _, b := range ev.Message.Content {
				switch {
				case b.Type == "text":
					run.texts = append(run.texts, b.Text)
				case b.Type == "tool_use" && b.Name == "echo":
					run.tools = append(run.tools, toolText(t, string(b.Input)))
				}
			}
		case "result":
			result = &ev
		}
	}
	if result == nil {
		t.Fatalf("claude printed no result (exit: %v); stderr:\n%s", err, c.redact(tail(stderr.String(), 4000)))
	}
	if err != nil {
		t.Errorf("claude exited with %v, want status 0; stderr:\n%s", err, c.redact(tail(stderr.String(), 4000)))
	}
	if len(run.texts) == 0 || len(run.tools) == 0 {
		t.Fatalf("claude printed %d text blocks and %d echo tool calls, want at least one of each", len(run.texts), len(run.tools))
	}
	run.result = *result
	return run
}

// codexModes are the ways a user points the Codex CLI at cloakroom: HTTPS_PROXY with
// either CA variable, or the gateway route as openai_base_url in
// ~/.codex/config.toml (Codex ignores OPENAI_BASE_URL). The key is CODEX_API_KEY,
// which `codex exec` reads; it ignores OPENAI_API_KEY (it then sends no key at all).
// The built-in OpenAI provider talks Responses over a WebSocket; a custom provider
// with supports_websockets = false posts each turn over HTTPS and streams it as SSE.
var codexModes = []struct {
	name   string
	env    func(h *harness) []string
	config func(h *harness) string // ~/.codex/config.toml, if any
	ws     bool                    // the turns go over one WebSocket, not POSTs
}{
	{name: "https-proxy/CODEX_CA_CERTIFICATE", ws: true, env: func(h *harness) []string {
		return []string{"HTTPS_PROXY=" + h.ProxyURL(), "CODEX_CA_CERTIFICATE=" + h.BundleFile}
	}},
	{name: "https-proxy/SSL_CERT_FILE", ws: true, env: func(h *harness) []string {
		return []string{"HTTPS_PROXY=" + h.ProxyURL(), "SSL_CERT_FILE=" + h.BundleFile}
	}},
	{
		name:   "gateway",
		ws:     true,
		env:    func(*harness) []string { return nil },
		config: func(h *harness) string { return fmt.Sprintf("openai_base_url = %q\n", h.ProxyURL()+"/openai/v1") },
	},
	{
		name: "https-proxy/sse-provider",
		env: func(h *harness) []string {
			return []string{"HTTPS_PROXY=" + h.ProxyURL(), "CODEX_CA_CERTIFICATE=" + h.BundleFile}
		},
		config: func(*harness) string {
			return `model_provider = "cloakroom-sse"

[model_providers.cloakroom-sse]
name = "OpenAI over SSE"
base_url = "https://api.openai.com/v1"
wire_api = "responses"
env_key = "CODEX_API_KEY"
supports_websockets = false
`
		},
	},
}

// codexTrace makes Codex log every Responses event it receives, over HTTPS (SSE) or
// WebSocket, so the test can read the tool call it got. It only adds log lines.
const codexTrace = "RUST_LOG=codex_api::sse::responses=trace,tungstenite::protocol=trace"

// Markers that start a received event in codexTrace's log lines.
var codexEventMarkers = []string{"SSE event: ", "Received message "}

// TestCodexCLI runs the Codex CLI non-interactively (`codex exec --json`) as a user
// configures it for cloakroom (codexModes) and lets it end by itself. First turn: the
// fake echoes the prompt as text, shown as Codex's agent message, and as a call of its
// echo tool (read from Codex's trace log), which Codex does not have; both must hold
// the real secrets. Second turn: Codex sends the tool error back; the fake answers
// with text alone (the tool result, then the prompt), which ends the turn, and that
// final agent message must hold the real secrets. Over HTTPS the second turn resends
// the whole history, whose restored values must reach the upstream as tokens again;
// over the WebSocket it sends only the tool output with previous_response_id, after a
// warm-up (generate false) on the same socket. The upstream only ever sees tokens.
func TestCodexCLI(t *testing.T) {
	codex := nodeBin(t, "codex")
	for _, mode := range codexModes {
		t.Run(mode.name, func(t *testing.T) {
			h := newHarness(t)
			c := newCanary(h)
			home := t.TempDir()
			if mode.config != nil {
				if err := os.MkdirAll(filepath.Join(home, ".codex"), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(home, ".codex", "config.toml"), []byte(mode.config(h)), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			env := clientEnv(home, append(mode.env(h), "CODEX_API_KEY="+fakeAPIKey, codexTrace)...)
			got := runCodex(t, codex, env, c)
			if len(got.messages) != 2 {
				t.Fatalf("codex showed %d agent messages, want 2 (one per turn)", len(got.messages))
			}
			if m := got.messages[0]; m != c.Prompt() {
				t.Errorf("codex first agent message: got %d bytes (tokens left: %v), want the prompt back (%d bytes)",
					len(m), strings.Contains(m, "cloak_"), len(c.Prompt()))
			}
			if tt := toolText(t, got.args); tt != c.Prompt() {
				t.Errorf("codex tool call text: got %d bytes (tokens left: %v), want the prompt back (%d bytes)",
					len(tt), strings.Contains(tt, "cloak_"), len(c.Prompt()))
			}
			final := got.messages[1]
			if !strings.Contains(final, c.Prompt()) {
				t.Errorf("codex final agent message (%d bytes) does not hold the prompt", len(final))
			}
			c.assertRestored(t, "codex final agent message", final)
			h.assertTokenized(c, "/v1/responses")
			h.assertKeySent("/v1/responses")

			up := codexUpstream(t, h)
			if len(up.turns) != 2 {
				t.Fatalf("upstream got %d Responses turns, want 2; upstream saw %q", len(up.turns), h.upstreamPaths())
			}
			second := up.turns[1]
			if mode.ws {
				if up.posts != 0 || up.sockets != 1 || up.warmUps != 1 {
					t.Errorf("codex over WebSocket: got %d POSTs, %d sockets, %d warm-ups; want 0, 1, 1", up.posts, up.sockets, up.warmUps)
				}
				if second.PreviousResponseID == "" || second.hasUser || !second.hasToolOutput {
					t.Errorf("second turn: got previous_response_id %q, user message %v, tool output %v; want an id and only the tool output",
						second.PreviousResponseID, second.hasUser, second.hasToolOutput)
				}
			} else {
				if up.posts != 2 || up.sockets != 0 {
					t.Errorf("codex over HTTPS: got %d POSTs and %d sockets, want 2 and 0", up.posts, up.sockets)
				}
				// The history comes back: the prompt, the restored text and the restored
				// tool arguments, each as a token.
				for _, tok := range []string{h.token(detect.ClassGitHub, c.GitHub), h.token(detect.ClassAWS, c.AWSSecret)} {
					if n := countIn(second.body, tok); n < 3 || !second.hasToolOutput {
						t.Errorf("second turn: got a token %d times (tool output: %v), want at least 3 (prompt, text, tool arguments) and the tool output",
							n, second.hasToolOutput)
					}
				}
			}
			refused := 0
			for _, r := range h.auditRecords() {
				if r.Error == "upgrade_unsupported" {
					refused++
				}
			}
			t.Logf("codex: %d POST /v1/responses, %d sockets, %d WebSocket messages (%d warm-ups), %d upgrades refused; asked the proxy %q; upstream got %q",
				up.posts, up.sockets, up.wsMsgs, up.warmUps, refused, uniq(h.Seen()), uniq(h.upstreamPaths()))
		})
	}
}

// responsesTurn is one Responses request the upstream got (a POST body or a
// response.create WebSocket message), as far as the test looks at it.
type responsesTurn struct {
	body               []byte
	PreviousResponseID string `json:"previous_response_id"`
	Generate           *bool  `json:"generate"`
	Input              []struct {
		Type string `json:"type"`
		Role string `json:"role"`
	} `json:"input"`
	hasUser, hasToolOutput bool
}

// codexTraffic is what Codex sent the upstream's Responses endpoint.
type codexTraffic struct {
	posts, sockets, wsMsgs, warmUps int
	turns                           []responsesTurn // requests that asked for output, in order
}

func codexUpstream(t *testing.T, h *harness) codexTraffic {
	t.Helper()
	var up codexTraffic
	for _, r := range h.up.Requests() {
		if r.Path != "/v1/responses" {
			continue
		}
		switch r.Method {
		case "GET":
			up.sockets++
			continue
		case "POST":
			up.posts++
		case "WS":
			up.wsMsgs++
		default:
			continue
		}
		rt := responsesTurn{body: r.Body}
		if err := json.Unmarshal(r.Body, &rt); err != nil {
			t.Fatalf("upstream got a Responses %s that is not a request with input items: %v", r.Method, err)
		}
		if rt.Generate != nil && !*rt.Generate {
			up.warmUps++
			continue
		}
		for _, it := range rt.Input {
			rt.hasUser = rt.hasUser || (it.Role == "user" && (it.Type == "" || it.Type == "message"))
			rt.hasToolOutput = rt.hasToolOutput || it.Type == "function_call_output"
		}
		up.turns = append(up.turns, rt)
	}
	return up
}

// codexRun is what Codex showed and received: its agent messages, in order, and the
// arguments of the echo tool call it received.
type codexRun struct {
	messages []string
	args     string
}

// runCodex runs codex exec until it ends by itself, which it must do with exit status
// 0 within cliTimeout after a completed turn, and returns what it showed (stdout's
// JSONL events) and received (the trace log on stderr).
func runCodex(t *testing.T, codex string, env []string, c canary) codexRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, codex, "exec", "--json", "--skip-git-repo-check", "--ephemeral", c.Prompt())
	cmd.Dir = t.TempDir()
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // stop the wrapper and the native binary together
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()

	var run codexRun
	var events []string
	errTail := &strings.Builder{} // stderr without the trace, for failures
	inTrace := false
	for _, line := range strings.Split(stderr.String(), "\n") {
		if args, ok := receivedToolCall(line); ok {
			if run.args == "" {
				run.args = args
			}
		}
		// A log record starts with its timestamp; the lines that follow (a frame
		// dump, payload in hex) belong to it.
		if logRecord.MatchString(line) {
			inTrace = strings.Contains(line, " TRACE ")
		}
		if !inTrace && errTail.Len() < 8000 {
			errTail.WriteString(line + "\n")
		}
	}
	for _, line := range strings.Split(stdout.String(), "\n") {
		var ev struct {
			Type    string                      `json:"type"`
			Item    struct{ Type, Text string } `json:"item"`
			Message string                      `json:"message"` // of an error event
		}
		if json.Unmarshal([]byte(line), &ev) != nil {
			continue
		}
		events = append(events, ev.Type)
		if ev.Type == "error" {
			events = append(events, c.redact(ev.Message))
		}
		if ev.Type == "item.completed" && ev.Item.Type == "agent_message" {
			run.messages = append(run.messages, ev.Item.Text)
		}
	}
	switch {
	case ctx.Err() != nil:
		t.Fatalf("codex did not end by itself in %v (events %v); stderr:\n%s", cliTimeout, events, c.redact(errTail.String()))
	case err != nil:
		t.Fatalf("codex exited with %v, want status 0 (events %v); stderr:\n%s", err, events, c.redact(errTail.String()))
	case !slices.Contains(events, "turn.completed") || slices.Contains(events, "turn.failed") || slices.Contains(events, "error"):
		t.Fatalf("codex events: got %v, want a completed turn and no error", events)
	case run.args == "":
		t.Fatalf("codex's trace log shows no echo tool call received; stderr:\n%s", c.redact(errTail.String()))
	}
	return run
}

// logRecord matches the first line of a Codex log record (its RFC 3339 timestamp).
var logRecord = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d`)

// receivedToolCall reads a codexTrace log line: if it is a received
// response.output_item.done event for the echo function call, it returns the call's
// arguments.
func receivedToolCall(line string) (args string, ok bool) {
	for _, m := range codexEventMarkers {
		i := strings.Index(line, m)
		if i < 0 {
			continue
		}
		var ev struct {
			Type string `json:"type"`
			Item struct {
				Type, Name, Arguments string
			} `json:"item"`
		}
		if json.Unmarshal([]byte(line[i+len(m):]), &ev) != nil {
			return "", false
		}
		if ev.Type == "response.output_item.done" && ev.Item.Type == "function_call" && ev.Item.Name == "echo" {
			return ev.Item.Arguments, true
		}
	}
	return "", false
}

// uniq returns the distinct values of s in first-seen order.
func uniq(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
