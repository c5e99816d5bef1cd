package proxy_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cloakroom/cloakroom/internal/fakeapi"
	"github.com/cloakroom/cloakroom/proxy"
)

// wsCreate is a Responses API response.create message, as Codex sends it.
func wsCreate(prompt string) []byte {
	return []byte(`{"type":"response.create","model":"gpt-5","stream":true,"input":[{"role":"user","content":[{"type":"input_text","text":` + q(prompt) + `}]}]}`)
}

// wsSession dials url (through the proxy as principal when viaProxy), sends one
// response.create and collects the events until response.completed, as an SSE body
// so the SSE parser of the other tests reads them.
func wsSession(t *testing.T, h *harness, u, principal string, viaProxy, deflate bool, msg []byte) ([]byte, *websocket.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	opts := &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer sk-provider-key"}}}
	if viaProxy {
		opts.HTTPClient = h.client(principal)
		opts.HTTPClient.Transport.(*http.Transport).ForceAttemptHTTP2 = false
	}
	if deflate {
		opts.CompressionMode = websocket.CompressionContextTakeover
	}
	c, resp, err := websocket.Dial(ctx, u, opts)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (status %d)", u, err, status)
	}
	t.Cleanup(func() { c.CloseNow() })
	if err := c.Write(ctx, websocket.MessageText, msg); err != nil {
		t.Fatal(err)
	}
	var body strings.Builder
	for {
		_, m, err := c.Read(ctx)
		if err != nil {
			return []byte(body.String()), c, err
		}
		body.WriteString("data: " + string(m) + "\n\n")
		if strings.Contains(string(m), `"response.completed"`) {
			return []byte(body.String()), c, nil
		}
	}
}

// Codex's WebSocket: the prompt's secrets are tokens upstream, and come back whole
// in the deltas even when the model's frames cut them, with and without
// permessage-deflate, through the proxy and through the gateway route.
func TestWebSocketResponses(t *testing.T) {
	for _, tc := range []struct {
		name     string
		up       fakeapi.Options
		deflate  bool
		viaProxy bool
	}{
		{"proxy-deflate", fakeapi.Options{}, true, true},
		{"proxy-fragmented-frames", fakeapi.Options{FragmentFrames: true, Chunk: 2}, true, true},
		{"proxy-plain", fakeapi.Options{NoCompression: true}, false, true},
		{"gateway-deflate", fakeapi.Options{Chunk: 5}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{up: tc.up})
			s := newSecrets(t)
			h.plant(s.all()...)
			u := "wss://api.openai.com/v1/responses"
			if !tc.viaProxy {
				u = strings.Replace(h.srv.URL, "http://", "ws://", 1) + "/openai/v1/responses"
			}
			body, c, err := wsSession(t, h, u, "alice", tc.viaProxy, tc.deflate, wsCreate(s.prompt()))
			if err != nil {
				t.Fatalf("session ended early: %v", err)
			}
			if e := parseResponses(t, body, true); e.Text != s.prompt() || e.ToolText != s.prompt() {
				t.Errorf("secrets not restored in the WebSocket events")
			}
			c.Close(websocket.StatusNormalClosure, "")
			var sent *fakeapi.Request
			for _, r := range h.up.Requests() {
				if r.Method == "WS" {
					sent = &r
				}
			}
			if sent == nil || strings.Count(string(sent.Body), "cloak_") < 5 || sent.Header.Get("Authorization") != "Bearer sk-provider-key" {
				t.Fatalf("upstream did not get the redacted message with the provider key: %+v", sent)
			}
			recs := h.auditRecords()
			if len(recs) != 1 || recs[0].Status != 101 || recs[0].Principal != principalFor(tc.viaProxy) || len(recs[0].Detections) < 5 || recs[0].Restored == 0 {
				t.Errorf("audit: got %+v, want one 101 record with detections and restores", recs)
			}
		})
	}
}

func principalFor(viaProxy bool) string {
	if viaProxy {
		return "alice"
	}
	return proxy.DefaultPrincipal
}

// A message that cannot be scanned closes the connection with 1008 and a reason;
// nothing reaches the upstream.
func TestWebSocketFailsClosed(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	s := newSecrets(t)
	h.plant(s.GitHub)
	bad := []byte(`{"type":"response.create","input":"GITHUB_TOKEN=` + s.GitHub + `"`) // truncated JSON
	_, _, err := wsSession(t, h, "wss://api.openai.com/v1/responses", "", true, false, bad)
	var ce websocket.CloseError
	if !asCloseError(err, &ce) || ce.Code != websocket.StatusPolicyViolation || !strings.Contains(ce.Reason, "not JSON") {
		t.Fatalf("got %v, want a 1008 close naming the reason", err)
	}
	for _, r := range h.up.Requests() {
		if r.Method == "WS" {
			t.Fatalf("the unscannable message reached the upstream")
		}
	}
	if recs := h.auditRecords(); len(recs) != 1 || recs[0].Decision != "refused" || recs[0].Error != "bad_json" {
		t.Errorf("audit: %+v, want refused bad_json", recs)
	}
}

