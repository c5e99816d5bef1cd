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
	"*.aiplatform.googleapis.com",
	"*.openai.azure.com",
	"*.services.ai.azure.com",
	"bedrock-runtime.*.amazonaws.com",
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
// "*.suffix" (any subdomain) or a single "*" label inside (bedrock-runtime.*.amazonaws.com).
type hostMatcher struct {
	exact    map[string]bool
	patterns [][]string // labels, "*" matches one or more labels when leading, one label elsewhere
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
			if strings.Contains(l, "*") && l != "*" {
				return nil, fmt.Errorf("intercept host %q: a wildcard must be a whole label", p)
			}
			if l == "" || (l == "*" && i == len(labels)-1) {
				return nil, fmt.Errorf("intercept host %q: malformed pattern", p)
			}
		}
		m.patterns = append(m.patterns, labels)
	}
	return m, nil
}

// match reports whether hostport (host or host:port) is intercepted.
func (m *hostMatcher) match(hostport string) bool {
	host := normalizeHost(hostport)
	if m.exact[host] {
		return true
	}
	labels := strings.Split(host, ".")
	for _, p := range m.patterns {
		if matchLabels(p, labels) {
			return true
		}
	}
	return false
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
