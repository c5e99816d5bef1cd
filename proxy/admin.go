package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cloakroom/cloakroom/internal/adminauth"
	"github.com/cloakroom/cloakroom/proxy/console"
	"github.com/cloakroom/cloakroom/resolver"
)

// AdminHandler serves the admin endpoints: /healthz (the process is up), /readyz (the
// vault answers), /metrics (Prometheus, from gatherer) and, with an admin token and
// an approval store, the approvals API under /v1/approvals and, with an admin
// token, the web console under /console/ (/ redirects there).
func (p *Proxy) AdminHandler(gatherer prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := p.vault.Ping(ctx); err != nil {
			p.log.Warn("readiness check failed", "err", err)
			http.Error(w, "not ready: vault unavailable", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	mux.Handle("GET /v1/approvals", p.approver(p.listApprovals))
	mux.Handle("GET /v1/approvals/{id}", p.approver(p.showApproval))
	mux.Handle("POST /v1/approvals/{id}/approve", p.approver(p.decideApproval(true)))
	mux.Handle("POST /v1/approvals/{id}/deny", p.approver(p.decideApproval(false)))
	mux.Handle(console.Prefix, p.consoleHandler())
	mux.Handle("GET /{$}", http.RedirectHandler(console.Prefix, http.StatusFound))
	return mux
}

// apiError is the admin API's error body.
type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// approver guards an approvals endpoint: the admin token as a Bearer credential,
// never agent credentials, never through the proxy.
func (p *Proxy) approver(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.cfg.AdminToken == "" || p.approvals == nil {
			writeJSON(w, http.StatusNotFound, apiError{"the approvals API is off: it needs an approval store and an admin token"})
			return
		}
		if adminauth.CarriesAgentCredentials(r.Header) {
			p.log.Warn("admin API refused a request carrying agent or proxy credentials", "client", r.RemoteAddr)
			writeJSON(w, http.StatusForbidden, apiError{"agent credentials cannot use the admin API; approvers use the admin token"})
			return
		}
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !adminauth.NewToken(p.cfg.AdminToken).Matches(token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="cloakroom admin"`)
			writeJSON(w, http.StatusUnauthorized, apiError{"the admin API needs the admin token (Authorization: Bearer ...)"})
			return
		}
		h(w, r)
	})
}

func (p *Proxy) listApprovals(w http.ResponseWriter, r *http.Request) {
	status := resolver.Status(r.URL.Query().Get("status"))
	switch status {
	case "", resolver.Pending, resolver.Granted, resolver.Denied, resolver.Expired:
	default:
		writeJSON(w, http.StatusBadRequest, apiError{"status must be pending, granted, denied or expired"})
		return
	}
	list, err := p.approvals.List(r.Context(), status)
	if err != nil {
		p.log.Error("listing approvals failed", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, apiError{"the approval store did not answer"})
		return
	}
	if list == nil {
		list = []resolver.Approval{}
	}
	writeJSON(w, http.StatusOK, list)
}

func (p *Proxy) showApproval(w http.ResponseWriter, r *http.Request) {
	a, err := p.approvals.Get(r.Context(), r.PathValue("id"))
	if p.approvalError(w, err) {
		return
	}
	writeJSON(w, http.StatusOK, a)
}

// decision is the body of an approve or deny call.
type decision struct {
	// For is how long a grant lasts ("15m"); empty grants one use.
	For string `json:"for,omitempty"`
	// By names the approver; Note says why.
	By   string `json:"by,omitempty"`
	Note string `json:"note,omitempty"`
}

func (p *Proxy) decideApproval(grant bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var d decision
		if r.ContentLength != 0 {
			dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&d); err != nil {
				writeJSON(w, http.StatusBadRequest, apiError{"the body must be JSON: {\"for\": \"15m\", \"by\": \"name\", \"note\": \"why\"}"})
				return
			}
		}
		var dur time.Duration
		if d.For != "" {
			if !grant {
				writeJSON(w, http.StatusBadRequest, apiError{"a denial has no duration"})
				return
			}
			var err error
			dur, err = time.ParseDuration(d.For)
			if err != nil || dur <= 0 || dur > resolver.MaxGrant {
				writeJSON(w, http.StatusBadRequest, apiError{"for must be a positive duration up to 720h, like 15m or 8h"})
				return
			}
		}
		if d.By == "" {
			d.By = "admin"
		}
		a, err := p.resolver.Decide(r.Context(), r.PathValue("id"), grant, dur, d.By, d.Note)
		if p.approvalError(w, err) {
			return
		}
		writeJSON(w, http.StatusOK, a)
	}
}

// approvalError answers a store error; it reports whether there was one.
func (p *Proxy) approvalError(w http.ResponseWriter, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, resolver.ErrApprovalNotFound):
		writeJSON(w, http.StatusNotFound, apiError{"no approval has that id"})
	case errors.Is(err, resolver.ErrNotPending):
		writeJSON(w, http.StatusConflict, apiError{"the approval is no longer pending (decided or expired)"})
	default:
		p.log.Error("approval store failed", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, apiError{"the approval store did not answer"})
	}
	return true
}

// SetAdminAddr names the admin listener's address (host:port, as bound), which
// the proxy refuses to carry requests to.
func (p *Proxy) SetAdminAddr(addr string) {
	t := newAdminTarget(addr)
	p.adminAddr.Store(&t)
}

// ExpireApprovals marks pending approvals past their time as expired (one audit
// record each, written by the replica that expired it), every interval until ctx
// ends. It returns at once without an approval store.
func (p *Proxy) ExpireApprovals(ctx context.Context, every time.Duration) {
	if p.approvals == nil {
		return
	}
	_ = p.resolver.Run(ctx, every) // errors go to OnError, logged
}

// adminTarget recognises the admin listener's address among the targets agents
// ask the proxy to reach.
type adminTarget struct {
	port string
	ip   net.IP // nil: any local address
}

func newAdminTarget(addr string) adminTarget {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" || port == "0" {
		return adminTarget{}
	}
	t := adminTarget{port: port}
	if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
		t.ip = ip
	}
	return t
}

// is reports whether hostport (from a CONNECT or an absolute URL) names the admin
// listener: its port on a loopback name, on its own address or, when it listens on
// every address, on any of this machine's.
func (t *adminTarget) is(hostport string) bool {
	if t == nil || t.port == "" {
		return false
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil || port != t.port {
		return false
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ips := []net.IP{net.ParseIP(host)}
	if ips[0] == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
		if err != nil {
			return true // cannot tell: refuse rather than risk it
		}
		ips = ips[:0]
		for _, a := range addrs {
			ips = append(ips, a.IP)
		}
	}
	local, _ := net.InterfaceAddrs()
	for _, ip := range ips {
		if ip.IsLoopback() || ip.IsUnspecified() || (t.ip != nil && ip.Equal(t.ip)) {
			return true
		}
		for _, a := range local {
			if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
				return true
			}
		}
	}
	return false
}

const adminRefusedMessage = "cloakroom: the admin API cannot be reached through the proxy\n"

// errAdminTarget refuses an upstream connection to the admin listener.
var errAdminTarget = errors.New("cloakroom does not connect to its own admin listener")
