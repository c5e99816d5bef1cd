package wsrelay

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cloakroom/cloakroom/internal/fakeapi"
)

const (
	// canary is the planted secret; tok is what the test Redact swaps it for.
	canary = "CANARY-s3cr3t-9f8e7d6c5b4a"
	tok    = "cloak_aws_abcdefghijklmnopqrst"
	// refuse in a message makes the test Redact fail.
	refuse     = "PLEASE-REFUSE"
	refusalMsg = "cloakroom refused the message: test policy"
)

// redact swaps the canary for the token, and refuses messages holding refuse.
func redact(_ context.Context, msg []byte, _ bool) ([]byte, error) {
	if bytes.Contains(msg, []byte(refuse)) {
		return nil, errors.New(refusalMsg)
	}
	return bytes.ReplaceAll(msg, []byte(canary), []byte(tok)), nil
}

// restorer turns the token back into the canary (which JSON never escapes).
type restorer struct{}

func (restorer) Text(frag []byte, _ bool) []byte {
	return bytes.ReplaceAll(frag, []byte(tok), []byte(canary))
}
func (restorer) JSON(doc []byte) []byte { return bytes.ReplaceAll(doc, []byte(tok), []byte(canary)) }

type outcome struct {
	res Result
	err error
}

// proxy is an httptest server whose handler relays to one upstream.
type proxy struct {
	srv     *httptest.Server
	results chan outcome
	mu      sync.Mutex
	cancels []context.CancelFunc // one per relayed request, to end its context
}

// startProxy starts a relay to upstream; cfg gets the test Redact, Restorer and hc
// unless it sets its own.
func startProxy(t *testing.T, upstream string, hc *http.Client, cfg Config) *proxy {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Redact == nil {
		cfg.Redact = redact
	}
	if cfg.Restorer == nil {
		cfg.Restorer = restorer{}
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = hc
	}
	p := &proxy{results: make(chan outcome, 16)}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		p.mu.Lock()
		p.cancels = append(p.cancels, cancel)
		p.mu.Unlock()
		res, err := Relay(w, r.WithContext(ctx), u, cfg)
		p.results <- outcome{res, err}
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// result waits for the outcome of the next relayed request.
func (p *proxy) result(t *testing.T) outcome {
	t.Helper()
	select {
	case o := <-p.results:
		return o
	case <-time.After(15 * time.Second):
		t.Fatal("Relay did not return")
		return outcome{}
	}
}

func (p *proxy) cancelAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.cancels {
		c()
	}
}

