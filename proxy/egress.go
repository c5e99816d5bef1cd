package proxy

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/cloakroom/cloakroom/internal/secret"
	"github.com/cloakroom/cloakroom/proxy/walk"
	"github.com/cloakroom/cloakroom/resolver"
	"github.com/cloakroom/cloakroom/tokenize"
)

// Egress. Hosts the policy names in egress_hosts (api.github.com, say) are
// intercepted too, but their requests are not redacted: a token the agent sends
// there (in a header, the URL or the body) is replaced by its value once the
// policy, and where it asks a human, allows it; and a value already in the vault
// sent there in the clear is blocked unless the policy allows that value there (the
// leak guard). The response goes back with every injected value replaced by its
// token again, so the agent never holds the value.

// APIEgress names egress requests in audit records.
const APIEgress API = "egress"

// Error classes of egress refusals.
const (
	errClassApproval  = "approval_required"
	errClassDenied    = "policy_denied"
	errClassLeakGuard = "leak_guard"
	errClassApprovals = "approvals"
)

// SetEgressHosts replaces the hosts whose requests are intercepted for egress
// injection and the leak guard (the policy's egress_hosts). Hosts on the intercept
// list stay model hosts.
func (p *Proxy) SetEgressHosts(hosts []string) error {
	m, err := newHostMatcher(hosts)
	if err != nil {
		return fmt.Errorf("egress hosts: %w", err)
	}
	p.egress.Store(m)
	return nil
}

// isEgress reports whether host is an egress host (and not a model host).
func (p *Proxy) isEgress(host string) bool {
	if _, ok := p.hosts.match(host); ok {
		return false
	}
	m := p.egress.Load()
	if m == nil {
		return false
	}
	_, ok := m.match(host)
	return ok
}

// injection is one token of an egress request whose value may be injected.
type injection struct {
	token tokenize.Token
	value *secret.Value
}

// exchangeEgress forwards one request to an egress host: leak guard, then token
// injection, then the upstream, then the injected values turned back into tokens in
// the response.
func (p *Proxy) exchangeEgress(req *http.Request, st *reqState) *http.Response {
	st.api = APIEgress
	st.rec.API = string(APIEgress)
	st.pattern = "egress"
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		raw, refusal := p.readRaw(req, st)
		if refusal != nil {
			return refusal
		}
		if body, refusal = p.decodeRaw(req, st, raw); refusal != nil {
			return refusal
		}
		req.Header.Del("Content-Encoding")
		st.rec.BodyBytes = len(body)
	}
	if resp := p.leakGuard(req, st, body); resp != nil {
		return resp
	}
	injected, resp := p.injectTokens(req, st, &body)
	defer func() {
		for _, in := range injected {
			in.value.Zero()
		}
	}()
	if resp != nil {
		return resp
	}
	setBody(req, body)
	if len(injected) > 0 {
		// The response is read to turn injected values back into tokens: ask for it
		// plain.
		req.Header.Set("Accept-Encoding", "identity")
	}
	up, refusal := p.roundTrip(req, st, "cloakroom could not reach the upstream")
	if refusal != nil {
		return refusal
	}
	st.rec.Status = up.StatusCode
	st.rec.Injected = len(injected)
	if len(injected) == 0 {
		up.Body = &finishBody{ReadCloser: up.Body, finish: func() { p.finish(st) }, onPanic: func(any) {}}
		return up
	}
	return p.retokenize(req, st, up, injected)
}

