// Package agentenv says what an agent's environment needs to go through cloakroom:
// the proxy variables and the CA files of each runtime, and how to set them in a
// shell. `cloakroom env`, `cloakroom run` and the console's setup page share it, so
// they never disagree.
package agentenv

import (
	"net"
	"net/url"
	"path/filepath"
	"strings"
)

// Files of the data directory that agents read.
const (
	CAFile     = "ca.pem"        // cloakroom's CA alone (Node adds it to its roots)
	BundleFile = "ca-bundle.pem" // the system roots plus cloakroom's CA
)

// NoProxy is NO_PROXY: the loopback, where cloakroom itself and its gateway routes
// listen, is reached directly.
const NoProxy = "localhost,127.0.0.1,::1"

// Var is one variable of an agent's environment.
type Var struct{ Name, Value string }

// DialAddr is the address clients use for a listen address: an unspecified or
// empty host is the loopback.
func DialAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}

// ProxyURL is the HTTPS_PROXY value for a proxy at addr, with the agent's
// credentials in it when agent is set (token may be empty when no agents are
// configured and a name is taken as declared).
func ProxyURL(addr, agent, token string) string {
	u := url.URL{Scheme: "http", Host: addr}
	switch {
	case agent != "" && token != "":
		u.User = url.UserPassword(agent, token)
	case agent != "":
		u.User = url.User(agent)
	}
	return u.String()
}

// Vars are the variables to set, in the order printed: the proxy (upper and lower
// case, since Python and curl read the lowercase forms first and a stale one would
// win) and the CA files of each runtime, under the data directory dir.
func Vars(proxyURL, dir string) []Var {
	ca := filepath.Join(dir, CAFile)
	bundle := filepath.Join(dir, BundleFile)
	return []Var{
		{"HTTPS_PROXY", proxyURL},
		{"HTTP_PROXY", proxyURL},
		{"NO_PROXY", NoProxy},
		{"https_proxy", proxyURL},
		{"http_proxy", proxyURL},
		{"no_proxy", NoProxy},
		// Node adds this CA to its roots; the others replace their roots with a
		// file, so they get the system roots plus our CA.
		{"NODE_EXTRA_CA_CERTS", ca},
		{"SSL_CERT_FILE", bundle},
		{"REQUESTS_CA_BUNDLE", bundle},
		{"CODEX_CA_CERTIFICATE", bundle},
	}
}

// Shells are the shells Line knows.
var Shells = map[string]bool{"bash": true, "zsh": true, "sh": true, "fish": true}

// Line is the command that sets v in shell (fish, or an sh-like shell).
func Line(shell string, v Var) string {
	if shell == "fish" {
		return "set -gx " + v.Name + " " + FishQuote(v.Value)
	}
	return "export " + v.Name + "=" + ShQuote(v.Value)
}

// safeUnquoted reports whether s means itself unquoted in sh, bash, zsh and fish
// (no globbing, expansion or word splitting; no leading ~).
func safeUnquoted(s string) bool {
	return s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./_-", r))
	}) < 0
}

// ShQuote quotes s for sh, bash and zsh: in single quotes, each single quote inside
// closed, escaped and reopened.
func ShQuote(s string) string {
	if safeUnquoted(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// FishQuote quotes s for fish, where single quotes keep everything but \\ and \'.
func FishQuote(s string) string {
	if safeUnquoted(s) {
		return s
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