func asCloseError(err error, ce *websocket.CloseError) bool { return errors.As(err, ce) }

// A token minted for one agent stays a token in another agent's WebSocket.
func TestWebSocketOtherPrincipal(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	s := newSecrets(t)
	h.plant(s.all()...)
	tok := h.tokenFor(s.GitHub) // submitted by "test-lookup"
	body, _, err := wsSession(t, h, "wss://api.openai.com/v1/responses", "bob", true, true, wsCreate("echo "+tok))
	if err != nil {
		t.Fatal(err)
	}
	if e := parseResponses(t, body, true); e.Text != "echo "+tok {
		t.Errorf("another principal's token was restored or mangled: %q", e.Text)
	}
}

// Through an authenticated proxy the WebSocket carries the agent's name; without
// credentials the upgrade never starts.
func TestWebSocketNeedsCredentials(t *testing.T) {
	agents, tokens := agentsFor(t, "codex")
	h := newHarness(t, harnessOpts{cfg: proxy.Config{Agents: agents, RequireAuth: true}})
	h.plant(tokens["codex"])
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, _, err := websocket.Dial(ctx, "wss://api.openai.com/v1/responses", &websocket.DialOptions{HTTPClient: h.client("")}); err == nil {
		t.Fatal("a WebSocket without credentials got through")
	}
	pu, _ := url.Parse(h.srv.URL)
	pu.User = url.UserPassword("codex", tokens["codex"])
	tr := &http.Transport{Proxy: http.ProxyURL(pu), TLSClientConfig: tlsConfig(h.caPool)}
	defer tr.CloseIdleConnections()
	c, _, err := websocket.Dial(ctx, "wss://api.openai.com/v1/responses", &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Write(ctx, websocket.MessageText, wsCreate("hello"))
	for {
		_, m, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(m), "response.completed") {
			break
		}
	}
	c.Close(websocket.StatusNormalClosure, "")
	if recs := h.auditRecords(); len(recs) != 1 || recs[0].Principal != "codex" {
		t.Errorf("audit: %+v, want the codex principal", recs)
	}
}

// wsInput is a response.create message whose input holds texts as user messages.
func wsInput(texts ...string) []byte {
	var b strings.Builder
	b.WriteString(`{"type":"response.create","model":"gpt-5","stream":true,"input":[`)
	for i, s := range texts {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"role":"user","content":[{"type":"input_text","text":` + q(s) + `}]}`)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// The relay reads every message of a connection into one buffer, which the next
// message overwrites. A large message resent with a secret written over earlier
// bytes must be scanned where it changed: what the proxy remembers of the first message (to
// resume resent history) must not be the buffer the second one is read into.
func TestWebSocketResentMessage(t *testing.T) {
	h := newHarness(t, harnessOpts{up: fakeapi.Options{NoCompression: true}})
	s := newSecrets(t)
	texts := make([]string, 40)
	for i := range texts {
		texts[i] = fmt.Sprintf("note %d: %s", i, strings.Repeat("the build passed on every platform. ", 30))
	}
	first := wsInput(texts...)
	_, c, err := wsSession(t, h, "wss://api.openai.com/v1/responses", "alice", true, false, first)
	if err != nil {
		t.Fatalf("first message: %v", err)
	}
	secret := "the token is " + s.GitHub // in place of as many bytes: nothing after it moves
	texts[2] = secret + texts[2][len(secret):]
	second := wsInput(append(texts, "and one more message")...)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, second); err != nil {
		t.Fatal(err)
	}
	for {
		_, m, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("second message: %v", err)
		}
		if strings.Contains(string(m), `"response.completed"`) {
			break
		}
	}
	c.Close(websocket.StatusNormalClosure, "")
	var sent [][]byte
	for _, r := range h.up.Requests() {
		if r.Method == "WS" {
			sent = append(sent, r.Body)
		}
	}
	if len(sent) != 2 || len(first) < 32<<10 {
		t.Fatalf("upstream got %d messages (first of %d bytes), want 2 larger than 32 KB", len(sent), len(first))
	}
	if strings.Contains(string(sent[1]), s.GitHub) || !strings.Contains(string(sent[1]), "cloak_") {
		t.Fatal("the resent message's new secret reached the upstream")
	}
}
