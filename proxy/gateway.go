package proxy

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// DefaultGateway maps gateway route names to upstream origins. A request to
// http://<listen>/<route>/rest goes to <origin>/rest over verified TLS, redacted and
// restored exactly as an intercepted request, for clients that ignore HTTPS_PROXY
// but let the base URL be set (ANTHROPIC_BASE_URL=http://127.0.0.1:8080/anthropic).
var DefaultGateway = map[string]string{
	"anthropic":  "https://api.anthropic.com",
	"openai":     "https://api.openai.com",
	"gemini":     "https://generativelanguage.googleapis.com",
	"mistral":    "https://api.mistral.ai",
	"groq":       "https://api.groq.com",
	"deepseek":   "https://api.deepseek.com",
	"xai":        "https://api.x.ai",
	"openrouter": "https://openrouter.ai",
	"together":   "https://api.together.xyz",
	"fireworks":  "https://api.fireworks.ai",
	"cerebras":   "https://api.cerebras.ai",
	"perplexity": "https://api.perplexity.ai",
}

var routeName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// gatewayRoute is one parsed route.
type gatewayRoute struct {
	name   string
	host   string // host:port to dial
	header string // Host header to send
	base   string // path prefix at the origin, without trailing slash
}

func (c Config) gateway() map[string]string {
	if c.Gateway == nil {
		return DefaultGateway
	}
	return c.Gateway
}

// parseGateway checks every route: names are one lowercase path segment, origins
// are https URLs without query or fragment.
func parseGateway(routes map[string]string) (map[string]gatewayRoute, []error) {
	out := make(map[string]gatewayRoute, len(routes))
	var errs []error
	names := make([]string, 0, len(routes))
	for name := range routes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		origin := routes[name]
		if !routeName.MatchString(name) {
			errs = append(errs, fmt.Errorf("proxy: gateway route %q: a route is one lowercase path segment (letters, digits, '.', '_', '-')", name))
			continue
		}
		u, err := url.Parse(origin)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			errs = append(errs, fmt.Errorf("proxy: gateway route %q: origin must be an https URL such as https://api.example.com (got %q)", name, origin))
			continue
		}
		host := u.Host
		if _, _, err := net.SplitHostPort(host); err != nil {
			host = net.JoinHostPort(u.Hostname(), "443")
		}
		out[name] = gatewayRoute{name: name, host: host, header: u.Host, base: strings.TrimSuffix(u.Path, "/")}
	}
	return out, errs
}

// serveGateway serves requests sent to the proxy listener as to a server (no
// absolute URL, no CONNECT): base-URL routes, or a 404 that explains how to use us.
func (p *Proxy) serveGateway(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == ResolvePath {
		p.serveResolve(w, r)
		return
	}
	if r.URL.Path == KnownPath {
		p.serveKnown(w, r)
		return
	}
	name, rest := splitRoute(r.URL.EscapedPath())
	route, ok := p.gw[name]
	if !ok {
		http.Error(w, p.gatewayHelp(), http.StatusNotFound)
		return
	}
	escaped := route.base + rest
	path, err := url.PathUnescape(escaped)
	if err != nil {
		http.Error(w, "cloakroom: malformed path", http.StatusBadRequest)
		return
	}
	r.URL.Path, r.URL.RawPath = path, escaped
	id, err := p.auth.identify(r.Header, true)
	st := p.newStateFor(r, id.principal, r.RemoteAddr, route.host)
	st.label = id.label
	if err != nil {
		st.label = labelRefused
		resp := p.refuse(r, st, http.StatusUnauthorized, errClassAuth, err.Error())
		p.writeResponse(w, r, resp)
		return
	}
	r.Header.Del(AgentHeader)
	p.serveIntercepted(w, r, st, route.host, route.header)
}

// splitRoute cuts "/anthropic/v1/messages" into "anthropic" and "/v1/messages".
func splitRoute(path string) (name, rest string) {
	path = strings.TrimPrefix(path, "/")
	name, rest, _ = strings.Cut(path, "/")
	return name, "/" + rest
}

func (p *Proxy) gatewayHelp() string {
	var b strings.Builder
	b.WriteString("cloakroom is a forward proxy: set HTTPS_PROXY to this address and trust its CA (see `cloakroom env`).\n")
	b.WriteString("For clients that ignore HTTPS_PROXY, set their base URL to one of these gateway routes:\n")
	names := make([]string, 0, len(p.gw))
	for n := range p.gw {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		rt := p.gw[n]
		fmt.Fprintf(&b, "  /%s/ -> https://%s%s/\n", n, rt.header, rt.base)
	}
	return b.String()
}
