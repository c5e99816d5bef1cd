package wsrelay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/cloakroom/cloakroom/proxy/sse"
)

// DefaultMaxMessageBytes is the read limit on each side when Config.MaxMessageBytes
// is zero. Long agent sessions send requests of tens of MB.
const DefaultMaxMessageBytes = 64 << 20

// ErrMessageTooBig is returned by Relay when a message exceeded the read limit.
var ErrMessageTooBig = errors.New("wsrelay: message too big")

// Config is what one relay needs. Redact and HTTPClient are required.
type Config struct {
	// MaxMessageBytes bounds each message read from either side, after
	// decompression (DefaultMaxMessageBytes when zero or negative). A larger message
	// closes both sides with 1009 (message too big). When Restorer is set, messages
	// from the upstream are also bounded by sse.MaxEventSize, like SSE events.
	MaxMessageBytes int64
	// Redact rewrites one agent → upstream message before it is forwarded; text
	// reports a text message (false: binary). It is called from one goroutine at a
	// time, in message order; msg is only valid during the call, the result until
	// the next call. It also gets the agent's close reason, if any, as a text message.
	// Its ctx is done when the request's context is or the relay ends.
	// An error closes both sides with 1008 (policy violation) and nothing is
	// forwarded; the error's text is the close reason, so it must be safe to show the
	// agent (never a secret); it is cut to 123 bytes.
	Redact func(ctx context.Context, msg []byte, text bool) ([]byte, error)
	// Restorer restores tokens in upstream → agent text messages, through
	// sse.NewMessages. Nil passes them on unchanged (tokens stay tokens). It is only
	// called from one goroutine.
	Restorer sse.Restorer
	// HTTPClient dials the upstream (the proxy's verifying transport). Its
	// CheckRedirect is replaced: a redirect is relayed to the agent, not followed.
	HTTPClient *http.Client
	// DisableCompression turns permessage-deflate off on both sides.
	DisableCompression bool
}

// End says why a relayed connection ended.
type End string

// Why a relayed connection ended.
const (
	EndNone          End = ""                // never upgraded
	EndClientClose   End = "client_close"    // the agent sent a close frame
	EndUpstreamClose End = "upstream_close"  // the upstream sent a close frame
	EndClientLost    End = "client_lost"     // the agent's connection broke
	EndUpstreamLost  End = "upstream_lost"   // the upstream's connection broke
	EndRefused       End = "refused"         // Redact failed: 1008
	EndTooBig        End = "message_too_big" // a message exceeded the limit: 1009
	EndCanceled      End = "canceled"        // the request's context ended: 1001
)

// Result describes one relayed connection. It never holds message content.
type Result struct {
	// Status is the HTTP status the agent got: 101 once upgraded, the upstream's
	// status when it refused the upgrade, or the proxy's own (400, 500, 502).
	Status int
	// Subprotocol is the negotiated subprotocol, "" for none.
	Subprotocol string
	// ClientDeflate and UpstreamDeflate report permessage-deflate negotiated with the
	// agent and with the upstream.
	ClientDeflate, UpstreamDeflate bool
	// ClientMessages and UpstreamMessages count the data messages read from the
	// agent and from the upstream; ClientBytes and UpstreamBytes their payload bytes.
	ClientMessages, UpstreamMessages int
	ClientBytes, UpstreamBytes       int64
	// End says why the relay ended.
	End End
	// CloseCode is the code the relay ended with: the one the closing peer sent (1005
	// if its close frame had none), 1006 if a peer's connection broke, or the one the
	// proxy closed both sides with (1008, 1009, 1001).
	CloseCode int
}

