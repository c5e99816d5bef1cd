package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/elazarl/goproxy"

	"github.com/cloakroom/cloakroom/detect"
	"github.com/cloakroom/cloakroom/internal/audit"
	"github.com/cloakroom/cloakroom/proxy/walk"
	"github.com/cloakroom/cloakroom/tokenize"
)

// Error classes, as audit records and logs name them.
const (
	errClassTooLarge    = "body_too_large"
	errClassEncoding    = "bad_encoding"
	errClassJSON        = "bad_json"
	errClassVault       = "vault"
	errClassUpstream    = "upstream"
	errClassUpgrade     = "upgrade_unsupported"
	errClassMisdirected = "misdirected"
	errClassInternal    = "internal"
	errClassAuth        = "auth"
)

// reqState follows one intercepted request from start to its audit record.
type reqState struct {
	start    time.Time
	rec      audit.Record
	api      API
	pattern  string // the intercept pattern that matched: the metrics host label
	label    string // the principal's metrics label
	upstream time.Time
	restore  *restorer
	payloads int           // base64 payloads decoded and scanned so far (resume.go)
	vault    time.Duration // time in vault calls while scanning: use vaultTime
	// scanStart is when the body's scan began, zero once its time is recorded: a
	// refusal during the scan records it (the audit record is written then).
	scanStart time.Time
	scanTook  time.Duration // a WebSocket's: the scans of its messages so far
	done      sync.Once
}

// onRequest handles plain-HTTP requests sent through the proxy (absolute URLs; the
// requests inside intercepted tunnels are served by the MITM server). For
// intercepted hosts it does the whole exchange itself and returns the response.
func (p *Proxy) onRequest(req *http.Request, pctx *goproxy.ProxyCtx) (*http.Request, *http.Response) {
	host := req.URL.Host
	if host == "" {
		host = req.Host
	}
	id, err := p.auth.identify(req.Header, false)
	if err != nil {
		p.metrics.requests.WithLabelValues(hostLabel(p.hosts, host), labelRefused, outcomeRefused).Inc()
		resp := goproxy.NewResponse(req, "text/plain", http.StatusProxyAuthRequired, err.Error()+"\n")
		resp.Header.Set("Proxy-Authenticate", proxyAuthChallenge)
		return req, resp
	}
	if p.adminAddr.Load().is(withPort(host, "80")) {
		p.metrics.requests.WithLabelValues("other", id.label, outcomeBlocked).Inc()
		return req, goproxy.NewResponse(req, "text/plain", http.StatusForbidden, adminRefusedMessage)
	}
	_, model := p.hosts.match(host)
	egress := !model && p.isEgress(host)
	if !model && !egress {
		if p.cfg.OtherHosts == Block {
			p.metrics.requests.WithLabelValues("other", id.label, outcomeBlocked).Inc()
			return req, goproxy.NewResponse(req, "text/plain", http.StatusForbidden, blockedMessage)
		}
		p.metrics.requests.WithLabelValues("other", id.label, outcomeTunnelled).Inc()
		return req, nil
	}
	st := p.newStateFor(req, id.principal, req.RemoteAddr, host)
	st.label = id.label
	if isUpgrade(req.Header) {
		return req, p.refuse(req, st, http.StatusNotImplemented, errClassUpgrade,
			"cloakroom relays WebSocket to this host only over TLS (wss://); other upgrades cannot be scanned")
	}
	goproxy.RemoveProxyHeaders(pctx, req)
	req.Header.Del(AgentHeader)
	if egress {
		return req, p.exchangeEgressSafely(req, st)
	}
	return req, p.exchangeSafely(req, st)
}

// safePath is path as records, logs, approvals and the console show it: with any
// secret the detector or the known-value set finds in it replaced by [redacted]
// (a value sent in a URL path must not land in the audit trail).
func (p *Proxy) safePath(path string) string {
	b := []byte(path)
	fs := detect.Merge(p.detector.Scan(b), p.known.Scan(b))
	if len(fs) == 0 {
		return path
	}
	var out strings.Builder
	last := 0
	for _, f := range fs {
		if f.Start < last {
			continue
		}
		out.Write(b[last:f.Start])
		out.WriteString("[redacted]")
		last = f.End
	}
	out.Write(b[last:])
	return out.String()
}

// withPort adds port to hostport when it has none.
func withPort(hostport, port string) string {
	if _, _, err := net.SplitHostPort(hostport); err == nil {
		return hostport
	}
	return net.JoinHostPort(strings.Trim(hostport, "[]"), port)
}