// dial connects a test agent to the proxy.
func (p *proxy) dial(t *testing.T, deflate bool, h http.Header, protos ...string) (*websocket.Conn, *http.Response) {
	t.Helper()
	c, resp, err := p.tryDial(t, deflate, h, protos...)
	if err != nil {
		t.Fatalf("dial the proxy: %v", err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c, resp
}

func (p *proxy) tryDial(t *testing.T, deflate bool, h http.Header, protos ...string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	mode := websocket.CompressionDisabled
	if deflate {
		mode = websocket.CompressionContextTakeover
	}
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return websocket.Dial(t.Context(), "ws://"+p.srv.Listener.Addr().String()+"/v1/responses", &websocket.DialOptions{
		HTTPClient:      &http.Client{Transport: tr},
		HTTPHeader:      h,
		Subprotocols:    protos,
		CompressionMode: mode,
	})
}

// fakeClient reaches the fake upstream as https://api.openai.com.
func fakeClient(t *testing.T, s *fakeapi.Server) *http.Client {
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: s.RootCAs},
		DialContext:       s.Dial,
		ForceAttemptHTTP2: true, // an upgrade must still go over HTTP/1.1
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

const fakeURL = "wss://api.openai.com/v1/responses"

// createMsg is a response.create message whose last user text is text.
func createMsg(text string) string {
	return `{"type":"response.create","model":"gpt-5-codex","instructions":"be brief",` +
		`"input":[{"type":"message","role":"user","content":[{"type":"input_text","text":` + jsonStr(text) + `}]}],` +
		`"tools":[],"store":false}`
}

func jsonStr(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// readResponse reads events until response.completed (or an error event).
func readResponse(t *testing.T, c *websocket.Conn) []string {
	t.Helper()
	var evs []string
	for {
		typ, m, err := c.Read(t.Context())
		if err != nil {
			t.Fatalf("read event %d: %v", len(evs), err)
		}
		if typ != websocket.MessageText {
			t.Fatalf("event %d: got message type %v, want text", len(evs), typ)
		}
		evs = append(evs, string(m))
		var head struct{ Type string }
		if err := json.Unmarshal(m, &head); err != nil {
			t.Fatalf("event %d is not JSON: %v", len(evs), err)
		}
		if head.Type == "response.completed" || head.Type == "error" {
			return evs
		}
	}
}

// checkEvents checks that the agent got text restored in the output text deltas
// (several of them), the function call arguments and the other events.
func checkEvents(t *testing.T, evs []string, text string) {
	t.Helper()
	var out, args strings.Builder
	deltas := 0
	for _, e := range evs {
		if strings.Contains(e, "cloak_") {
			t.Errorf("the agent got a token: %q", e)
		}
		var ev struct {
			Type  string
			Delta string
			Text  string
		}
		if err := json.Unmarshal([]byte(e), &ev); err != nil {
			t.Fatalf("event is not JSON: %v", err)
		}
		switch ev.Type {
		case "response.output_text.delta":
			out.WriteString(ev.Delta)
			deltas++
		case "response.function_call_arguments.delta":
			args.WriteString(ev.Delta)
		case "response.output_text.done":
			if ev.Text != text {
				t.Errorf("output_text.done: got %q, want %q", ev.Text, text)
			}
		}
	}
	if out.String() != text {
		t.Errorf("output text: got %q, want %q", out.String(), text)
	}
	if deltas < 3 {
		t.Errorf("got %d output text deltas, want the text cut into several", deltas)
	}
	var a struct{ Text string }
	if err := json.Unmarshal([]byte(args.String()), &a); err != nil || a.Text != text {
		t.Errorf("function call arguments: got %q (%v), want {\"text\": %q}", args.String(), err, text)
	}
	if !strings.Contains(evs[len(evs)-1], `"type":"response.completed"`) || !strings.Contains(evs[len(evs)-1], canary) {
		t.Errorf("last event: got %.80q..., want response.completed with the value restored", evs[len(evs)-1])
	}
}

// wsMessages returns the WebSocket messages the fake received.
func wsMessages(s *fakeapi.Server) []string {
	var out []string
	for _, r := range s.Requests() {
		if r.Method == "WS" {
			out = append(out, string(r.Body))
		}
	}
	return out
}

func TestRelayRestores(t *testing.T) {
	text := "use key " + canary + " then \"quote\" and é 日本 twice " + canary + "."
	tests := []struct {
		name          string
		clientDeflate bool
		opts          fakeapi.Options
		disable       bool
	}{
		{name: "no deflate", opts: fakeapi.Options{NoCompression: true}},
		{name: "deflate agent side", clientDeflate: true, opts: fakeapi.Options{NoCompression: true}},
		{name: "deflate upstream side", opts: fakeapi.Options{}},
		{name: "deflate both sides", clientDeflate: true},
		{name: "fragmented frames", clientDeflate: true, opts: fakeapi.Options{FragmentFrames: true}},
		{name: "chunk 1, fragmented", opts: fakeapi.Options{Chunk: 1, FragmentFrames: true}},
		{name: "chunk 7", clientDeflate: true, opts: fakeapi.Options{Chunk: 7}},
		{name: "compression disabled", clientDeflate: true, disable: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := fakeapi.Start(t, tc.opts)
			p := startProxy(t, fakeURL, fakeClient(t, fake), Config{DisableCompression: tc.disable})
			c, resp := p.dial(t, tc.clientDeflate, http.Header{"Authorization": {"Bearer sk-test"}})
			wantClient := tc.clientDeflate && !tc.disable
			wantUp := !tc.opts.NoCompression && !tc.disable
			if got := hasDeflate(resp.Header); got != wantClient {
				t.Errorf("agent deflate: got %v, want %v", got, wantClient)
			}
			// Two responses on one connection: state carries over between them.
			for i := range 2 {
				msg := createMsg(text + strconv.Itoa(i))
				if err := c.Write(t.Context(), websocket.MessageText, []byte(msg)); err != nil {
					t.Fatal(err)
				}
				checkEvents(t, readResponse(t, c), text+strconv.Itoa(i))
			}
			if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
				t.Errorf("close: %v", err)
			}
			o := p.result(t)
			if o.err != nil {
				t.Errorf("Relay: %v", o.err)
			}
			r := o.res
			if r.Status != 101 || r.End != EndClientClose || r.CloseCode != 1000 || r.ClientMessages != 2 ||
				r.UpstreamMessages < 40 || r.ClientDeflate != wantClient || r.UpstreamDeflate != wantUp {
				t.Errorf("result: got %+v, want 101, client_close 1000, 2 client messages, deflate %v/%v", r, wantClient, wantUp)
			}

			got := wsMessages(fake)
			want := []string{
				strings.ReplaceAll(createMsg(text+"0"), canary, tok),
				strings.ReplaceAll(createMsg(text+"1"), canary, tok),
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("upstream got:\n%q\nwant:\n%q", got, want)
			}
			hs := fake.Requests()[0]
			if hs.Method != "GET" || hs.Header.Get("Authorization") != "Bearer sk-test" ||
				strings.Contains(hs.Header.Get("Sec-WebSocket-Extensions"), "deflate") == tc.disable {
				t.Errorf("upstream handshake: got %s, auth %q, extensions %q", hs.Method,
					hs.Header.Get("Authorization"), hs.Header.Get("Sec-WebSocket-Extensions"))
			}
		})
	}
}

// scripted is a plain-HTTP upstream that a test steers with messages:
// "close <code> <reason>" closes with that code, "drop" drops the connection,
// "binary <text>" answers a binary message; others are echoed. It reports how each
// connection ended.
type scripted struct {
	srv    *httptest.Server
	ends   chan error  // the error that ended each connection's read loop
	got    chan string // messages received, prefixed with "text " or "binary "
	header chan http.Header
}

func startScripted(t *testing.T, protos ...string) *scripted {
	s := &scripted{ends: make(chan error, 4), got: make(chan string, 16), header: make(chan http.Header, 4)}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer bad" {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Request-Id", "req_refused")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}`)
			return
		}
		s.header <- r.Header.Clone()
		w.Header().Set("X-Request-Id", "req_123")
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: protos,
			CompressionMode: websocket.CompressionContextTakeover})
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, m, err := c.Read(context.Background())
			if err != nil {
				s.ends <- err
				return
			}
			kind := "text "
			if typ == websocket.MessageBinary {
				kind = "binary "
			}
			s.got <- kind + string(m)
			cmd, arg, _ := strings.Cut(string(m), " ")
			switch {
			case cmd == "close":
				code, reason, _ := strings.Cut(arg, " ")
				n, _ := strconv.Atoi(code)
				c.Close(websocket.StatusCode(n), reason)
				s.ends <- nil
				return
			case cmd == "drop":
				c.CloseNow()
				s.ends <- nil
				return
			case cmd == "binary":
				err = c.Write(context.Background(), websocket.MessageBinary, []byte(arg))
			default:
				err = c.Write(context.Background(), typ, m)
			}
			if err != nil {
				s.ends <- err
				return
			}
		}
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *scripted) url() string { return "ws://" + s.srv.Listener.Addr().String() + "/v1/responses" }

func (s *scripted) end(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.ends:
		return err
	case <-time.After(15 * time.Second):
		t.Fatal("the upstream connection did not end")
		return nil
	}
}

// received returns the messages the upstream got so far.
func (s *scripted) received() []string {
	var out []string
	for {
		select {
		case m := <-s.got:
			out = append(out, m)
		default:
			return out
		}
	}
}

func closeErr(err error) (websocket.StatusCode, string) {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code, ce.Reason
	}
	return -1, ""
}

func TestRelayCloseFromAgent(t *testing.T) {
	tests := []struct {
		name       string
		code       websocket.StatusCode
		reason     string
		wantReason string
	}{
		{name: "1000", code: 1000},
		{name: "no status", code: 1005},
		{name: "4001 with reason", code: 4001, reason: "bye now", wantReason: "bye now"},
		{name: "reason redacted", code: 4002, reason: "key " + canary, wantReason: "key " + tok},
		{name: "reason refused is dropped", code: 4003, reason: refuse},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up := startScripted(t)
			p := startProxy(t, up.url(), &http.Client{}, Config{})
			c, _ := p.dial(t, false, nil)
			if err := c.Write(t.Context(), websocket.MessageText, []byte("hello")); err != nil {
				t.Fatal(err)
			}
			if _, m, err := c.Read(t.Context()); err != nil || string(m) != "hello" {
				t.Fatalf("echo: got %q, %v", m, err)
			}
			if err := c.Close(tc.code, tc.reason); err != nil {
				t.Errorf("close: %v", err)
			}
			code, reason := closeErr(up.end(t))
			if code != tc.code || reason != tc.wantReason {
				t.Errorf("upstream got close %d %q, want %d %q", code, reason, tc.code, tc.wantReason)
			}
			o := p.result(t)
			if o.err != nil || o.res.End != EndClientClose || o.res.CloseCode != int(tc.code) {
				t.Errorf("result: got %+v, %v; want client_close %d", o.res, o.err, tc.code)
			}
		})
	}
}

func TestRelayCloseFromUpstream(t *testing.T) {
	tests := []struct {
		name     string
		cmd      string
		wantCode websocket.StatusCode
		wantWhy  string
		wantEnd  End
	}{
		{name: "1000", cmd: "close 1000 ", wantCode: 1000, wantEnd: EndUpstreamClose},
		{name: "no status", cmd: "close 1005 ", wantCode: 1005, wantEnd: EndUpstreamClose},
		{name: "4001 with reason", cmd: "close 4001 upstream says bye", wantCode: 4001, wantWhy: "upstream says bye", wantEnd: EndUpstreamClose},
		{name: "connection dropped", cmd: "drop", wantCode: websocket.StatusBadGateway, wantWhy: "upstream connection lost", wantEnd: EndUpstreamLost},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up := startScripted(t)
			p := startProxy(t, up.url(), &http.Client{}, Config{})
			c, _ := p.dial(t, true, nil)
			if err := c.Write(t.Context(), websocket.MessageText, []byte(tc.cmd)); err != nil {
				t.Fatal(err)
			}
			_, _, err := c.Read(t.Context())
			if code, why := closeErr(err); code != tc.wantCode || why != tc.wantWhy {
				t.Errorf("agent got %v, want close %d %q", err, tc.wantCode, tc.wantWhy)
			}
			o := p.result(t)
			wantCode := int(tc.wantCode)
			if tc.wantEnd == EndUpstreamLost {
				wantCode = 1006
			}
			if o.err != nil || o.res.End != tc.wantEnd || o.res.CloseCode != wantCode {
				t.Errorf("result: got %+v, %v; want %s %d", o.res, o.err, tc.wantEnd, wantCode)
			}
		})
	}
}

func TestRelayAgentLost(t *testing.T) {
	up := startScripted(t)
	p := startProxy(t, up.url(), &http.Client{}, Config{})
	c, _ := p.dial(t, false, nil)
	if err := c.Write(t.Context(), websocket.MessageText, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Read(t.Context()); err != nil {
		t.Fatal(err)
	}
	c.CloseNow()
	if code, _ := closeErr(up.end(t)); code != websocket.StatusGoingAway {
		t.Errorf("upstream got close %d, want 1001", code)
	}
	if o := p.result(t); o.err != nil || o.res.End != EndClientLost || o.res.CloseCode != 1006 {
		t.Errorf("result: got %+v, %v; want client_lost 1006", o.res, o.err)
	}
}

func TestRelayCanceled(t *testing.T) {
	up := startScripted(t)
	p := startProxy(t, up.url(), &http.Client{}, Config{})
	c, _ := p.dial(t, false, nil)
	if err := c.Write(t.Context(), websocket.MessageText, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Read(t.Context()); err != nil {
		t.Fatal(err)
	}
	p.cancelAll()
	if _, _, err := c.Read(t.Context()); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Errorf("agent got %v, want close 1001", err)
	}
	if code, _ := closeErr(up.end(t)); code != websocket.StatusGoingAway {
		t.Errorf("upstream got close %d, want 1001", code)
	}
	if o := p.result(t); o.err != nil || o.res.End != EndCanceled {
		t.Errorf("result: got %+v, %v; want canceled", o.res, o.err)
	}
}

func TestRelayRedactRefuses(t *testing.T) {
	fake := fakeapi.Start(t, fakeapi.Options{})
	p := startProxy(t, fakeURL, fakeClient(t, fake), Config{})
	c, _ := p.dial(t, true, nil)
	msg := createMsg(canary + " " + refuse)
	if err := c.Write(t.Context(), websocket.MessageText, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.Read(t.Context())
	if code, why := closeErr(err); code != websocket.StatusPolicyViolation || why != refusalMsg {
		t.Errorf("agent got %v, want close 1008 %q", err, refusalMsg)
	}
	o := p.result(t)
	if o.res.End != EndRefused || o.res.CloseCode != 1008 || o.err == nil {
		t.Fatalf("result: got %+v, %v; want refused 1008 and an error", o.res, o.err)
	}
	if strings.Contains(o.err.Error(), canary) || strings.Contains(o.err.Error(), "input_text") {
		t.Errorf("error carries message content: %q", o.err)
	}
	if got := wsMessages(fake); len(got) != 0 {
		t.Errorf("upstream got %d messages, want none", len(got))
	}
}

func TestRelayTooBig(t *testing.T) {
	t.Run("from agent", func(t *testing.T) {
		fake := fakeapi.Start(t, fakeapi.Options{})
		p := startProxy(t, fakeURL, fakeClient(t, fake), Config{MaxMessageBytes: 1024})
		c, _ := p.dial(t, true, nil)
		msg := createMsg(strings.Repeat("x", 1100))
		if err := c.Write(t.Context(), websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.Read(t.Context()); websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
			t.Errorf("agent got %v, want close 1009", err)
		}
		o := p.result(t)
		if o.res.End != EndTooBig || !errors.Is(o.err, ErrMessageTooBig) {
			t.Errorf("result: got %+v, %v; want message_too_big, ErrMessageTooBig", o.res, o.err)
		}
		if got := wsMessages(fake); len(got) != 0 {
			t.Errorf("upstream got %d messages, want none", len(got))
		}
	})
	t.Run("from upstream", func(t *testing.T) {
		fake := fakeapi.Start(t, fakeapi.Options{})
		p := startProxy(t, fakeURL, fakeClient(t, fake), Config{MaxMessageBytes: 1024})
		c, _ := p.dial(t, false, nil)
		// Small enough to send, but response.completed repeats the text three times.
		if err := c.Write(t.Context(), websocket.MessageText, []byte(createMsg(strings.Repeat("y", 300)))); err != nil {
			t.Fatal(err)
		}
		n := 0
		var err error
		for {
			if _, _, err = c.Read(t.Context()); err != nil {
				break
			}
			n++
		}
		if websocket.CloseStatus(err) != websocket.StatusMessageTooBig || n < 10 {
			t.Errorf("agent got %d events then %v, want events then close 1009", n, err)
		}
		if o := p.result(t); o.res.End != EndTooBig || !errors.Is(o.err, ErrMessageTooBig) {
			t.Errorf("result: got %+v, %v; want message_too_big, ErrMessageTooBig", o.res, o.err)
		}
	})
}

func TestRelayHandshake(t *testing.T) {
	up := startScripted(t, "b")
	p := startProxy(t, up.url(), &http.Client{}, Config{})
	h := http.Header{
		"Authorization":       {"Bearer sk-test"},
		"Openai-Beta":         {"responses_websockets=2026-02-04"},
		"Proxy-Authorization": {"Basic cHJveHk6cHc="},
	}
	c, resp := p.dial(t, false, h, "a", "b")
	if c.Subprotocol() != "b" {
		t.Errorf("subprotocol: got %q, want b", c.Subprotocol())
	}
	if got := resp.Header.Get("X-Request-Id"); got != "req_123" {
		t.Errorf("agent got x-request-id %q, want req_123", got)
	}
	uh := <-up.header
	for k, want := range map[string]string{
		"Authorization":          "Bearer sk-test",
		"Openai-Beta":            "responses_websockets=2026-02-04",
		"Proxy-Authorization":    "",
		"Sec-Websocket-Protocol": "a,b",
		"Upgrade":                "websocket",
	} {
		if got := uh.Get(k); got != want {
			t.Errorf("upstream header %s: got %q, want %q", k, got, want)
		}
	}
	c.Close(websocket.StatusNormalClosure, "")
	if o := p.result(t); o.res.Subprotocol != "b" || !o.res.UpstreamDeflate || o.res.ClientDeflate {
		t.Errorf("result: got %+v, want subprotocol b, deflate upstream only", o.res)
	}
}

func TestRelayRefused(t *testing.T) {
	up := startScripted(t)
	p := startProxy(t, up.url(), &http.Client{}, Config{})
	_, resp, err := p.tryDial(t, true, http.Header{"Authorization": {"Bearer bad"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("dial: got %v, %v; want a 401 response", resp, err)
	}
	body, _ := io.ReadAll(resp.Body)
	if want := `{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}`; string(body) != want {
		t.Errorf("body: got %q, want %q", body, want)
	}
	if resp.Header.Get("X-Request-Id") != "req_refused" || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("headers: got %v, want the upstream's", resp.Header)
	}
	if o := p.result(t); o.err != nil || o.res.Status != 401 || o.res.End != EndNone {
		t.Errorf("result: got %+v, %v; want status 401, nil error", o.res, o.err)
	}

	t.Run("unreachable", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		addr := dead.Listener.Addr().String()
		dead.Close()
		p := startProxy(t, "ws://"+addr+"/v1/responses?key=QUERYKEY123", &http.Client{}, Config{})
		_, resp, err := p.tryDial(t, false, nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusBadGateway {
			t.Errorf("dial: got %v, %v; want 502", resp, err)
		}
		o := p.result(t)
		if o.err == nil || o.res.Status != 502 {
			t.Fatalf("result: got %+v, %v; want 502 and an error", o.res, o.err)
		}
		if msg := o.err.Error(); strings.Contains(msg, "QUERYKEY123") || !strings.Contains(msg, addr) {
			t.Errorf("error: got %q, want the upstream without its query", msg)
		}
	})
	t.Run("not a handshake", func(t *testing.T) {
		resp, err := http.Get(p.srv.URL + "/v1/responses")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("status: got %d, want 400", resp.StatusCode)
		}
		if o := p.result(t); o.err == nil || o.res.Status != 400 {
			t.Errorf("result: got %+v, %v; want 400 and an error", o.res, o.err)
		}
	})
	t.Run("not hijackable", func(t *testing.T) {
		u, _ := url.Parse(up.url())
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/v1/responses", nil)
		r.Header = http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"},
			"Sec-Websocket-Version": {"13"}, "Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}}
		res, err := Relay(w, r, u, Config{Redact: redact, HTTPClient: &http.Client{}})
		if err == nil || res.Status != 501 || w.Code != 501 {
			t.Errorf("got %d, %v; want 501 and an error", w.Code, err)
		}
		select {
		case h := <-up.header:
			t.Errorf("the upstream was dialled: %v", h)
		default:
		}
	})
	t.Run("no Redact", func(t *testing.T) {
		u, _ := url.Parse(up.url())
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/v1/responses", nil)
		res, err := Relay(w, r, u, Config{HTTPClient: &http.Client{}})
		if err == nil || res.Status != 500 || w.Code != 500 {
			t.Errorf("got %d, %v; want 500 and an error", w.Code, err)
		}
	})
}

func TestRelayBinary(t *testing.T) {
	up := startScripted(t)
	var mu sync.Mutex
	var calls []bool
	cfg := Config{Redact: func(ctx context.Context, msg []byte, text bool) ([]byte, error) {
		mu.Lock()
		calls = append(calls, text)
		mu.Unlock()
		return redact(ctx, msg, text)
	}}
	p := startProxy(t, up.url(), &http.Client{}, cfg)
	c, _ := p.dial(t, true, nil)
	// Agent → upstream binary is redacted (text=false); the echo comes back as is.
	if err := c.Write(t.Context(), websocket.MessageBinary, []byte("bin "+canary)); err != nil {
		t.Fatal(err)
	}
	typ, m, err := c.Read(t.Context())
	if err != nil || typ != websocket.MessageBinary || string(m) != "bin "+tok {
		t.Errorf("binary echo: got %v %q, %v; want binary %q (binary is never restored)", typ, m, err, "bin "+tok)
	}
	// Upstream → agent binary passes unchanged, after held-back text.
	if err := c.Write(t.Context(), websocket.MessageText, []byte(`{"type":"response.output_text.delta","item_id":"m","delta":"x cloak_aw"}`)); err != nil {
		t.Fatal(err)
	}
	if _, m, err := c.Read(t.Context()); err != nil || string(m) != `{"type":"response.output_text.delta","item_id":"m","delta":"x "}` {
		t.Errorf("delta: got %q, %v; want the token prefix held back", m, err)
	}
	if err := c.Write(t.Context(), websocket.MessageText, []byte("binary raw "+tok)); err != nil {
		t.Fatal(err)
	}
	if _, m, err := c.Read(t.Context()); err != nil || string(m) != `{"type":"response.output_text.delta","item_id":"m","delta":"cloak_aw"}` {
		t.Errorf("held text: got %q, %v; want it before the binary message", m, err)
	}
	if typ, m, err := c.Read(t.Context()); err != nil || typ != websocket.MessageBinary || string(m) != "raw "+tok {
		t.Errorf("binary: got %v %q, %v; want binary %q", typ, m, err, "raw "+tok)
	}
	c.Close(websocket.StatusNormalClosure, "")
	o := p.result(t)
	mu.Lock()
	defer mu.Unlock()
	if want := []bool{false, true, true}; len(calls) != 3 || calls[0] || !calls[1] || !calls[2] {
		t.Errorf("Redact text flags: got %v, want %v", calls, want)
	}
	if o.res.ClientMessages != 3 || o.res.UpstreamMessages != 3 {
		t.Errorf("result: got %+v, want 3 messages each way", o.res)
	}
	if got := up.received(); len(got) != 3 || got[0] != "binary bin "+tok {
		t.Errorf("upstream got %q", got)
	}
}

func TestRelayNoLeak(t *testing.T) {
	fake := fakeapi.Start(t, fakeapi.Options{Chunk: 5})
	hc := fakeClient(t, fake)
	p := startProxy(t, fakeURL, hc, Config{})
	sessionRun := func(deflate bool, closeCode websocket.StatusCode) {
		c, _, err := p.tryDial(t, deflate, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Write(t.Context(), websocket.MessageText, []byte(createMsg("a "+canary))); err != nil {
			t.Fatal(err)
		}
		readResponse(t, c)
		c.Close(closeCode, "")
		p.result(t)
	}
	settle := func() int {
		hc.CloseIdleConnections()
		return runtime.NumGoroutine()
	}
	sessionRun(true, 1000) // warm up pools and transports
	base := settle()
	for i := range 6 {
		sessionRun(i%2 == 0, websocket.StatusCode(1000+3000*(i%2)))
	}
	deadline := time.Now().Add(5 * time.Second)
	n := settle()
	for n > base && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		n = settle()
	}
	if n > base {
		buf := make([]byte, 1<<16)
		t.Errorf("goroutines: got %d after 6 sessions, want at most %d\n%s", n, base, buf[:runtime.Stack(buf, true)])
	}
}

func TestForwardHeader(t *testing.T) {
	in := http.Header{
		"Connection":               {"Upgrade, X-Hop"},
		"X-Hop":                    {"1"},
		"Upgrade":                  {"websocket"},
		"Keep-Alive":               {"timeout=5"},
		"Proxy-Authorization":      {"Basic x"},
		"Proxy-Connection":         {"keep-alive"},
		"Te":                       {"trailers"},
		"Sec-Websocket-Key":        {"dGhlIHNhbXBsZSBub25jZQ=="},
		"Sec-Websocket-Version":    {"13"},
		"Sec-Websocket-Extensions": {"permessage-deflate; client_max_window_bits"},
		"Sec-Websocket-Protocol":   {"a, b"},
		"Accept-Encoding":          {"gzip"},
		"Authorization":            {"Bearer sk-test"},
		"Origin":                   {"https://example.com"},
		"User-Agent":               {"codex_cli_rs/0.50"},
	}
	got := forwardHeader(in)
	want := http.Header{
		"Authorization": {"Bearer sk-test"},
		"Origin":        {"https://example.com"},
		"User-Agent":    {"codex_cli_rs/0.50"},
	}
	if len(got) != len(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got.Get(k) != v[0] {
			t.Errorf("%s: got %q, want %q", k, got.Get(k), v[0])
		}
	}
	if in.Get("X-Hop") != "1" {
		t.Error("forwardHeader changed its input")
	}
}

func TestCloseReason(t *testing.T) {
	long := strings.Repeat("a", 122) + "é" + "tail"
	tests := []struct {
		name, in, want string
	}{
		{name: "short", in: "bye", want: "bye"},
		{name: "exactly 123", in: strings.Repeat("b", 123), want: strings.Repeat("b", 123)},
		{name: "cut before a rune", in: long, want: strings.Repeat("a", 122)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := closeReason(tc.in); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
