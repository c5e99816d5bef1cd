// Package adminauth holds what the admin API and the console both check about an
// approver's request: the admin token, compared in constant time, and the absence
// of any agent credential (an agent must never approve, even holding the token).
package adminauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
)

// AgentHeader carries an agent's credentials (NAME:TOKEN) in gateway mode.
const AgentHeader = "X-Cloakroom-Agent"

// CarriesAgentCredentials reports whether h holds an agent's proxy credentials, the
// gateway-mode agent header, or a Via header (the request came through a proxy).
func CarriesAgentCredentials(h http.Header) bool {
	return h.Get("Proxy-Authorization") != "" || h.Get(AgentHeader) != "" || h.Get("Via") != ""
}

// Token is the admin token, kept as its SHA-256.
type Token struct {
	sum [sha256.Size]byte
	set bool
}

// NewToken returns the Token for s; an empty s matches nothing.
func NewToken(s string) Token {
	return Token{sum: sha256.Sum256([]byte(s)), set: s != ""}
}

// Matches reports, in constant time, whether s is the admin token.
func (t Token) Matches(s string) bool {
	got := sha256.Sum256([]byte(s))
	return t.set && s != "" && subtle.ConstantTimeCompare(t.sum[:], got[:]) == 1
}