// newStateFor starts the record of an intercepted request. Every state is finished
// exactly once (finish), which also ends its in-flight count.
func (p *Proxy) newStateFor(req *http.Request, principal, client, host string) *reqState {
	h := normalizeHost(host)
	pattern, ok := p.hosts.match(h)
	if !ok {
		pattern = "other"
	}
	api := classifyAPI(h, req.URL.Path)
	p.inflight.Add(1)
	return &reqState{
		start:   time.Now(),
		api:     api,
		pattern: pattern,
		label:   DefaultPrincipal,
		rec: audit.Record{
			ID:        newRequestID(),
			Principal: principal,
			Client:    client,
			Host:      h,
			Method:    req.Method,
			Path:      p.safePath(req.URL.Path),
			API:       string(api),
		},
	}
}

// exchangeSafely is exchange with a panic turned into a refusal: a bug in a scanner
// must neither crash the proxy nor forward anything.
func (p *Proxy) exchangeSafely(req *http.Request, st *reqState) *http.Response {
	return p.safely(req, st, p.exchange)
}

// exchangeEgressSafely is exchangeEgress with a panic turned into a refusal.
func (p *Proxy) exchangeEgressSafely(req *http.Request, st *reqState) *http.Response {
	return p.safely(req, st, p.exchangeEgress)
}

func (p *Proxy) safely(req *http.Request, st *reqState, exchange func(*http.Request, *reqState) *http.Response) (resp *http.Response) {
	defer func() {
		if r := recover(); r != nil {
			p.log.Error("panic while handling a request", "id", st.rec.ID, "panic_type", fmt.Sprintf("%T", r), "stack", string(debug.Stack()))
			resp = p.refuse(req, st, http.StatusInternalServerError, errClassInternal,
				"cloakroom hit an internal error and forwarded nothing")
		}
	}()
	return exchange(req, st)
}

// exchange redacts the request, sends it upstream and returns the response with
// tokens restored, or a refusal in the provider's error format.
func (p *Proxy) exchange(req *http.Request, st *reqState) *http.Response {
	if resp := p.redact(req, st); resp != nil {
		return resp
	}
	resp, refusal := p.roundTrip(req, st, "cloakroom could not reach the upstream API")
	if refusal != nil {
		return refusal
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		_ = resp.Body.Close()
		st.rec.Decision = outcomeForwarded
		return p.refuse(req, st, http.StatusBadGateway, errClassUpgrade,
			"cloakroom refused the upstream's protocol switch: upgraded connections cannot be scanned")
	}
	return p.restoreResponse(req, resp, st)
}

// isUpgrade reports whether the request asks to switch protocols, on any of its
// Upgrade or Connection header lines.
func isUpgrade(h http.Header) bool {
	for _, v := range h.Values("Upgrade") {
		if strings.TrimSpace(v) != "" {
			return true
		}
	}
	for _, v := range h.Values("Connection") {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return true
			}
		}
	}
	return false
}

// roundTrip sends req upstream. When that fails it logs why, records the request as
// forwarded (it may have been sent) and returns the 502 refusal with msg.
func (p *Proxy) roundTrip(req *http.Request, st *reqState, msg string) (resp, refusal *http.Response) {
	st.upstream = time.Now()
	resp, err := p.upstream().RoundTrip(req)
	p.metrics.upstreamDone(st, err)
	if err != nil {
		if req.Context().Err() != nil {
			err = req.Context().Err()
		}
		p.log.Warn("upstream request failed", "id", st.rec.ID, "host", st.rec.Host, "err", upstreamErrorText(err))
		st.rec.Decision = outcomeForwarded // it may have been sent: say so
		return nil, p.refuse(req, st, http.StatusBadGateway, errClassUpstream, msg)
	}
	return resp, nil
}

// readRaw reads req's body within the size limit. A non-nil response is the
// refusal.
func (p *Proxy) readRaw(req *http.Request, st *reqState) ([]byte, *http.Response) {
	raw, err := readSized(req.Body, req.ContentLength, p.maxBody)
	_ = req.Body.Close()
	switch {
	case errors.Is(err, ErrBodyTooLarge):
		return nil, p.refuse(req, st, http.StatusRequestEntityTooLarge, errClassTooLarge, tooLargeMessage(p.maxBody))
	case err != nil:
		return nil, p.refuse(req, st, http.StatusBadRequest, errClassEncoding, "cloakroom could not read the request body")
	}
	return raw, nil
}

