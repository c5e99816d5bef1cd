package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/cloakroom/cloakroom/detect"
	"github.com/cloakroom/cloakroom/tokenize"
)

// KnownPath is the known-values API on the proxy listener: an agent (with its own
// credentials, as for the resolve API) registers secret values it holds, such as
// those of its environment that `cloakroom run` sends, so that they are replaced by
// tokens wherever they appear in requests, even where no rule would find them.
const KnownPath = "/_cloakroom/known"

// Limits of the known-values API.
const (
	// KnownMinLen is the shortest value registered: shorter ones would replace
	// ordinary words (and the known-value set of serve ignores them). Shorter values
	// are skipped.
	KnownMinLen = detect.DefaultKnownMinLen
	// KnownMaxLen is the longest value registered (a PEM key chain fits); longer
	// ones are skipped.
	KnownMaxLen = 16 << 10
	// KnownMaxValues is the most values one call may carry.
	KnownMaxValues = 1000
	// KnownPerHour is the most values one principal may send in an hour: each
	// grows the vault and the known-value set for good, and invalidates every
	// principal's scan cache.
	KnownPerHour = 5000
	// knownMaxBody bounds the request body.
	knownMaxBody = 4 << 20
)

// KnownClass is the class of a registered value that no detection rule recognises.
const KnownClass = "secret"

// KnownValue is one value for the known-values API: the name it goes by (an
// environment variable's, or empty) and the value itself.
type KnownValue struct {
	Name  string `json:"name,omitempty"`
	Value string `json:"value"`
}

// KnownRequest is the body of POST KnownPath.
type KnownRequest struct {
	Values []KnownValue `json:"values"`
}

// KnownAnswer is the known-values API's answer. It holds counts only, never a
// value nor a name.
type KnownAnswer struct {
	// Registered values are in the vault (the caller as a submitter, so they are
	// restored in its responses) and in the known-value set.
	Registered int `json:"registered"`
	// Skipped values were too short, too long, or hold a cloakroom token.
	Skipped int    `json:"skipped"`
	Error   string `json:"error,omitempty"`
}

// KnownName reports whether name may name a registered value: an environment
// variable's name, ^[A-Za-z_][A-Za-z0-9_]{0,127}$.
func KnownName(name string) bool {
	if name == "" || len(name) > 128 || name[0] >= '0' && name[0] <= '9' {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

const knownUsage = `use POST with {"values": [{"name": "GITHUB_TOKEN", "value": "..."}]}`

// serveKnown answers POST /_cloakroom/known: each value is tokenized with the
// caller as submitter (class and rule from the detector when a rule recognises the
// whole value by its shape, else class "secret" and rule "env:<name>", or
// "known-value" without a name) and added to the known-value set.
func (p *Proxy) serveKnown(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, KnownAnswer{Error: knownUsage})
		return
	}
	id, err := p.auth.identify(r.Header, true)
	if err != nil {
		writeJSON(w, http.StatusUnauthorized, KnownAnswer{Error: err.Error()})
		return
	}
	var in KnownRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, knownMaxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeJSON(w, http.StatusRequestEntityTooLarge, KnownAnswer{Error: "the body is larger than 4 MiB"})
			return
		}
		writeJSON(w, http.StatusBadRequest, KnownAnswer{Error: "the body must be JSON: " + knownUsage})
		return
	}
	if len(in.Values) > KnownMaxValues {
		writeJSON(w, http.StatusRequestEntityTooLarge, KnownAnswer{Error: "at most 1000 values per call"})
		return
	}
	for _, v := range in.Values { // before the quota: a refused call costs none of it
		if v.Name != "" && !KnownName(v.Name) {
			writeJSON(w, http.StatusBadRequest, KnownAnswer{Error: "a name is an environment variable's: letters, digits and '_', not starting with a digit, at most 128"})
			return
		}
	}
	if !p.knownQuota.take(id.principal, len(in.Values), time.Now()) {
		p.metrics.knownAdded.WithLabelValues("refused").Add(float64(len(in.Values)))
		writeJSON(w, http.StatusTooManyRequests, KnownAnswer{Error: fmt.Sprintf("at most %d values per principal per hour", KnownPerHour)})
		return
	}
	var out KnownAnswer
	for _, v := range in.Values {
		ok, err := p.registerKnown(r.Context(), id.principal, v)
		switch {
		case err != nil:
			p.metrics.vaultErrors.Inc()
			p.log.Error("known-values API: the vault failed", "principal", id.principal, "registered", out.Registered, "err", err)
			out.Error = "the vault did not answer: some values were not registered"
			writeJSON(w, http.StatusServiceUnavailable, out)
			return
		case ok:
			out.Registered++
			p.metrics.knownAdded.WithLabelValues("registered").Inc()
		default:
			out.Skipped++
			p.metrics.knownAdded.WithLabelValues("skipped").Inc()
		}
	}
	p.log.Info("known values registered", "principal", id.principal, "client", r.RemoteAddr,
		"registered", out.Registered, "skipped", out.Skipped)
	writeJSON(w, http.StatusOK, out)
}

// registerKnown tokenizes one value and adds it to the known-value set. It
// reports false for a value it skips.
func (p *Proxy) registerKnown(ctx context.Context, principal string, v KnownValue) (bool, error) {
	if len(v.Value) < KnownMinLen || len(v.Value) > KnownMaxLen || strings.TrimSpace(v.Value) == "" {
		return false, nil
	}
	value := []byte(v.Value)
	defer clear(value)
	if tokenize.Contains(value) {
		return false, nil // a token stands for a value already held
	}
	class, rule := KnownClass, KnownRuleID
	if v.Name != "" {
		rule = "env:" + v.Name
	}
	// A rule that recognises the value by its own shape (not by the variable's
	// name) gives its class and rule: the whole value, surrounding space aside.
	lead := len(value) - len(bytes.TrimLeft(value, " \t\r\n"))
	trail := len(bytes.TrimRight(value, " \t\r\n"))
	for _, f := range p.detector.Scan(value) {
		if f.Start == lead && f.End == trail {
			class, rule = f.Class, f.RuleID
			break
		}
	}
	vctx, cancel := context.WithTimeout(ctx, VaultCallTimeout)
	tok, err := p.vaultTokenize(vctx, value, class, rule, principal)
	cancel()
	if err != nil {
		return false, err
	}
	if t, ok := tokenize.Parse(tok); ok {
		class = t.Class // the class the vault holds wins
	}
	p.known.Add(value, class, KnownRuleID)
	return true, nil
}

// knownQuota counts the values each principal sent to the known-values API in the
// current hour. Its zero value is ready; it is safe for concurrent use.
type knownQuota struct {
	mu    sync.Mutex
	hour  int64
	spent map[string]int
}

// take spends n values of principal's quota for the hour of now, or reports false
// (spending nothing) when that would pass KnownPerHour.
func (q *knownQuota) take(principal string, n int, now time.Time) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if h := now.Unix() / 3600; h != q.hour || q.spent == nil {
		q.hour, q.spent = h, map[string]int{}
	}
	if q.spent[principal]+n > KnownPerHour {
		return false
	}
	q.spent[principal] += n
	return true
}