// retokenize replaces the injected values in the upstream's response (headers and
// body) with their tokens.
func (p *Proxy) retokenize(req *http.Request, st *reqState, up *http.Response, injected []injection) *http.Response {
	defer up.Body.Close()
	b, err := readLimited(up.Body, p.maxBody)
	if err != nil {
		st.rec.Decision = outcomeForwarded
		return p.refuse(req, st, http.StatusBadGateway, errClassUpstream,
			"cloakroom could not read the upstream's response to turn injected values back into tokens")
	}
	if enc := up.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		if b, err = decodeBody(b, enc, p.maxBody); err != nil {
			st.rec.Decision = outcomeForwarded
			return p.refuse(req, st, http.StatusBadGateway, errClassEncoding,
				"cloakroom could not decode the upstream's response to turn injected values back into tokens")
		}
		up.Header.Del("Content-Encoding")
	}
	for _, in := range injected {
		v, tok := in.value.Bytes(), []byte(in.token.String())
		// The value as it was sent and as an upstream may echo it: JSON-escaped,
		// URL-escaped in a query or a path.
		forms := [][]byte{v, walk.AppendEscaped(nil, v), []byte(url.QueryEscape(string(v))), []byte(url.PathEscape(string(v)))}
		for i, f := range forms {
			if i > 0 && bytes.Equal(f, v) {
				continue
			}
			b = bytes.ReplaceAll(b, f, tok)
			for k, vals := range up.Header {
				for j := range vals {
					vals[j] = strings.ReplaceAll(vals[j], string(f), string(tok))
				}
				up.Header[k] = vals
			}
		}
	}
	up.Body = &finishBody{ReadCloser: io.NopCloser(bytes.NewReader(b)), finish: func() { p.finish(st) }, onPanic: func(any) {}}
	up.ContentLength = int64(len(b))
	up.Header.Del("Content-Length")
	up.TransferEncoding = nil
	return up
}

// part is a piece of an egress request that may carry tokens or values.
type part struct {
	where string // "header Authorization", "path", "query", "body"
	text  []byte
}

// egressParts returns the pieces of req and body the leak guard scans, as sent and
// decoded as the upstream may read them: percent-escapes undone leniently (a bad
// escape elsewhere must not hide a good one), Basic credentials base64-decoded, and
// JSON strings unescaped. A body that looks like JSON but does not walk cannot be
// checked: errEgressUnscannable.
func egressParts(req *http.Request, body []byte) ([]part, error) {
	var ps []part
	addDecoded := func(where string, raw []byte) {
		ps = append(ps, part{where: where, text: raw})
		if dec := unescapeLenient(raw); !bytes.Equal(dec, raw) {
			ps = append(ps, part{where: where, text: dec})
		}
	}
	for k, vs := range req.Header {
		for _, v := range vs {
			addDecoded("header "+k, []byte(v))
			if scheme, cred, ok := strings.Cut(strings.TrimSpace(v), " "); ok && strings.EqualFold(scheme, "Basic") {
				if dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred)); err == nil {
					ps = append(ps, part{where: "header " + k, text: dec})
				}
			}
		}
	}
	addDecoded("path", []byte(req.URL.EscapedPath()))
	if req.URL.RawQuery != "" {
		addDecoded("query", []byte(req.URL.RawQuery))
	}
	if len(body) > 0 {
		addDecoded("body", body)
		if looksJSON(body) {
			err := walk.Visit(body, func(_ walk.Field, s []byte, _ walk.Location) error {
				ps = append(ps, part{where: "body", text: bytes.Clone(s)})
				return nil
			})
			if err != nil {
				return nil, errEgressUnscannable
			}
		}
	}
	return ps, nil
}

// errEgressUnscannable: an egress body that looks like JSON but does not parse.
var errEgressUnscannable = errors.New("unscannable body")

// unescapeLenient undoes the %XX escapes of s and turns '+' into a space, as query
// and form decoders do, leaving any malformed escape as it is.
func unescapeLenient(s []byte) []byte {
	if bytes.IndexByte(s, '%') < 0 && bytes.IndexByte(s, '+') < 0 {
		return s
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			out = append(out, ' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			out = append(out, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			out = append(out, c)
		}
	}
	return out
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

func isForm(contentType string) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	return mt == "application/x-www-form-urlencoded"
}