// decodeRaw undoes the body's Content-Encoding (every line of it counts: RFC 9110
// reads them as one list) within the size limit. A non-nil response is the refusal.
func (p *Proxy) decodeRaw(req *http.Request, st *reqState, raw []byte) ([]byte, *http.Response) {
	body, err := decodeBody(raw, strings.Join(req.Header.Values("Content-Encoding"), ","), p.maxBody)
	switch {
	case errors.Is(err, ErrBodyTooLarge):
		return nil, p.refuse(req, st, http.StatusRequestEntityTooLarge, errClassTooLarge, tooLargeMessage(p.maxBody))
	case err != nil:
		return nil, p.refuse(req, st, http.StatusBadRequest, errClassEncoding, "cloakroom refused the request: "+err.Error())
	}
	return body, nil
}

// redact replaces the request body's secrets with tokens. It returns a refusal when
// the body cannot be decoded, parsed, scanned or its secrets stored.
func (p *Proxy) redact(req *http.Request, st *reqState) *http.Response {
	if req.Body == nil || req.Body == http.NoBody {
		return nil
	}
	raw, refusal := p.readRaw(req, st)
	if refusal != nil {
		return refusal
	}
	// Scan time starts once the body is in: reading it is the agent's network.
	scanStart := time.Now()
	st.scanStart = scanStart
	defer st.scanned()
	body, refusal := p.decodeRaw(req, st, raw)
	if refusal != nil {
		return refusal
	}
	st.rec.BodyBytes = len(body)
	p.metrics.scannedBytes.Add(float64(len(body)))
	if st.api == GeminiGenerate {
		st.rec.Model = geminiModel(req.URL.Path)
	}

	out, err := p.redactBody(req.Context(), body, true, req.Header.Get("Content-Type"), st)
	p.metrics.scanDuration.Observe(time.Since(scanStart).Seconds())
	var vaultErr *vaultError
	switch {
	case errors.Is(err, walk.ErrInvalidJSON):
		return p.refuse(req, st, http.StatusBadRequest, errClassJSON,
			"cloakroom refused the request: the body is declared JSON but does not parse, so it cannot be scanned")
	case errors.Is(err, walk.ErrTooDeep):
		return p.refuse(req, st, http.StatusBadRequest, errClassJSON,
			"cloakroom refused the request: the body's JSON is nested too deeply to scan")
	case errors.As(err, &vaultErr):
		p.metrics.vaultErrors.Inc()
		p.log.Error("vault unavailable, request refused", "id", st.rec.ID, "err", err)
		return p.refuse(req, st, http.StatusServiceUnavailable, errClassVault,
			"cloakroom refused the request: its secrets could not be stored in the vault, so they cannot be replaced")
	case err != nil:
		p.log.Error("scan failed, request refused", "id", st.rec.ID, "err", err)
		return p.refuse(req, st, http.StatusInternalServerError, errClassInternal,
			"cloakroom could not scan the request body and forwarded nothing")
	}
	st.rec.Model = auditModel(st, out)
	p.capture(st, out)
	if len(st.rec.Detections) == 0 {
		setBody(req, raw) // untouched: forward the agent's exact bytes
		return nil
	}
	req.Header.Del("Content-Encoding") // forwarded decoded; upstreams accept identity
	setBody(req, out)
	return nil
}

// capture keeps the redacted body of a model request for review, when prompt
// capture is on. A failure loses the capture, never the request.
func (p *Proxy) capture(st *reqState, redacted []byte) {
	if p.captures == nil {
		return
	}
	if err := p.captures.Put(st.rec.ID, redacted); err != nil {
		p.log.Warn("prompt capture lost", "id", st.rec.ID, "err", err)
	}
}

func tooLargeMessage(limit int64) string {
	return fmt.Sprintf("cloakroom refused the request: the body is larger than the limit of %d MiB (max_body_bytes)", limit>>20)
}

func setBody(req *http.Request, b []byte) {
	req.Body = io.NopCloser(bytes.NewReader(b))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	req.ContentLength = int64(len(b))
	req.TransferEncoding = nil
	req.Header.Del("Transfer-Encoding")
	if len(b) == 0 {
		req.Body = http.NoBody
	}
}

