package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cloakroom/cloakroom/detect"
)

// cliTimeout bounds one run of an agent CLI.
const cliTimeout = 90 * time.Second

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
// ANTHROPIC_BASE_URL pointing at the gateway route (plus ANTHROPIC_API_KEY). Its
// assistant text and its tool call must hold the real secrets, the upstream only
// tokens. The fake's tool call names a tool Claude Code does not have, so the second
// turn sends the restored values back in history; they must be tokenized again.
// --max-turns 2 ends the loop.
func TestClaudeCode(t *testing.T) {
	claude := nodeBin(t, "claude")
	for _, mode := range claudeModes {
		t.Run(mode.name, func(t *testing.T) {
			h := newHarness(t)
			c := newCanary(h)
			texts, tools := runClaude(t, claude, append(mode.env(h), "ANTHROPIC_API_KEY="+fakeAPIKey), c)
			// First turn: the echo of the user turn, which holds the prompt.
			if !strings.Contains(texts[0], c.Prompt()) {
				t.Errorf("claude assistant text (%d bytes) does not hold the prompt", len(texts[0]))
			}
			if !strings.Contains(tools[0], c.Prompt()) {
				t.Errorf("claude tool call text (%d bytes) does not hold the prompt", len(tools[0]))
			}
			c.assertRestored(t, "claude assistant text", texts[0])
			c.assertRestored(t, "claude tool call", tools[0])

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
			// The second turn carries the prompt, the restored text and the restored
			// tool input back (and the thinking text, never restored): each as a token.
			tok := h.token(detect.ClassGitHub, c.GitHub)
			if n := countIn(turns[1], tok); n < 3 {
				t.Errorf("second turn: got the token %d times, want at least 3 (prompt, text, tool input)", n)
			}
			if want := mode.asked(h); !slices.Contains(h.Seen(), want) {
				t.Errorf("the proxy listener was never asked %q; it was asked %q", want, uniq(h.Seen()))
			}
			t.Logf("claude asked the proxy %q; upstream got %q", uniq(h.Seen()), uniq(h.upstreamPaths()))
		})
	}
}

// runClaude runs `claude -p` for two turns and returns the text blocks and the echo
// tool calls' "text" it printed, in order.
func runClaude(t *testing.T, claude string, env []string, c canary) (texts, tools []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, claude, "-p", c.Prompt(),
		"--output-format", "stream-json", "--verbose", "--max-turns", "2")
	cmd.Dir = t.TempDir() // not a git repository: no git status in the prompt
	cmd.Env = clientEnv(t.TempDir(), env...)
	cmd.WaitDelay = 5 * time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if ctx.Err() != nil {
		t.Fatalf("claude did not finish in %v; stderr:\n%s", cliTimeout, tail(stderr.String(), 4000))
	}
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
					texts = append(texts, b.Text)
				case b.Type == "tool_use" && b.Name == "echo":
					tools = append(tools, toolText(t, string(b.Input)))
				}
			}
		case "result":
			result = &ev
		}
	}
	if result == nil {
		t.Fatalf("claude printed no result (exit: %v); stderr:\n%s", err, tail(stderr.String(), 4000))
	}
	// The fake always calls a tool, so the run ends on the turn limit.
	if result.Subtype != "error_max_turns" {
		t.Errorf("claude result: got %q, want error_max_turns (exit: %v)", result.Subtype, err)
	}
	if len(texts) == 0 || len(tools) == 0 {
		t.Fatalf("claude printed %d text blocks and %d echo tool calls, want at least one of each", len(texts), len(tools))
	}
	return texts, tools
}

// codexModes are the ways a user points the Codex CLI at cloakroom: HTTPS_PROXY with
// either CA variable, or the gateway route as openai_base_url in
// ~/.codex/config.toml (Codex ignores OPENAI_BASE_URL). The key is CODEX_API_KEY,
// which `codex exec` reads; it ignores OPENAI_API_KEY (it then sends no key at all).
var codexModes = []struct {
	name   string
	env    func(h *harness) []string
	config func(h *harness) string // ~/.codex/config.toml, if any
}{
	{name: "https-proxy/CODEX_CA_CERTIFICATE", env: func(h *harness) []string {
		return []string{"HTTPS_PROXY=" + h.ProxyURL(), "CODEX_CA_CERTIFICATE=" + h.BundleFile}
	}},
	{name: "https-proxy/SSL_CERT_FILE", env: func(h *harness) []string {
		return []string{"HTTPS_PROXY=" + h.ProxyURL(), "SSL_CERT_FILE=" + h.BundleFile}
	}},
	{
		name:   "gateway",
		env:    func(*harness) []string { return nil },
		config: func(h *harness) string { return fmt.Sprintf("openai_base_url = %q\n", h.ProxyURL()+"/openai/v1") },
	},
}