// leakGuard refuses the request when it carries, in the clear, a value already in
// the vault that the policy does not let this principal send to this host.
func (p *Proxy) leakGuard(req *http.Request, st *reqState, body []byte) *http.Response {
	if p.known.Len() == 0 {
		return nil
	}
	parts, err := egressParts(req, body)
	if err != nil {
		return p.refuse(req, st, http.StatusBadRequest, errClassJSON,
			"cloakroom refused the request: its body looks like JSON but does not parse, so the leak guard cannot check it")
	}
	seen := map[string]bool{}
	for _, pt := range parts {
		for _, f := range p.known.Scan(pt.text) {
			value := pt.text[f.Start:f.End]
			ctx, cancel := context.WithTimeout(req.Context(), VaultCallTimeout)
			e, err := p.vaultLookupValue(ctx, value)
			cancel()
			if errors.Is(err, tokenize.ErrNotFound) {
				continue // known from another key's era: nothing to decide
			}
			if err != nil {
				p.metrics.vaultErrors.Inc()
				return p.refuse(req, st, http.StatusServiceUnavailable, errClassVault,
					"cloakroom refused the request: the vault did not answer, so the leak guard could not check it")
			}
			tok := e.Token.String()
			e.Value.Zero()
			if seen[tok] {
				continue
			}
			seen[tok] = true
			out, resp := p.egressDecision(req, st, e, pt.where)
			if resp != nil {
				return resp
			}
			if out.Decision.Effect != resolver.Allow {
				return p.refuseEgress(req, st, errClassLeakGuard, out, pt.where,
					"cloakroom blocked the request: it carries, in the clear, a secret the vault holds as "+tok)
			}
		}
	}
	return nil
}

// injectTokens resolves every token of the request and, when all are allowed,
// replaces them with their values in the headers, the URL and *body.
func (p *Proxy) injectTokens(req *http.Request, st *reqState, body *[]byte) ([]injection, *http.Response) {
	type found struct {
		tok   tokenize.Token
		where string
	}
	var toks []found
	add := func(where string, b []byte) {
		for _, s := range tokenize.Find(b) {
			if !slices.ContainsFunc(toks, func(f found) bool { return f.tok == s.Token }) {
				toks = append(toks, found{s.Token, where})
			}
		}
	}
	for k, vs := range req.Header {
		for _, v := range vs {
			add("header "+k, []byte(v))
		}
	}
	add("path", []byte(req.URL.EscapedPath()))
	add("query", []byte(req.URL.RawQuery))
	add("body", *body)
	if len(toks) == 0 {
		return nil, nil
	}
	if req.URL.Scheme != "https" {
		return nil, p.refuse(req, st, http.StatusForbidden, errClassDenied,
			"cloakroom puts values into requests only over https; this one is plain http")
	}
	var injected []injection
	fail := func(resp *http.Response) ([]injection, *http.Response) {
		for _, in := range injected {
			in.value.Zero()
		}
		return nil, resp
	}
	for _, f := range toks {
		ctx, cancel := context.WithTimeout(req.Context(), VaultCallTimeout)
		e, err := p.vaultLookup(ctx, f.tok)
		cancel()
		if errors.Is(err, tokenize.ErrNotFound) {
			continue // not a token of ours: it stays as it is
		}
		if err != nil {
			p.metrics.vaultErrors.Inc()
			return fail(p.refuse(req, st, http.StatusServiceUnavailable, errClassVault,
				"cloakroom refused the request: the vault did not answer, so its tokens cannot be resolved"))
		}
		out, resp := p.egressDecision(req, st, e, f.where)
		if resp != nil {
			e.Value.Zero()
			return fail(resp)
		}
		if out.Decision.Effect != resolver.Allow {
			e.Value.Zero()
			class := errClassDenied
			if out.Decision.Effect == resolver.Approve {
				class = errClassApproval
			}
			return fail(p.refuseEgress(req, st, class, out, f.where,
				"cloakroom did not put the value of "+f.tok.String()+" into this request"))
		}
		if strings.HasPrefix(f.where, "header ") && bytes.ContainsAny(e.Value.Bytes(), "\r\n\x00") {
			e.Value.Zero()
			return fail(p.refuse(req, st, http.StatusBadRequest, errClassDenied,
				"cloakroom refused the request: the value of "+f.tok.String()+" cannot go into a header (it holds a line break)"))
		}
		v := e.Value
		injected = append(injected, injection{token: f.tok, value: &v})
	}
	for _, in := range injected {
		tok, v := in.token.String(), in.value.Bytes()
		for k, vs := range req.Header {
			for i := range vs {
				vs[i] = strings.ReplaceAll(vs[i], tok, string(v))
			}
			req.Header[k] = vs
		}
		if strings.Contains(req.URL.EscapedPath(), tok) {
			escaped := strings.ReplaceAll(req.URL.EscapedPath(), tok, url.PathEscape(string(v)))
			path, err := url.PathUnescape(escaped)
			if err != nil {
				return fail(p.refuse(req, st, http.StatusBadRequest, errClassEncoding, "cloakroom could not rebuild the request path"))
			}
			req.URL.Path, req.URL.RawPath = path, escaped
		}
		req.URL.RawQuery = strings.ReplaceAll(req.URL.RawQuery, tok, url.QueryEscape(string(v)))
		*body = bytes.ReplaceAll(*body, []byte(tok), bodyForm(req.Header.Get("Content-Type"), *body, v))
	}
	return injected, nil
}