// redactBody dispatches on the body's type: JSON is walked string by string, anything
// else is scanned as text. The output may be written over body's bytes: do not use
// them (nor the raw bytes body may be) after a call that returns no error. owned
// promises that neither body's buffer nor the output is modified afterwards (see
// walkJSON).
func (p *Proxy) redactBody(ctx context.Context, body []byte, owned bool, contentType string, st *reqState) ([]byte, error) {
	if len(body) == 0 {
		return body, nil
	}
	if declaredJSON(contentType) || looksJSON(body) {
		var memo hashMemo // the hash of the literal skip saw last: fn's raw
		skip := func(f walk.Field, raw []byte) bool {
			if !p.skipString(f, raw, &memo) {
				return false
			}
			if mayBePayload(f, raw) {
				st.payloads++ // not decoded now, but its text was scanned (resume.go)
			}
			return true
		}
		out, err := p.walkJSON(ctx, body, owned, st, skip, func(f walk.Field, raw, s []byte) ([]walk.Replacement, error) {
			known := p.known.Len() // before the scan: values learned during it count as new
			reps, err := p.redactString(ctx, st, f, s, memo.literal(raw))
			if err == nil && len(reps) == 0 {
				p.markClean(f, raw, known, &memo)
			}
			return reps, err
		})
		if err == nil || declaredJSON(contentType) {
			return out, err
		}
		// Not declared JSON and not valid JSON: scan it as text below.
	}
	reps, err := p.tokenizeFindings(ctx, st, "", body, p.findings("", body, nil))
	if err != nil {
		return nil, err
	}
	return walk.Splice(body, reps), nil
}

// redactString returns the replacements for one decoded JSON string. lit, if not
// nil, is the hash of its raw literal (see hashMemo).
func (p *Proxy) redactString(ctx context.Context, st *reqState, f walk.Field, s []byte, lit *strHash) ([]walk.Replacement, error) {
	if reps, ok, err := p.redactEncoded(ctx, st, f, s); ok {
		return reps, err
	}
	path := f.Path
	if f.Name {
		path += " (member name)"
	}
	return p.tokenizeFindings(ctx, st, path, s, p.findings(f.Key, s, lit))
}

// mayBePayload reports whether redactEncoded may decode the string whose raw literal
// is raw: a media payload, or a literal that starts "data:" or may once decoded (an
// escape in its first 30 bytes, which hold the 5 bytes' longest escapes).
func mayBePayload(f walk.Field, raw []byte) bool {
	if f.MediaType != "" {
		return true
	}
	head := raw[:min(len(raw), 30)]
	return len(raw) >= 5 && bytes.EqualFold(raw[:5], []byte("data:")) || bytes.IndexByte(head, '\\') >= 0
}

func declaredJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

func looksJSON(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && (b[0] == '{' || b[0] == '[')
}

// tokenizeFindings stores each finding in the vault and returns the replacements.
func (p *Proxy) tokenizeFindings(ctx context.Context, st *reqState, path string, s []byte, fs []detect.Finding) ([]walk.Replacement, error) {
	if len(fs) == 0 {
		return nil, nil
	}
	reps := make([]walk.Replacement, 0, len(fs))
	for _, f := range fs {
		value := s[f.Start:f.End]
		vctx, cancel := context.WithTimeout(ctx, VaultCallTimeout)
		start := time.Now()
		tok, err := p.vaultTokenize(vctx, value, f.Class, f.RuleID, st.rec.Principal)
		st.vaultTime(start)
		cancel()
		if err != nil {
			return nil, &vaultError{fmt.Errorf("tokenize %s: %w", f.RuleID, err)}
		}
		if f.RuleID != KnownRuleID {
			p.known.Add(value, f.Class, KnownRuleID)
		}
		reps = append(reps, walk.Replacement{Start: f.Start, End: f.End, With: tok})
		st.rec.Detections = append(st.rec.Detections, audit.Detection{Rule: f.RuleID, Class: f.Class, Token: tok, Path: path})
		p.metrics.detected(f.RuleID, f.Class, st.label)
		if t, ok := tokenize.Parse(tok); ok {
			p.metrics.tokenized.WithLabelValues(t.Class).Inc()
		}
	}
	return reps, nil
}

// vaultError marks a failure to store a secret: the request is refused as a vault
// outage (503), not as a bad body.
type vaultError struct{ err error }

func (e *vaultError) Error() string { return e.err.Error() }
func (e *vaultError) Unwrap() error { return e.err }