// codexTrace makes Codex log every Responses event it receives, over HTTPS (SSE) or
// WebSocket, so the test can read the tool call it got. It only adds log lines.
const codexTrace = "RUST_LOG=codex_api::sse::responses=trace,tungstenite::protocol=trace"

// Markers that start a received event in codexTrace's log lines.
var codexEventMarkers = []string{"SSE event: ", "Received message "}

// TestCodexCLI runs the Codex CLI non-interactively (`codex exec --json`) as a user
// configures it for cloakroom (codexModes). Codex echoes the fake's text as its agent
// message, and the tool call it receives (read from its trace log) echoes it too: both
// must hold the real secrets, the upstream only tokens. The fake's tool call names a
// tool Codex does not have, so Codex may go on asking; the test stops it once it has
// both.
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
			if got.message != c.Prompt() {
				t.Errorf("codex agent message: got %d bytes (tokens left: %v), want the prompt back (%d bytes)",
					len(got.message), strings.Contains(got.message, "cloak_"), len(c.Prompt()))
			}
			if tt := toolText(t, got.args); tt != c.Prompt() {
				t.Errorf("codex tool call text: got %d bytes (tokens left: %v), want the prompt back (%d bytes)",
					len(tt), strings.Contains(tt, "cloak_"), len(c.Prompt()))
			}
			h.assertTokenized(c, "/v1/responses")
			h.assertKeySent("/v1/responses")
			var posts, wsMsgs int
			for _, r := range h.up.Requests() {
				switch {
				case r.Path == "/v1/responses" && r.Method == "POST":
					posts++
				case r.Path == "/v1/responses" && r.Method == "WS":
					wsMsgs++
				}
			}
			refused := 0
			for _, r := range h.auditRecords() {
				if r.Error == "upgrade_unsupported" {
					refused++
				}
			}
			t.Logf("codex: %d POST /v1/responses, %d WebSocket messages, %d upgrades refused; asked the proxy %q; upstream got %q",
				posts, wsMsgs, refused, uniq(h.Seen()), uniq(h.upstreamPaths()))
		})
	}
}

// codexResult is what Codex received and showed: its first agent message holding the
// prompt, and the arguments of the echo tool call it received.
type codexResult struct {
	message, args string
}

func (r codexResult) done() bool { return r.message != "" && r.args != "" }

// runCodex runs codex exec until it has printed the agent message echoing the prompt
// and logged the echo tool call it received, then stops it (the fake would go on
// calling the unknown tool). A codex that exits or times out before fails the test.
func runCodex(t *testing.T, codex string, env []string, c canary) codexResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.Command(codex, "exec", "--json", "--skip-git-repo-check", "--ephemeral", c.Prompt())
	cmd.Dir = t.TempDir()
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // stop the wrapper and the native binary together
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start codex: %v", err)
	}

	var (
		mu      sync.Mutex
		res     codexResult
		errTail strings.Builder // the last lines of stderr, for failures
	)
	changed := make(chan struct{}, 1)
	notify := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	var readers sync.WaitGroup
	readers.Add(2)
	go func() { // stdout: JSONL events
		defer readers.Done()
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			var ev struct {
				Type string                      `json:"type"`
				Item struct{ Type, Text string } `json:"item"`
			}
			if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Type == "item.completed" && ev.Item.Type == "agent_message" &&
				strings.Contains(ev.Item.Text, "GITHUB_TOKEN=") {
				mu.Lock()
				if res.message == "" {
					res.message = ev.Item.Text
				}
				mu.Unlock()
				notify()
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() { // stderr: the trace of received events
		defer readers.Done()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			line := sc.Text()
			if args, ok := receivedToolCall(line); ok {
				mu.Lock()
				if res.args == "" {
					res.args = args
				}
				mu.Unlock()
				notify()
				continue
			}
			if !strings.Contains(line, " TRACE ") {
				mu.Lock()
				if errTail.Len() < 8000 {
					errTail.WriteString(line + "\n")
				}
				mu.Unlock()
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	exited := make(chan error, 1)
	go func() { readers.Wait(); exited <- cmd.Wait() }()
	stop := func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}
	snapshot := func() (codexResult, string) {
		mu.Lock()
		defer mu.Unlock()
		return res, c.redact(errTail.String())
	}
	for {
		select {
		case <-ctx.Done():
			stop()
			r, tail := snapshot()
			t.Fatalf("codex did not show the echo in %v (agent message: %v, tool call: %v); stderr:\n%s",
				cliTimeout, r.message != "", r.args != "", tail)
		case err := <-exited:
			r, tail := snapshot()
			if !r.done() {
				t.Fatalf("codex exited (%v) before showing the echo (agent message: %v, tool call: %v); stderr:\n%s",
					err, r.message != "", r.args != "", tail)
			}
			return r
		case <-changed:
			if r, _ := snapshot(); r.done() {
				stop()
				return r
			}
		}
	}
}

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
