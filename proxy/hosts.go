package proxy

import (
	"fmt"
	"net"
	"strings"
)

// DefaultIntercept lists the model API hosts cloakroom intercepts by default. A
// leading "*." matches any subdomain.
var DefaultIntercept = []string{
	"api.anthropic.com",
	"api.openai.com",
	"chatgpt.com", // Codex CLI signed in with ChatGPT
	"generativelanguage.googleapis.com",
	"aiplatform.googleapis.com",
	"*-aiplatform.googleapis.com", // Vertex regional endpoints: us-east5-aiplatform...
	"*.aiplatform.googleapis.com",
	"*.openai.azure.com",
	"*.services.ai.azure.com",
	"*.cognitiveservices.azure.com",
	"bedrock-runtime.*.amazonaws.com",
	"bedrock-runtime-fips.*.amazonaws.com",
	"api.mistral.ai",
	"codestral.mistral.ai",
	"api.cohere.com",
	"api.cohere.ai",
	"api.groq.com",
	"api.together.xyz",
	"api.together.ai",
	"api.deepseek.com",
	"api.x.ai",
	"openrouter.ai",
	"api.perplexity.ai",
	"api.fireworks.ai",
	"api.cerebras.ai",
	"api.githubcopilot.com",
	"api.individual.githubcopilot.com",
	"api.business.githubcopilot.com",
	"api.enterprise.githubcopilot.com",
	"api.moonshot.ai",
	"dashscope.aliyuncs.com",
	"dashscope-intl.aliyuncs.com",
}

// OtherHosts says what happens to hosts that are not intercepted.
type OtherHosts string

// Policies for hosts outside the intercept list.
const (
	// Tunnel passes their traffic through untouched (CONNECT tunnels, plain HTTP).
	Tunnel OtherHosts = "tunnel"
	// Block refuses them.
	Block OtherHosts = "block"
)

// hostMatcher decides whether a host is intercepted. Patterns are exact names,
// "*.suffix" (one or more labels in front), "*-rest.suffix" (a first label ending in
// "-rest", as Vertex's regional hosts), or a single "*" label inside
// (bedrock-runtime.*.amazonaws.com).
type hostMatcher struct {
	exact    map[string]bool
	patterns []hostPattern
}

type hostPattern struct {
	text   string
	labels []string // "*" matches one or more labels when leading, one label elsewhere; "*x" a label ending in x
}

func newHostMatcher(patterns []string) (*hostMatcher, error) {
	m := &hostMatcher{exact: map[string]bool{}}
	for _, p := range patterns {
		p = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(p), "."))
		if p == "" || strings.ContainsAny(p, "/: ") {
			return nil, fmt.Errorf("intercept host %q: want a host name such as api.openai.com or *.openai.azure.com", p)
		}
		if !strings.Contains(p, "*") {
			m.exact[p] = true
			continue
		}
		labels := strings.Split(p, ".")
		for i, l := range labels {
			star := strings.Index(l, "*")
			if star > 0 || strings.Count(l, "*") > 1 || (star == 0 && l != "*" && i != 0) {
				return nil, fmt.Errorf("intercept host %q: a wildcard must be a whole label, or lead the first label", p)
			}
			if l == "" || (star == 0 && i == len(labels)-1) {
				return nil, fmt.Errorf("intercept host %q: malformed pattern", p)
			}
		}
		m.patterns = append(m.patterns, hostPattern{text: p, labels: labels})
	}
	return m, nil
}

// match returns the pattern that intercepts hostport (host or host:port), if any. The
// pattern, not the host, labels metrics, so their cardinality stays bounded.
func (m *hostMatcher) match(hostport string) (string, bool) {
	host := normalizeHost(hostport)
	if m.exact[host] {
		return host, true
	}
	labels := strings.Split(host, ".")
	for _, p := range m.patterns {
		if matchLabels(p.labels, labels) {
			return p.text, true
		}
	}
	return "", false
}

func matchLabels(p, labels []string) bool {
	if p[0] == "*" { // leading wildcard: one or more labels
		rest := p[1:]
		if len(labels) <= len(rest) {
			return false
		}
		return matchLabels(rest, labels[len(labels)-len(rest):])
	}
	if len(p) != len(labels) {
		return false
	}
	for i := range p {
		if suffix, ok := strings.CutPrefix(p[i], "*"); ok && suffix != "" {
			if len(labels[i]) <= len(suffix) || !strings.HasSuffix(labels[i], suffix) {
				return false
			}
			continue
		}
		if p[i] != "*" && p[i] != labels[i] {
			return false
		}
	}
	return true
}

// normalizeHost lowercases a host and drops the port and a trailing dot.
func normalizeHost(hostport string) string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	return strings.ToLower(strings.TrimSuffix(host, "."))
}
