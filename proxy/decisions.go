package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/cloakroom/cloakroom/internal/audit"
	"github.com/cloakroom/cloakroom/resolver"
	"github.com/cloakroom/cloakroom/tokenize"
)

// onDecision turns a resolver event into an audit record and a metric.
func (p *Proxy) onDecision(ev resolver.Event) {
	r := ev.Request
	rec := audit.Decision{
		Event:     string(ev.Kind),
		Request:   r.RequestID,
		Principal: r.Principal,
		Client:    r.Client,
		Direction: string(r.Direction),
		Host:      r.Host,
		Method:    r.Method,
		Path:      r.Path,
		Token:     r.Token.Token,
		Class:     r.Token.Class,
		Rule:      r.Token.Rule,
		Effect:    ev.Decision.Effect.String(),
		Reason:    ev.Decision.Reason,
		Policy:    ev.Decision.Policy,
	}
	if a := ev.Approval; a != nil {
		rec.Approval = a.ID
		if ev.Kind == resolver.EventGranted || ev.Kind == resolver.EventDenied {
			rec.By, rec.Reason = a.DecidedBy, a.Note
		}
		if a.Grant != nil && ev.Kind == resolver.EventGranted {
			rec.Once = a.Grant.Once
			if !a.Grant.Once {
				rec.Until = a.Grant.Expires.UTC()
			}
		}
	}
	p.metrics.decided(ev, rec.Direction, rec.Class)
	if err := p.audit.WriteDecision(rec); err != nil {
		p.log.Error("audit record lost", "event", rec.Event, "err", err)
	}
	p.feed.addDecision(rec)
}

// webhookTimeout bounds one webhook POST.
const webhookTimeout = 5 * time.Second

// newAnnouncer returns the function that announces a new approval request on the
// webhook at rawURL (nil when there is none). The POST is Slack-compatible: a JSON
// object whose "text" says what is asked and how to decide it, plus the approval
// itself under "approval" for other receivers. It never holds a value.
func (p *Proxy) newAnnouncer(rawURL string) func(resolver.Approval) {
	if rawURL == "" {
		return nil
	}
	client := &http.Client{
		Timeout:   webhookTimeout,
		Transport: &http.Transport{Proxy: nil, TLSClientConfig: nil},
	}
	return func(a resolver.Approval) {
		text := fmt.Sprintf("cloakroom: approval %s requested. %s wants %s (%s) for %s %s%s: %s. Grant once: `cloakroom approvals approve %s`; for a while: `cloakroom approvals approve --for 15m %s`; refuse: `cloakroom approvals deny %s`.",
			a.ID, a.Principal, a.Token, a.Class, a.Method, a.Host, a.Path, a.Description, a.ID, a.ID, a.ID)
		body, err := json.Marshal(map[string]any{"text": text, "approval": a})
		if err != nil {
			return
		}
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), webhookTimeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
			if err != nil {
				p.log.Warn("approval webhook failed", "approval", a.ID, "err", "bad webhook URL")
				return
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				p.log.Warn("approval webhook failed", "approval", a.ID, "err", upstreamErrorText(err))
				return
			}
			_ = resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				p.log.Warn("approval webhook refused the announcement", "approval", a.ID, "status", resp.StatusCode)
			}
		}()
	}
}

// validWebhook checks a webhook URL without ever echoing it.
func validWebhook(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("proxy: the approval webhook must be an http(s) URL (not shown: it may hold a secret)")
	}
	return nil
}

// tokenInfo is what the resolver is told about the token of a vault entry.
func tokenInfo(e tokenize.Entry) resolver.TokenInfo {
	return resolver.TokenInfo{
		ID: e.Token.ID, Token: e.Token.String(), Class: e.Class, Rule: e.Rule,
		Submitters: e.Submitters, FirstSeen: e.FirstSeen,
	}
}