// Relay relays the WebSocket handshake r, answered through w, to upstream (a ws:,
// wss:, http: or https: URL), then the connection's messages both ways until either
// side ends or r's context is done. See the package documentation for the details.
// r.Header is forwarded as it is, minus hop-by-hop and handshake headers: rewrite it
// before calling Relay to change what the upstream sees.
//
// Before any dial, r must be an HTTP/1.1 WebSocket handshake (else 400) and w must
// support http.Hijacker, directly or through Unwrap (else 501). The upstream is
// dialled first. If it answers with anything but 101, Relay writes that status, its
// headers (minus hop-by-hop ones) and at most 1 KiB of its body to w and returns with
// a nil error. If it cannot be reached, the agent gets 502. Only then is the agent
// accepted.
//
// The error is nil when the relay ended because a peer closed or went away or the
// context ended, or the upstream refused the upgrade; it is not nil when the proxy
// refused or failed: the handshake (400, 500, 501, 502), Redact (EndRefused, wrapping
// Redact's error) or a message too big (EndTooBig, wrapping ErrMessageTooBig). No
// error holds message content or the upstream URL's query.
func Relay(w http.ResponseWriter, r *http.Request, upstream *url.URL, cfg Config) (Result, error) {
	if status, msg, err := cfg.precheck(w, r); err != nil {
		http.Error(w, msg, status)
		return Result{Status: status}, err
	}
	ctx := r.Context()
	up, resp, err := websocket.Dial(ctx, upstream.String(), cfg.dialOptions(r))
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			writeRefusal(w, resp)
			return Result{Status: resp.StatusCode}, nil
		}
		http.Error(w, "cloakroom: the upstream WebSocket handshake failed", http.StatusBadGateway)
		return Result{Status: http.StatusBadGateway}, fmt.Errorf("wsrelay: dial upstream: %w", hideURL(err, upstream))
	}
	res := Result{Subprotocol: up.Subprotocol(), UpstreamDeflate: hasDeflate(resp.Header)}
	copyHeader(w.Header(), resp.Header)
	agent, err := websocket.Accept(w, r, cfg.acceptOptions(res.Subprotocol))
	if err != nil {
		up.Close(websocket.StatusGoingAway, "")
		res.Status = http.StatusInternalServerError
		return res, fmt.Errorf("wsrelay: accept: %w", err)
	}
	res.Status = http.StatusSwitchingProtocols
	res.ClientDeflate = hasDeflate(w.Header())
	return newRelay(cfg, agent, up).run(ctx, res)
}

// precheck refuses, before any dial, what cannot be relayed: the status and message
// to answer with, and the error to return.
func (cfg *Config) precheck(w http.ResponseWriter, r *http.Request) (int, string, error) {
	if err := cfg.check(); err != nil {
		return http.StatusInternalServerError, "cloakroom: the WebSocket relay is not configured", err
	}
	if problem := handshakeProblem(r); problem != "" {
		return http.StatusBadRequest, "cloakroom: not a WebSocket handshake: " + problem,
			fmt.Errorf("wsrelay: bad handshake: %s", problem)
	}
	if !canHijack(w) {
		return http.StatusNotImplemented, "cloakroom: this connection cannot carry a WebSocket",
			errors.New("wsrelay: the ResponseWriter does not support http.Hijacker")
	}
	return 0, "", nil
}

// acceptOptions returns the options of the agent's handshake, given the subprotocol
// the upstream chose.
func (cfg *Config) acceptOptions(subprotocol string) *websocket.AcceptOptions {
	opts := &websocket.AcceptOptions{
		// The upstream authenticates origins: it gets the agent's Origin header.
		InsecureSkipVerify: true,
	}
	if subprotocol != "" {
		opts.Subprotocols = []string{subprotocol}
	}
	if !cfg.DisableCompression {
		opts.CompressionMode = websocket.CompressionNoContextTakeover
	}
	return opts
}

// newRelay sets the read limits of both connections and returns their relay.
func newRelay(cfg Config, agent, up *websocket.Conn) *relay {
	limit := cfg.MaxMessageBytes
	if limit <= 0 {
		limit = DefaultMaxMessageBytes
	}
	rl := &relay{cfg: cfg, agent: agent, up: up, agentLimit: limit, upLimit: limit}
	if cfg.Restorer != nil {
		rl.msgs = sse.NewMessages(cfg.Restorer)
		rl.upLimit = min(limit, sse.MaxEventSize)
	}
	agent.SetReadLimit(rl.agentLimit)
	up.SetReadLimit(rl.upLimit)
	return rl
}

func (cfg *Config) check() error {
	var errs []error
	if cfg.Redact == nil {
		errs = append(errs, errors.New("wsrelay: Config.Redact is nil"))
	}
	if cfg.HTTPClient == nil {
		errs = append(errs, errors.New("wsrelay: Config.HTTPClient is nil"))
	}
	return errors.Join(errs...)
}

// dialOptions returns the options of the upstream handshake for the agent's r.
func (cfg *Config) dialOptions(r *http.Request) *websocket.DialOptions {
	hc := *cfg.HTTPClient
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	o := &websocket.DialOptions{
		HTTPClient: &hc,
		HTTPHeader: forwardHeader(r.Header),
	}
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				o.Subprotocols = append(o.Subprotocols, p)
			}
		}
	}
	if !cfg.DisableCompression {
		o.CompressionMode = websocket.CompressionContextTakeover
	}
	return o
}

// relay is one upgraded connection pair.
type relay struct {
	cfg       Config
	agent, up *websocket.Conn
	msgs      *sse.Messages // nil: no Restorer

	agentLimit, upLimit int64       // read limits
	stop                atomic.Bool // the relay is ending: pumps forward nothing more

	// Owned by the pumps, read once both stopped.
	clientMsgs, upMsgs   int
	clientBytes, upBytes int64
}

