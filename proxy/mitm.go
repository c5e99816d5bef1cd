package proxy

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/elazarl/goproxy"
)

// Timeouts of decrypted agent connections. No write timeout: a model's stream may
// run for many minutes.
const (
	agentHeaderTimeout = 30 * time.Second // TLS handshake and each request's headers
	agentIdleTimeout   = 5 * time.Minute  // keep-alive between requests
)

// The intercepted side. goproxy takes the agent's CONNECT and hands us the raw
// connection (ConnectHijack); we terminate TLS with our CA, offering h2 and http/1.1,
// and serve the decrypted connection with net/http's own server. That server gives
// HTTP/2, Expect: 100-continue, keep-alive, handshake and idle deadlines, request
// contexts cancelled when the agent hangs up, and graceful shutdown, all of which a
// hand-rolled request loop would have to reinvent.
type mitm struct {
	srv   *http.Server
	ln    *connListener
	conns sync.Map // *tls.Conn → *connState, until the connection closes
	done  chan struct{}
}

type connStateKey struct{}

func (p *Proxy) newMITM() *mitm {
	m := &mitm{ln: newConnListener(), done: make(chan struct{})}
	m.srv = &http.Server{
		Handler:           http.HandlerFunc(p.serveTunnel),
		ReadHeaderTimeout: agentHeaderTimeout,
		IdleTimeout:       agentIdleTimeout,
		ErrorLog:          log.New(serverLogWriter{p.log}, "", 0),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if cs, ok := m.conns.Load(c); ok {
				return context.WithValue(ctx, connStateKey{}, cs)
			}
			return ctx
		},
		ConnState: func(c net.Conn, s http.ConnState) {
			if s == http.StateClosed || s == http.StateHijacked {
				m.conns.Delete(c)
			}
		},
	}
	go func() {
		defer close(m.done)
		_ = m.srv.Serve(m.ln)
	}()
	return m
}

// hijackIntercept is goproxy's ConnectHijack callback for intercepted hosts: it
// accepts the tunnel and hands the TLS side to the MITM server.
func (p *Proxy) hijackIntercept(cs *connState) func(*http.Request, net.Conn, *goproxy.ProxyCtx) {
	return func(_ *http.Request, client net.Conn, _ *goproxy.ProxyCtx) {
		cfg, err := p.cfg.CA.tlsConfigFor(cs.target)
		if err != nil {
			p.log.Error("cannot sign a certificate for an intercepted host", "host", cs.target, "err", err)
			writeRaw(client, http.StatusBadGateway, "cloakroom could not issue a certificate for this host\n", nil)
			return
		}
		if _, err := io.WriteString(client, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
			_ = client.Close()
			return
		}
		tc := tls.Server(client, cfg)
		p.mitm.conns.Store(tc, cs)
		if !p.mitm.ln.push(tc) {
			p.mitm.conns.Delete(tc)
			_ = tc.Close()
		}
	}
}

// writeRaw answers a hijacked CONNECT and closes it.
func writeRaw(c net.Conn, status int, msg string, extra http.Header) {
	resp := &http.Response{
		StatusCode: status, ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"text/plain; charset=utf-8"}, "Connection": {"close"}},
		ContentLength: int64(len(msg)),
		Body:          io.NopCloser(strings.NewReader(msg)),
	}
	for k, v := range extra {
		resp.Header[k] = v
	}
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_ = resp.Write(c)
	_ = c.Close()
}

// shutdown stops accepting tunnels and waits for the decrypted connections'
// in-flight requests to finish (idle ones are closed at once).
func (m *mitm) shutdown(ctx context.Context) error {
	m.ln.Close()
	err := m.srv.Shutdown(ctx)
	if err != nil {
		_ = m.srv.Close()
	}
	<-m.done
	return err
}

// serveTunnel serves one request decrypted from an intercepted tunnel.
func (p *Proxy) serveTunnel(w http.ResponseWriter, r *http.Request) {
	cs, ok := r.Context().Value(connStateKey{}).(*connState)
	if !ok { // cannot happen: every pushed connection is registered first
		http.Error(w, "cloakroom: unknown tunnel", http.StatusInternalServerError)
		return
	}
	st := p.newStateFor(r, cs.principal, cs.client, cs.target)
	st.label = cs.label
	// Inside an intercepted tunnel the request goes where the tunnel was opened to,
	// whatever its Host header says: a different Host must not route around the
	// intercept list (or a block) through our own connection.
	if normalizeHost(r.Host) != normalizeHost(cs.target) {
		p.writeResponse(w, r, p.refuse(r, st, http.StatusMisdirectedRequest, errClassMisdirected,
			"cloakroom refused the request: its Host header does not name the host the tunnel was opened to"))
		return
	}
	if cs.egress {
		p.serveEgress(w, r, st, cs.target, r.Host)
		return
	}
	p.serveIntercepted(w, r, st, cs.target, r.Host)
}

// serveIntercepted forwards one agent request to https://target (the tunnel's host,
// or a gateway route's) with Host header host, redacted, and writes the restored
// response.
func (p *Proxy) serveIntercepted(w http.ResponseWriter, r *http.Request, st *reqState, target, host string) {
	out := upstreamRequest(r, target, host)
	if isWebSocket(r) {
		p.serveWebSocket(w, r, st, host)
		return
	}
	if isUpgrade(r.Header) {
		p.writeResponse(w, r, p.refuse(r, st, http.StatusNotImplemented, errClassUpgrade,
			"cloakroom cannot scan this kind of upgraded connection; only WebSocket is relayed"))
		return
	}
	out = out.WithContext(httptrace.WithClientTrace(out.Context(), relay1xx(w)))
	p.writeResponse(w, r, p.exchangeSafely(out, st))
}

