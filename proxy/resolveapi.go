package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/cloakroom/cloakroom/resolver"
	"github.com/cloakroom/cloakroom/tokenize"
)

// ResolvePath is the resolve API on the proxy listener: an agent (with its own
// credentials) asks for the value of a token it means to use at a host, and gets it
// when the policy, with direction api, allows it.
const ResolvePath = "/_cloakroom/resolve"

// resolveRequest is the resolve API's body.
type resolveRequest struct {
	Token string `json:"token"`
	// Host is where the agent means to use the value; the policy decides on it.
	Host string `json:"host"`
}

// resolveAnswer is the resolve API's answer: the value, or why not.
type resolveAnswer struct {
	Token    string `json:"token,omitempty"`
	Value    string `json:"value,omitempty"`
	Error    string `json:"error,omitempty"`
	Approval string `json:"approval,omitempty"`
}

// serveResolve answers POST /_cloakroom/resolve.
func (p *Proxy) serveResolve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, resolveAnswer{Error: "use POST with {\"token\": \"cloak_...\", \"host\": \"api.example.com\"}"})
		return
	}
	id, err := p.auth.identify(r.Header, true)
	if err != nil {
		writeJSON(w, http.StatusUnauthorized, resolveAnswer{Error: err.Error()})
		return
	}
	var in resolveRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, resolveAnswer{Error: "the body must be JSON: {\"token\": \"cloak_...\", \"host\": \"api.example.com\"}"})
		return
	}
	tok, ok := tokenize.Parse(in.Token)
	host := normalizeHost(in.Host)
	if p.safePath(in.Host) != in.Host {
		// The host goes into the audit record, the policy's input and its reasons.
		writeJSON(w, http.StatusBadRequest, resolveAnswer{Error: "the host holds what looks like a secret: give the host name only"})
		return
	}
	if !ok || host == "" {
		writeJSON(w, http.StatusBadRequest, resolveAnswer{Error: "give a token (cloak_<class>_<id>) and the host where its value will be used"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), VaultCallTimeout)
	e, err := p.vaultLookup(ctx, tok)
	cancel()
	switch {
	case errors.Is(err, tokenize.ErrNotFound):
		writeJSON(w, http.StatusNotFound, resolveAnswer{Token: in.Token, Error: "the vault holds no value for this token"})
		return
	case err != nil:
		p.metrics.vaultErrors.Inc()
		writeJSON(w, http.StatusServiceUnavailable, resolveAnswer{Token: in.Token, Error: "the vault did not answer"})
		return
	}
	defer e.Value.Zero()
	out, err := p.resolver.Resolve(r.Context(), resolver.Request{
		RequestID: newRequestID(),
		Principal: id.principal, Client: r.RemoteAddr, Direction: resolver.API,
		Host: host, Method: r.Method, Path: ResolvePath,
		Description: fmt.Sprintf("resolve %s through the API, for use at %s", tok, host),
		Token:       tokenInfo(e),
	})
	if err != nil {
		p.log.Error("resolve API: the approval store failed", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, resolveAnswer{Token: tok.String(), Error: "the approval store did not answer"})
		return
	}
	switch out.Decision.Effect {
	case resolver.Allow:
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, resolveAnswer{Token: tok.String(), Value: string(e.Value.Bytes())})
	case resolver.Approve:
		a := resolveAnswer{Token: tok.String(), Error: "the policy requires a human approval"}
		if out.Approval != nil {
			a.Approval = out.Approval.ID
			a.Error += ": approval " + out.Approval.ID + " is pending (cloakroom approvals approve " + out.Approval.ID + ")"
			w.Header().Set("X-Cloakroom-Approval", out.Approval.ID)
		}
		writeJSON(w, http.StatusForbidden, a)
	default:
		writeJSON(w, http.StatusForbidden, resolveAnswer{Token: tok.String(), Error: "the policy denies it: " + out.Decision.Reason})
	}
}
