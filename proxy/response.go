package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cloakroom/cloakroom/internal/secret"
	"github.com/cloakroom/cloakroom/proxy/sse"
	"github.com/cloakroom/cloakroom/proxy/walk"
	"github.com/cloakroom/cloakroom/resolver"
	"github.com/cloakroom/cloakroom/tokenize"
)

// restoreResponse restores allowed tokens in an upstream response. SSE streams are
// restored event by event as they flow; JSON and text bodies as a whole. Anything
// else (and anything still compressed) passes through, tokens left as tokens.
func (p *Proxy) restoreResponse(req *http.Request, resp *http.Response, st *reqState) *http.Response {
	st.rec.Status = resp.StatusCode
	st.restore = p.newRestorer(req, st)
	if resp.Body == nil || resp.Body == http.NoBody || req.Method == http.MethodHead {
		p.finish(st)
		return resp
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	encoded := resp.Header.Get("Content-Encoding") != "" && !strings.EqualFold(resp.Header.Get("Content-Encoding"), "identity")
	switch {
	case encoded:
		// Not decodable here: tokens stay tokens, which leaks nothing.
	case mt == "text/event-stream":
		resp.Body = sse.NewReader(resp.Body, st.restore)
		resp.ContentLength = -1 // restored values change the length
		resp.Header.Del("Content-Length")
	case mt == "application/json" || strings.HasSuffix(mt, "+json") || strings.HasPrefix(mt, "text/"):
		if err := p.restoreWhole(resp, st, mt); err != nil {
			p.log.Warn("response not restored", "id", st.rec.ID, "err", err)
		}
	}
	resp.Body = &finishBody{ReadCloser: resp.Body, finish: func() { p.finish(st) }, onPanic: func(r any) {
		p.log.Error("panic while restoring a response", "id", st.rec.ID, "panic_type", fmt.Sprintf("%T", r), "stack", string(debug.Stack()))
		st.rec.Error = errClassInternal
	}}
	return resp
}

// restoreWhole reads a whole response body (up to the body limit), restores it and
// puts it back. A body over the limit, or one that breaks while being read, is passed
// on unrestored: tokens left as tokens leak nothing.
func (p *Proxy) restoreWhole(resp *http.Response, st *reqState, mt string) error {
	src := resp.Body
	body, err := io.ReadAll(io.LimitReader(src, p.maxBody+1))
	if err != nil || int64(len(body)) > p.maxBody {
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), src), src}
		if err == nil {
			err = errors.New("response larger than the body limit")
		}
		return err
	}
	_ = src.Close()
	out := body
	if tokenize.Contains(body) {
		if strings.HasPrefix(mt, "text/") {
			out = st.restore.Text(body, false)
		} else {
			out = st.restore.JSON(body)
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(out))
	resp.ContentLength = int64(len(out))
	resp.Header.Set("Content-Length", strconv.Itoa(len(out)))
	return nil
}

// finishBody runs finish once, when the body reaches its end or is closed.
type finishBody struct {
	io.ReadCloser
	once    sync.Once
	finish  func()
	onPanic func(any)
}

// errRestorePanic ends a response whose restorer panicked: the agent sees a cut
// stream, the proxy stays up.
var errRestorePanic = errors.New("cloakroom: internal error while restoring the response")

func (b *finishBody) Read(p []byte) (n int, err error) {
	defer func() {
		if r := recover(); r != nil {
			b.onPanic(r)
			n, err = 0, errRestorePanic
		}
	}()
	n, err = b.ReadCloser.Read(p)
	if err == io.EOF {
		b.once.Do(b.finish)
	}
	return n, err
}

func (b *finishBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.finish)
	return err
}

// restorer turns tokens back into values for one response, asking the policy once
// per token. It implements sse.Restorer.
type restorer struct {
	p         *Proxy
	ctx       context.Context
	requestID string
	principal string
	client    string
	host      string
	method    string
	path      string

	mu       sync.Mutex
	values   map[tokenize.Token]*secret.Value // nil value: withheld or unknown
	restored atomic.Int64
	withheld atomic.Int64
}

func (p *Proxy) newRestorer(req *http.Request, st *reqState) *restorer {
	return &restorer{
		p: p, ctx: req.Context(), requestID: st.rec.ID, principal: st.rec.Principal, client: st.rec.Client,
		host: normalizeHost(req.URL.Host), method: req.Method, path: st.rec.Path,
		values: map[tokenize.Token]*secret.Value{},
	}
}

// value returns the secret a token stands for if the policy lets this principal have it.
func (r *restorer) value(tok tokenize.Token) ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.values[tok]; ok {
		if v == nil {
			return nil, false
		}
		return v.Bytes(), true
	}
	v := r.decide(tok)
	r.values[tok] = v
	if v == nil {
		return nil, false
	}
	return v.Bytes(), true
}

func (r *restorer) decide(tok tokenize.Token) *secret.Value {
	ctx, cancel := context.WithTimeout(r.ctx, VaultCallTimeout)
	e, err := r.p.vaultLookup(ctx, tok)
	cancel()
	if errors.Is(err, tokenize.ErrNotFound) {
		r.p.metrics.restores.WithLabelValues(restoreUnknown).Inc()
		return nil
	}
	if err != nil {
		r.p.metrics.vaultErrors.Inc()
		r.p.log.Warn("token lookup failed, left as token", "err", err)
		return nil
	}
	out, err := r.p.resolver.Resolve(r.ctx, resolver.Request{
		RequestID: r.requestID, Principal: r.principal, Client: r.client, Direction: resolver.Restore,
		Host: r.host, Method: r.method, Path: r.path,
		Description: fmt.Sprintf("restore %s into the response to %s https://%s%s", tok, r.method, r.host, r.path),
		Token:       tokenInfo(e),
	})
	if err != nil || out.Decision.Effect != resolver.Allow {
		e.Value.Zero()
		r.p.metrics.restores.WithLabelValues(restoreWithheld).Inc()
		return nil
	}
	r.p.metrics.restores.WithLabelValues(restoreRestored).Inc()
	v := e.Value // Lookup's copy: forget zeroes it, the vault cache keeps its own
	return &v
}

// Text restores the allowed tokens in frag; in JSON text, values are escaped.
func (r *restorer) Text(frag []byte, jsonText bool) []byte {
	spans := tokenize.Find(frag)
	if len(spans) == 0 {
		return frag
	}
	out := make([]byte, 0, len(frag)+64)
	last := 0
	for _, s := range spans {
		out = append(out, frag[last:s.Start]...)
		last = s.End
		v, ok := r.value(s.Token)
		if !ok {
			r.withheld.Add(1)
			out = append(out, frag[s.Start:s.End]...)
			continue
		}
		r.restored.Add(1)
		if jsonText {
			out = walk.AppendEscaped(out, v)
		} else {
			out = append(out, v...)
		}
	}
	return append(out, frag[last:]...)
}

// JSON restores the allowed tokens in the string values of a JSON document.
func (r *restorer) JSON(doc []byte) []byte {
	out, err := walk.Restore(doc, func(_ walk.Field, s []byte) []byte {
		res := r.Text(s, false)
		if len(res) == len(s) && bytes.Equal(res, s) {
			return nil
		}
		return res
	})
	if err != nil {
		return doc
	}
	return out
}

func (r *restorer) counts() (restored, withheld int) {
	return int(r.restored.Load()), int(r.withheld.Load())
}

// forget zeroes the values this response held.
func (r *restorer) forget() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, v := range r.values {
		if v != nil {
			v.Zero()
		}
		delete(r.values, k)
	}
}

var _ sse.Restorer = (*restorer)(nil)