// modelName reports whether m looks like a model id, ^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$;
// anything else stays out of the audit. (A loop, not a regexp: it runs on every
// request, and a regexp's matchers are pooled, so refilled after each collection.)
func modelName(m string) bool {
	if len(m) == 0 || len(m) > 128 || !modelChar[m[0]] || strings.IndexByte("._:/@+-", m[0]) >= 0 {
		return false
	}
	for i := 1; i < len(m); i++ {
		if !modelChar[m[i]] {
			return false
		}
	}
	return true
}

// modelChar holds the bytes of a model id.
var modelChar = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:/@+-") {
		t[c] = true
	}
	return t
}()

// auditModel names the model for the audit record, from the redacted body (so a
// secret pasted into "model" is never recorded) or the Gemini path.
func auditModel(st *reqState, redacted []byte) string {
	m := st.rec.Model
	if m == "" && looksJSON(redacted) {
		m = walk.Model(redacted)
	}
	if !modelName(m) || tokenize.Contains([]byte(m)) {
		return ""
	}
	return m
}

// refuse answers the agent with an error in its provider's format, finishes the
// audit record, and forwards nothing.
func (p *Proxy) refuse(req *http.Request, st *reqState, status int, class, msg string) *http.Response {
	msg = fmt.Sprintf("%s (cloakroom request id %s)", msg, st.rec.ID)
	resp := goproxy.NewResponse(req, "application/json", status, string(errorBody(st.api, status, class, msg)))
	resp.Header.Set("X-Cloakroom-Error", class)
	if st.rec.Decision == "" {
		st.rec.Decision = outcomeRefused
	}
	st.scanned() // a refusal during the scan: the record is written now
	st.rec.Error = class
	st.rec.Status = status
	p.finish(st)
	return resp
}

// finish writes the request's audit record, metrics and canonical log line, once.
func (p *Proxy) finish(st *reqState) {
	st.done.Do(func() {
		defer p.inflight.Done()
		p.record(st)
	})
}

func (p *Proxy) record(st *reqState) {
	st.rec.Time = st.start.UTC()
	st.rec.TotalMS = ms(time.Since(st.start))
	if !st.upstream.IsZero() {
		st.rec.UpstreamMS = ms(time.Since(st.upstream))
	}
	if st.restore != nil {
		st.rec.Restored, st.rec.Withheld = st.restore.counts()
		st.restore.forget()
	}
	if st.rec.Decision == "" {
		st.rec.Decision = outcomeForwarded
	}
	p.metrics.requests.WithLabelValues(st.pattern, st.label, st.rec.Outcome()).Inc()
	p.metrics.failed(st)
	if err := p.audit.Write(st.rec); err != nil {
		p.log.Error("audit record lost", "id", st.rec.ID, "err", err)
	}
	p.feed.add(st.rec)
	rules := make([]string, 0, len(st.rec.Detections))
	for _, d := range st.rec.Detections {
		rules = append(rules, d.Rule)
	}
	level := slogLevel(st.rec)
	p.log.Log(context.Background(), level, "request",
		"id", st.rec.ID, "principal", st.rec.Principal, "host", st.rec.Host,
		"method", st.rec.Method, "path", st.rec.Path, "api", st.rec.API, "model", st.rec.Model,
		"status", st.rec.Status, "decision", st.rec.Decision, "error", st.rec.Error,
		"tokens", len(st.rec.Detections), "rules", rules,
		"restored", st.rec.Restored, "withheld", st.rec.Withheld,
		"body_bytes", st.rec.BodyBytes, "scan_ms", st.rec.ScanMS, "vault_ms", st.rec.VaultMS,
		"upstream_ms", st.rec.UpstreamMS, "total_ms", st.rec.TotalMS)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// scanned records the time of the body's scan, unless a refusal has.
func (st *reqState) scanned() {
	if !st.scanStart.IsZero() {
		st.rec.ScanMS = ms(time.Since(st.scanStart))
		st.scanStart = time.Time{}
	}
}

// vaultTime adds the time since start to the request's time in vault calls while
// scanning, and to its audit record.
func (st *reqState) vaultTime(start time.Time) {
	st.vault += time.Since(start)
	st.rec.VaultMS = ms(st.vault)
}

// upstreamErrorText describes a transport error without the URL (queries may hold keys).
func upstreamErrorText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return queryPart.ReplaceAllString(err.Error(), "?[query removed]")
}

func slogLevel(rec audit.Record) slog.Level {
	switch {
	case rec.Error == errClassUpstream || rec.Error == errClassVault:
		return slog.LevelError
	case rec.Decision == outcomeRefused:
		return slog.LevelWarn
	}
	return slog.LevelInfo
}
