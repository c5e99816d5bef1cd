package proxy

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/cloakroom/cloakroom/internal/adminauth"
)

// AgentHeader carries an agent's credentials in gateway mode, as "name:token", for
// clients that send headers but no proxy credentials.
const AgentHeader = adminauth.AgentHeader

// Principal labels for metrics, whose cardinality must stay bounded: configured
// agents are labelled by name, everyone else by one of these.
const (
	labelUnauthenticated = "unauthenticated" // a self-declared name, no credentials configured
	labelRefused         = "refused"         // credentials refused
)

// Agent is one agent's credentials: its name (the principal) and the SHA-256 of its
// token. Tokens are 256-bit random strings made by GenerateAgentToken, so a fast
// hash is enough: slow password hashes exist for guessable passwords, and these are
// not guessable.
type Agent struct {
	Name        string
	TokenSHA256 string // hex
}

var agentName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// agentTokenPrefix marks cloakroom agent tokens, so scanners (ours included) can
// tell them apart from provider keys.
const agentTokenPrefix = "cra_"

// GenerateAgentToken returns a new random agent token and its SHA-256 (hex), the
// value to configure.
func GenerateAgentToken() (token, sha string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("agent token: %w", err)
	}
	token = agentTokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, HashAgentToken(token), nil
}

// HashAgentToken returns the hex SHA-256 of token, as Agent.TokenSHA256 holds it.
func HashAgentToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// ValidateAgentName reports whether name can name an agent.
func ValidateAgentName(name string) error {
	if !agentName.MatchString(name) {
		return errors.New("name must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	if name == DefaultPrincipal || name == labelUnauthenticated || name == labelRefused {
		return fmt.Errorf("the name %q is reserved", name)
	}
	return nil
}

// validateAgents reports bad names, duplicate names and malformed hashes.
func validateAgents(agents []Agent, requireAuth bool) []error {
	var errs []error
	seen := map[string]bool{}
	for i, a := range agents {
		if err := ValidateAgentName(a.Name); err != nil {
			errs = append(errs, fmt.Errorf("proxy: agents[%d]: %w", i, err))
		}
		if seen[a.Name] {
			errs = append(errs, fmt.Errorf("proxy: agents[%d]: duplicate name %q", i, a.Name))
		}
		seen[a.Name] = true
		if b, err := hex.DecodeString(a.TokenSHA256); err != nil || len(b) != sha256.Size {
			errs = append(errs, fmt.Errorf("proxy: agents[%d] (%s): token_sha256 must be 64 hex digits (see `cloakroom agent add`)", i, a.Name))
		}
	}
	if requireAuth && len(agents) == 0 {
		errs = append(errs, errors.New("proxy: require_auth needs at least one configured agent (see `cloakroom agent add`)"))
	}
	return errs
}

// authenticator checks agent credentials.
type authenticator struct {
	agents  map[string][]byte // name → SHA-256 of its token
	require bool
}

func newAuthenticator(agents []Agent, require bool) *authenticator {
	a := &authenticator{agents: make(map[string][]byte, len(agents)), require: require}
	for _, ag := range agents {
		sum, _ := hex.DecodeString(ag.TokenSHA256)
		a.agents[ag.Name] = sum
	}
	return a
}

// identity is who a request comes from.
type identity struct {
	principal string // names the agent in tokens, policy and audit
	label     string // bounded metrics label
}

// errAuth is a refusal of credentials; its text is safe to show the agent.
type errAuth struct{ msg string }

func (e *errAuth) Error() string { return e.msg }

// identify names the agent from Proxy-Authorization (Basic, as HTTPS_PROXY=
// http://name:token@host:port sends it) or, when gateway is set, also from
// AgentHeader. With agents configured, a name must come with its token; with none,
// a name is taken as declared. No credentials at all give DefaultPrincipal unless
// authentication is required.
func (a *authenticator) identify(h http.Header, gateway bool) (identity, error) {
	name, token, ok := basicCredentials(h.Get("Proxy-Authorization"))
	if !ok && gateway {
		name, token, ok = strings.Cut(h.Get(AgentHeader), ":")
		name = strings.TrimSpace(name)
	}
	if !ok || name == "" {
		if a.require {
			return identity{}, &errAuth{"cloakroom requires agent credentials: put them in the proxy URL (http://NAME:TOKEN@host:port)" + gatewayHint(gateway)}
		}
		return identity{principal: DefaultPrincipal, label: DefaultPrincipal}, nil
	}
	if len(a.agents) == 0 {
		if !agentName.MatchString(name) {
			return identity{principal: DefaultPrincipal, label: DefaultPrincipal}, nil
		}
		return identity{principal: name, label: labelUnauthenticated}, nil
	}
	want, known := a.agents[name]
	got := sha256.Sum256([]byte(token))
	if !known || subtle.ConstantTimeCompare(got[:], want) != 1 {
		// One message for an unknown name and a wrong token: no agent enumeration.
		return identity{}, &errAuth{"cloakroom refused the agent credentials: unknown agent or wrong token"}
	}
	return identity{principal: name, label: name}, nil
}

func gatewayHint(gateway bool) string {
	if gateway {
		return " or the " + AgentHeader + ": NAME:TOKEN header"
	}
	return ""
}

// basicCredentials parses a Basic Proxy-Authorization value.
func basicCredentials(v string) (name, secret string, ok bool) {
	scheme, cred, found := strings.Cut(strings.TrimSpace(v), " ")
	if !found || !strings.EqualFold(scheme, "basic") {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return "", "", false
	}
	name, secret, _ = strings.Cut(string(raw), ":")
	return name, secret, true
}

// proxyAuthChallenge is what a 407 carries.
const proxyAuthChallenge = `Basic realm="cloakroom"`
