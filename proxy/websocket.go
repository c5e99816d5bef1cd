package proxy

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cloakroom/cloakroom/proxy/walk"
	"github.com/cloakroom/cloakroom/proxy/wsrelay"
)

// isWebSocket reports whether r asks to upgrade to WebSocket the way a handshake
// does (GET over HTTP/1.1); wsrelay checks the rest.
func isWebSocket(r *http.Request) bool {
	if r.Method != http.MethodGet || r.ProtoMajor != 1 {
		return false
	}
	for _, v := range r.Header.Values("Upgrade") {
		if strings.EqualFold(strings.TrimSpace(v), "websocket") {
			return true
		}
	}
	return false
}

// serveWebSocket relays an intercepted WebSocket (Codex's Responses API, say):
// every message the agent sends is redacted like a request body, every message the
// model sends is restored like an SSE event. One audit record covers the connection.
func (p *Proxy) serveWebSocket(w http.ResponseWriter, r *http.Request, st *reqState, host string) {
	st.restore = p.newRestorer(r, st)
	r.Header.Del("Proxy-Authorization")
	r.Header.Del(AgentHeader)
	var refusal string // the error class of a message that could not be redacted
	cfg := wsrelay.Config{
		MaxMessageBytes: p.maxBody,
		Restorer:        st.restore,
		HTTPClient:      &http.Client{Transport: p.wsTransport},
		Redact: func(ctx context.Context, msg []byte, text bool) ([]byte, error) {
			ct := ""
			if text && looksJSON(msg) {
				ct = "application/json" // JSON that does not parse is refused, not scanned as text
			}
			scanStart := time.Now()
			out, err := p.redactBody(ctx, msg, false, ct, st) // the relay reuses msg's buffer
			took := time.Since(scanStart)
			p.metrics.scanDuration.Observe(took.Seconds())
			p.metrics.scannedBytes.Add(float64(len(msg)))
			st.scanTook += took // summed before rounding, as vault_ms is
			st.rec.ScanMS = ms(st.scanTook)
			st.rec.BodyBytes += len(msg)
			var vaultErr *vaultError
			switch {
			case err == nil:
				if st.rec.Model == "" {
					st.rec.Model = auditModel(st, out)
				}
				return out, nil
			case errors.Is(err, walk.ErrInvalidJSON), errors.Is(err, walk.ErrTooDeep):
				refusal = errClassJSON
				return nil, errors.New("cloakroom: a message is not JSON it can scan; nothing was forwarded")
			case errors.As(err, &vaultErr):
				refusal = errClassVault
				p.metrics.vaultErrors.Inc()
				p.log.Error("vault unavailable, WebSocket message refused", "id", st.rec.ID, "err", err)
				return nil, errors.New("cloakroom: the vault did not take this message's secrets; nothing was forwarded")
			default:
				refusal = errClassInternal
				p.log.Error("scan failed, WebSocket message refused", "id", st.rec.ID, "err", err)
				return nil, errors.New("cloakroom: a message could not be scanned; nothing was forwarded")
			}
		},
	}
	u := &url.URL{Scheme: "wss", Host: host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	st.upstream = st.start
	res, err := wsrelay.Relay(w, r, u, cfg)
	st.rec.Status = res.Status
	switch {
	case refusal != "":
		st.rec.Decision, st.rec.Error = outcomeRefused, refusal
	case errors.Is(err, wsrelay.ErrMessageTooBig):
		st.rec.Decision, st.rec.Error = outcomeRefused, errClassTooLarge
	case err != nil && (res.Status == http.StatusBadRequest || res.Status == http.StatusNotImplemented):
		st.rec.Decision, st.rec.Error = outcomeRefused, errClassUpgrade
	case err != nil && res.Status == http.StatusBadGateway:
		st.rec.Decision, st.rec.Error = outcomeForwarded, errClassUpstream
		p.log.Warn("upstream WebSocket failed", "id", st.rec.ID, "host", st.rec.Host, "err", err)
	case err != nil:
		st.rec.Error = errClassInternal
		p.log.Warn("WebSocket relay failed", "id", st.rec.ID, "err", err)
	}
	p.log.Debug("websocket ended", "id", st.rec.ID, "end", string(res.End), "close_code", res.CloseCode,
		"client_messages", res.ClientMessages, "upstream_messages", res.UpstreamMessages)
	p.finish(st)
}