// ending is how one pump stopped.
type ending struct {
	end    End
	code   websocket.StatusCode
	reason string
	err    error
	// weak: a write to the other side failed and that side was closed at once; the
	// pump reading it knows better why it ended.
	weak bool
}

// weakWait bounds the wait for the pump that knows why a side failed.
const weakWait = 2 * time.Second

// run pumps both ways until one side ends, closes both and waits for both pumps.
func (rl *relay) run(ctx context.Context, res Result) (Result, error) {
	ioctx := context.WithoutCancel(ctx) // I/O is stopped by closing, not by ctx
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ends := make(chan ending, 2)
	go func() { ends <- rl.toUpstream(rctx, ioctx) }()
	go func() { ends <- rl.toClient(ioctx) }()
	pending := 2
	var e ending
	select {
	case e = <-ends:
		pending--
	case <-ctx.Done():
		e = ending{end: EndCanceled, code: websocket.StatusGoingAway}
	}
	if e.weak {
		// The other pump reads the side that failed, which is closed: it ends now,
		// unless it is stuck writing to a peer that does not read.
		t := time.NewTimer(weakWait)
		select {
		case e2 := <-ends:
			pending--
			if !e2.weak {
				e = e2
			}
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	rl.stop.Store(true)
	rl.closeBoth(rctx, e)
	cancel() // Redact gives up
	for ; pending > 0; pending-- {
		<-ends
	}
	res.ClientMessages, res.UpstreamMessages = rl.clientMsgs, rl.upMsgs
	res.ClientBytes, res.UpstreamBytes = rl.clientBytes, rl.upBytes
	res.End, res.CloseCode = e.end, int(e.code)
	return res, e.err
}

// toUpstream pumps agent → upstream messages through Redact.
func (rl *relay) toUpstream(ctx, ioctx context.Context) ending {
	var buf bytes.Buffer
	for {
		typ, msg, err := readMessage(ioctx, rl.agent, &buf)
		if err != nil {
			return rl.readEnd(err, true)
		}
		if rl.stop.Load() {
			return ending{weak: true}
		}
		rl.clientMsgs++
		rl.clientBytes += int64(len(msg))
		out, err := rl.cfg.Redact(ctx, msg, typ == websocket.MessageText)
		if err != nil {
			if ctx.Err() != nil {
				return ending{end: EndCanceled, code: websocket.StatusGoingAway}
			}
			return ending{end: EndRefused, code: websocket.StatusPolicyViolation,
				reason: closeReason(err.Error()), err: fmt.Errorf("wsrelay: redact: %w", err)}
		}
		if err := rl.up.Write(ioctx, typ, out); err != nil {
			if !rl.stop.Load() {
				rl.up.CloseNow()
			}
			return ending{end: EndUpstreamLost, code: websocket.StatusAbnormalClosure, weak: true}
		}
	}
}

// toClient pumps upstream → agent messages, restoring tokens in text messages.
func (rl *relay) toClient(ioctx context.Context) ending {
	var buf bytes.Buffer
	for {
		typ, msg, err := readMessage(ioctx, rl.up, &buf)
		if err != nil {
			e := rl.readEnd(err, false)
			if e.end == EndUpstreamClose || e.end == EndUpstreamLost {
				rl.flush(ioctx) // held-back text goes out before the agent is closed
			}
			return e
		}
		if rl.stop.Load() {
			return ending{weak: true}
		}
		rl.upMsgs++
		rl.upBytes += int64(len(msg))
		if err := rl.forward(ioctx, typ, msg); err != nil {
			if errors.Is(err, sse.ErrEventTooLarge) {
				return tooBig(false, rl.upLimit)
			}
			if !rl.stop.Load() {
				rl.agent.CloseNow()
			}
			return ending{end: EndClientLost, code: websocket.StatusAbnormalClosure, weak: true}
		}
	}
}

// forward sends one upstream message to the agent.
func (rl *relay) forward(ctx context.Context, typ websocket.MessageType, msg []byte) error {
	if rl.msgs == nil {
		return rl.agent.Write(ctx, typ, msg)
	}
	if typ != websocket.MessageText {
		if err := rl.flush(ctx); err != nil {
			return err
		}
		return rl.agent.Write(ctx, typ, msg)
	}
	out, err := rl.msgs.Push(msg)
	if err != nil {
		return err
	}
	for _, m := range out {
		if err := rl.agent.Write(ctx, websocket.MessageText, m); err != nil {
			return err
		}
	}
	return nil
}

// flush sends the held-back text to the agent.
func (rl *relay) flush(ctx context.Context) error {
	if rl.msgs == nil {
		return nil
	}
	for _, m := range rl.msgs.Flush() {
		if err := rl.agent.Write(ctx, websocket.MessageText, m); err != nil {
			return err
		}
	}
	return nil
}

// readEnd says how a pump ended from the error reading its side.
func (rl *relay) readEnd(err error, client bool) ending {
	if errors.Is(err, websocket.ErrMessageTooBig) {
		if client {
			return tooBig(true, rl.agentLimit)
		}
		return tooBig(false, rl.upLimit)
	}
	if rl.stop.Load() {
		return ending{weak: true}
	}
	var ce websocket.CloseError
	switch {
	case errors.As(err, &ce) && client:
		return ending{end: EndClientClose, code: ce.Code, reason: ce.Reason}
	case errors.As(err, &ce):
		return ending{end: EndUpstreamClose, code: ce.Code, reason: ce.Reason}
	case client:
		return ending{end: EndClientLost, code: websocket.StatusAbnormalClosure}
	}
	return ending{end: EndUpstreamLost, code: websocket.StatusAbnormalClosure}
}

func tooBig(client bool, limit int64) ending {
	side := "upstream"
	if client {
		side = "agent"
	}
	return ending{end: EndTooBig, code: websocket.StatusMessageTooBig, reason: "message too big",
		err: fmt.Errorf("%w: a message from the %s exceeds %d bytes", ErrMessageTooBig, side, limit)}
}

// closeBoth closes both sides as e asks, concurrently, each with its close handshake.
func (rl *relay) closeBoth(ctx context.Context, e ending) {
	type closing struct {
		code   websocket.StatusCode
		reason string
		now    bool // no close frame: the connection is gone
	}
	var toAgent, toUp closing
	switch e.end {
	case EndClientClose:
		toAgent.now = true // the library answered the agent's close frame
		toUp.code, toUp.reason = e.code, rl.clientReason(ctx, e.reason)
	case EndUpstreamClose:
		toUp.now = true
		toAgent.code, toAgent.reason = e.code, e.reason
	case EndClientLost:
		toAgent.now = true
		toUp.code = websocket.StatusGoingAway
	case EndUpstreamLost:
		toUp.now = true
		toAgent.code, toAgent.reason = websocket.StatusBadGateway, "upstream connection lost"
	default: // refused, too big, canceled: the proxy closes both alike
		toAgent.code, toAgent.reason = e.code, e.reason
		toUp = toAgent
	}
	do := func(c *websocket.Conn, cl closing) {
		if cl.now {
			c.CloseNow()
			return
		}
		c.Close(cl.code, cl.reason)
	}
	var wg sync.WaitGroup
	wg.Go(func() { do(rl.agent, toAgent) })
	do(rl.up, toUp)
	wg.Wait()
}

// clientReason returns the agent's close reason as it may go upstream: through
// Redact, or "" if Redact refuses it.
func (rl *relay) clientReason(ctx context.Context, reason string) string {
	if reason == "" {
		return ""
	}
	out, err := rl.cfg.Redact(ctx, []byte(reason), true)
	if err != nil {
		return ""
	}
	return closeReason(string(out))
}

// maxReason is the longest close reason a close frame carries.
const maxReason = 123

// closeReason cuts s to fit a close frame, at a rune boundary.
func closeReason(s string) string {
	if len(s) <= maxReason {
		return s
	}
	i := maxReason
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

// canHijack reports whether w, or a writer it unwraps to, is an http.Hijacker.
func canHijack(w http.ResponseWriter) bool {
	for {
		switch t := w.(type) {
		case http.Hijacker:
			return true
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return false
		}
	}
}

// hideURL replaces the *url.Error in err, whose text holds the whole upstream URL (a
// query may carry an API key), by its cause and the URL without query or user.
func hideURL(err error, u *url.URL) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	safe := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	return fmt.Errorf("%s %s: %w", ue.Op, safe.String(), ue.Err)
}

// retainBuf is the largest read buffer kept between messages.
const retainBuf = 1 << 20

// readMessage reads the next data message of c into buf.
func readMessage(ctx context.Context, c *websocket.Conn, buf *bytes.Buffer) (websocket.MessageType, []byte, error) {
	typ, rd, err := c.Reader(ctx)
	if err != nil {
		return 0, nil, err
	}
	if buf.Cap() > retainBuf {
		*buf = bytes.Buffer{}
	}
	buf.Reset()
	if _, err := buf.ReadFrom(rd); err != nil {
		return 0, nil, err
	}
	return typ, buf.Bytes(), nil
}