// upstreamRequest is the agent's request r readdressed to https://target with Host
// header host, hop-by-hop headers removed.
func upstreamRequest(r *http.Request, target, host string) *http.Request {
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Scheme = "https"
	out.URL.Host = target
	out.Host = host
	removeHopHeaders(out.Header)
	// The body is read whole before it is forwarded, so asking the upstream to
	// confirm first would only add a round trip. The agent's own Expect was
	// answered by our server when the body was read.
	out.Header.Del("Expect")
	out.Close = false
	return out
}

// serveEgress forwards one request decrypted from a tunnel to an egress host.
func (p *Proxy) serveEgress(w http.ResponseWriter, r *http.Request, st *reqState, target, host string) {
	out := upstreamRequest(r, target, host)
	if isUpgrade(r.Header) {
		p.writeResponse(w, r, p.refuse(r, st, http.StatusNotImplemented, errClassUpgrade,
			"cloakroom does not relay upgraded connections to egress hosts"))
		return
	}
	p.writeResponse(w, r, p.exchangeEgressSafely(out, st))
}

// relay1xx passes informational responses (103 Early Hints and the like) from the
// upstream on to the agent, as a plain proxy does. 100 Continue is our server's own
// business: the agent's body is read before anything goes upstream.
func relay1xx(w http.ResponseWriter) *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		Got1xxResponse: func(code int, header textproto.MIMEHeader) error {
			if code == http.StatusContinue || code == http.StatusSwitchingProtocols {
				return nil
			}
			h := w.Header()
			for k, vs := range header {
				h[k] = append(h[k], vs...)
			}
			w.WriteHeader(code)
			clear(h) // 1xx headers are not the final response's
			return nil
		},
	}
}

// hopHeaders are the connection-level headers a proxy never forwards (RFC 9110 §7.6.1).
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// removeHopHeaders removes hop-by-hop headers and those named in Connection. "Te:
// trailers" survives: gRPC-style upstreams need it and it is end-to-end in meaning.
func removeHopHeaders(h http.Header) {
	for _, v := range h.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			if name = textproto.TrimString(name); name != "" {
				h.Del(name)
			}
		}
	}
	te := h.Values("Te")
	for _, name := range hopHeaders {
		h.Del(name)
	}
	for _, v := range te {
		if strings.EqualFold(strings.TrimSpace(v), "trailers") {
			h.Set("Te", "trailers")
		}
	}
}

// writeResponse relays resp to the agent: headers, body (flushed as it arrives when
// the body is a stream), then trailers. A body cut short upstream is cut short for
// the agent too (the connection or stream is aborted), never passed off as complete.
func (p *Proxy) writeResponse(w http.ResponseWriter, r *http.Request, resp *http.Response) {
	defer func() {
		if resp.Body != nil {
			_ = resp.Body.Close()
		}
	}()
	h := w.Header()
	for k, vs := range resp.Header {
		h[k] = vs
	}
	removeHopHeaders(h)
	for k := range resp.Trailer {
		h.Add("Trailer", k)
	}
	// The body may have changed length (tokens restored): its ContentLength field
	// is the truth, -1 when unknown.
	if r.Method != http.MethodHead && resp.StatusCode != http.StatusNotModified {
		h.Del("Content-Length")
		// Trailers need a chunked (h1) body: no length then.
		if resp.ContentLength >= 0 && resp.StatusCode != http.StatusNoContent && len(resp.Trailer) == 0 {
			h.Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
		}
	}
	w.WriteHeader(resp.StatusCode)
	if resp.Body == nil || resp.Body == http.NoBody {
		return
	}
	stream := resp.ContentLength < 0 || isEventStream(resp.Header)
	rc := http.NewResponseController(w)
	if stream {
		_ = rc.Flush() // the agent sees the headers now, not with the first event
	}
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	for {
		n, err := resp.Body.Read(*buf)
		if n > 0 {
			if _, werr := w.Write((*buf)[:n]); werr != nil {
				return // the agent went away; the deferred Close ends the upstream
			}
			if stream {
				_ = rc.Flush()
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			if r.Context().Err() == nil {
				p.log.Warn("upstream response cut short", "host", r.Host, "err", upstreamErrorText(err))
			}
			panic(http.ErrAbortHandler)
		}
	}
	for k, vs := range resp.Trailer {
		h[http.TrailerPrefix+k] = vs
	}
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func isEventStream(h http.Header) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(h.Get("Content-Type"))), "text/event-stream")
}

// connListener is a net.Listener fed by hijacked tunnels.
type connListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newConnListener() *connListener {
	return &connListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *connListener) push(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.closed:
		return false
	}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *connListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// serverLogWriter sends net/http's server messages (TLS handshake failures, mostly:
// an agent that does not trust our CA) to slog at debug level.
type serverLogWriter struct{ log *slog.Logger }

func (w serverLogWriter) Write(b []byte) (int, error) {
	msg := strings.TrimSpace(string(b))
	if strings.Contains(msg, "TLS handshake error") {
		w.log.Warn("agent TLS handshake failed (does the agent trust cloakroom's CA?)", "detail", queryPart.ReplaceAllString(msg, "?[query removed]"))
	} else {
		w.log.Debug("http server", "msg", queryPart.ReplaceAllString(msg, "?[query removed]"))
	}
	return len(b), nil
}