// bodyForm is v as it must be written into body: JSON-escaped in JSON, URL-escaped
// in a form, as it is elsewhere.
func bodyForm(contentType string, body, v []byte) []byte {
	switch {
	case declaredJSON(contentType) || looksJSON(body):
		return walk.AppendEscaped(nil, v)
	case isForm(contentType):
		return []byte(url.QueryEscape(string(v)))
	}
	return v
}

// egressDecision asks the resolver about one token of an egress request. A non-nil
// response is a refusal (the resolver failed).
func (p *Proxy) egressDecision(req *http.Request, st *reqState, e tokenize.Entry, where string) (resolver.Outcome, *http.Response) {
	out, err := p.resolver.Resolve(req.Context(), resolver.Request{
		RequestID: st.rec.ID,
		Principal: st.rec.Principal, Client: st.rec.Client, Direction: resolver.Egress,
		Host: st.rec.Host, Method: req.Method, Path: st.rec.Path,
		Description: fmt.Sprintf("%s https://%s%s with %s in the %s", req.Method, st.rec.Host, st.rec.Path, e.Token, where),
		Token:       tokenInfo(e),
	})
	if err != nil { // the approval store failed (a policy error is a plain deny)
		p.log.Error("resolver failed", "id", st.rec.ID, "err", err)
		return out, p.refuse(req, st, http.StatusServiceUnavailable, errClassApprovals,
			"cloakroom refused the request: the approval store did not answer, so its tokens could not be resolved")
	}
	return out, nil
}

// refuseEgress answers 403 with what the policy said and, when it asks for an
// approval, the approval's id and how to grant it.
func (p *Proxy) refuseEgress(req *http.Request, st *reqState, class string, out resolver.Outcome, where, lead string) *http.Response {
	msg := lead + " (" + where + "): "
	if out.Decision.Effect == resolver.Approve && out.Approval != nil {
		id := out.Approval.ID
		msg += "the policy requires a human approval: approval " + id + " is pending. An approver can grant it with `cloakroom approvals approve " +
			id + "` (once) or `cloakroom approvals approve --for 15m " + id + "`, then send the request again"
		st.rec.Approval = id
	} else {
		reason := out.Decision.Reason
		if reason == "" {
			reason = "no reason given"
		}
		msg += "the policy denies it: " + reason
	}
	resp := p.refuse(req, st, http.StatusForbidden, class, msg)
	if st.rec.Approval != "" {
		resp.Header.Set("X-Cloakroom-Approval", st.rec.Approval)
	}
	return resp
}
