package resolver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// EventKind names what happened in an Event.
type EventKind string

// Event kinds, as audit records and metrics spell them.
const (
	// EventAllow: the policy allowed a request.
	EventAllow EventKind = "allow"
	// EventDeny: a request was denied (by the policy, by an approver, by an expired
	// approval, or because something failed: cloakroom fails closed).
	EventDeny EventKind = "deny"
	// EventApprovalRequested: a request created a new approval.
	EventApprovalRequested EventKind = "approval_requested"
	// EventGranted and EventDenied: an approver decided an approval (on the replica
	// that took the decision).
	EventGranted EventKind = "granted"
	EventDenied  EventKind = "denied"
	// EventExpired: a pending approval lapsed (on the replica whose Sweep marked it).
	EventExpired EventKind = "expired"
	// EventGrantUsed: a request was allowed by a grant (a one-shot grant is spent).
	EventGrantUsed EventKind = "grant_used"
)

// Event is one decision or approval change, for audit records and metrics. It never
// holds a value: Request and Approval name tokens only.
type Event struct {
	Kind EventKind
	// Request is the request decided; for granted, denied and expired, the request
	// the approval was made for (without its grants).
	Request  Request
	Decision Decision
	// Approval is the approval concerned, if any.
	Approval *Approval
}

// Outcome is Resolve's answer.
type Outcome struct {
	Decision Decision
	// Approval is the pending approval when Decision.Effect is Approve; the approval
	// that decided otherwise when there is one (a grant used, a denial).
	Approval *Approval
}

// ResolverConfig configures a Resolver.
type ResolverConfig struct {
	// Policy decides every request. Required.
	Policy Policy
	// Approvals keeps approvals and grants. Nil turns approvals off: a decision to
	// approve is a deny with the reason "approvals are not configured".
	Approvals ApprovalStore
	// Hold is how long Resolve waits for the decision on a new or pending approval.
	// Zero answers at once (Approve, with the pending approval).
	Hold time.Duration
	// ApprovalTTL is how long an approval stays pending; zero means
	// DefaultApprovalTTL.
	ApprovalTTL time.Duration
	// OnEvent, if set, is called once for every Event, in the goroutine of the call
	// that caused it (Resolve, Decide, Sweep). It must not block for long.
	OnEvent func(Event)
	// Announce, if set, is called once per newly created approval (for the webhook),
	// in the goroutine of Resolve, before it waits: it should hand slow work to a
	// goroutine of its own.
	Announce func(Approval)
	// OnError, if set, is called with errors of background work: a Sweep run by
	// Run, the Watch subscription of held requests. Nil drops them.
	OnError func(error)
	// Now returns the current time (the Expires of new approvals); nil means
	// time.Now.
	Now func() time.Time
}

// Timings of the wait for a decision.
const (
	// holdPoll is how often a held request reads its approval again, in case an
	// announcement was lost (the subscription was down or not yet in place).
	holdPoll = 2 * time.Second
	// watchRetry is the pause before subscribing again after Watch failed.
	watchRetry = time.Second
)

// Resolver ties policy, grants, approvals and waiting together. When Hold and
// Approvals are set, NewResolver starts one Watch subscription that wakes every
// held request of this Resolver when its approval is decided, on any replica;
// Close ends it. It is safe for concurrent use.
type Resolver struct {
	cfg  ResolverConfig
	poll time.Duration

	mu      sync.Mutex
	waiters map[string]map[chan struct{}]struct{} // approval id -> held requests

	stop context.CancelFunc
	done chan struct{} // closed when the watch goroutine ends
}

// NewResolver checks cfg and returns a Resolver. Call Close when done with it.
func NewResolver(cfg ResolverConfig) (*Resolver, error) {
	var errs []error
	if cfg.Policy == nil {
		errs = append(errs, errors.New("no policy"))
	}
	if cfg.Hold < 0 {
		errs = append(errs, errors.New("negative hold"))
	}
	if cfg.ApprovalTTL < 0 {
		errs = append(errs, errors.New("negative approval lifetime"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("resolver: %w", err)
	}
	cfg.ApprovalTTL = cmp.Or(cfg.ApprovalTTL, DefaultApprovalTTL)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &Resolver{cfg: cfg, poll: holdPoll, waiters: map[string]map[chan struct{}]struct{}{}}
	if cfg.Hold > 0 && cfg.Approvals != nil {
		ctx, stop := context.WithCancel(context.Background())
		r.stop, r.done = stop, make(chan struct{})
		go r.watch(ctx)
	}
	return r, nil
}

// Close ends the Watch subscription, if any, and waits for it. It does not close
// the approvals store.
func (r *Resolver) Close() error {
	if r.stop != nil {
		r.stop()
		<-r.done
	}
	return nil
}

// Resolve decides req: it fills req.Grants from the approvals store (unless the
// policy tells it never reads them: Engine.ReadsGrants) and asks the policy. Allow
// and deny are final. Approve uses a grant for the request's scope (token,
// principal, direction, host) when there is one (a one-shot grant is spent) and
// allows; otherwise it requests an approval (or finds the pending one) and,
// with Hold set, waits up to Hold for its decision: a grant allows, a denial or an
// expiry denies, and no decision in time answers Approve with the approval.
//
// Resolve fails closed: a policy error is a Deny (with a nil error); a store
// failure or the end of ctx is a Deny together with the error.
func (r *Resolver) Resolve(ctx context.Context, req Request) (Outcome, error) {
	// A policy that tells it never reads input.grants is not given them: a store
	// read (a round trip on Redis) saved per decision.
	withGrants, version := true, ""
	if p, ok := r.cfg.Policy.(grantsReader); ok {
		withGrants, version = p.ReadsGrants()
	}
	if withGrants {
		if err := r.fillGrants(ctx, &req); err != nil {
			return r.fail(req, Decision{}, "the approvals store failed", err)
		}
	}
	d, err := r.cfg.Policy.Decide(ctx, req)
	if !withGrants && d.Policy != version && r.cfg.Approvals != nil {
		// Another version decided (a reload in between), which may read them.
		if err := r.fillGrants(ctx, &req); err != nil {
			return r.fail(req, Decision{}, "the approvals store failed", err)
		}
		d, err = r.cfg.Policy.Decide(ctx, req)
	}
	if err != nil {
		// The engine's own reason says what failed; its error text may quote the
		// input, so it goes to OnError, not into records and answers.
		r.report(fmt.Errorf("policy: %w", err))
		reason := d.Reason
		if reason == "" {
			reason = "the policy failed"
		}
		d = Decision{Effect: Deny, Reason: reason, Policy: d.Policy}
		return r.answer(EventDeny, req, d, nil), nil
	}
	switch d.Effect {
	case Allow:
		return r.answer(EventAllow, req, d, nil), nil
	case Approve:
		return r.approve(ctx, req, d)
	default:
		d.Effect = Deny // an unknown effect fails closed
		return r.answer(EventDeny, req, d, nil), nil
	}
}

// grantsReader is a Policy that tells whether it reads input.grants, and the version
// its answer is for (Engine).
type grantsReader interface {
	ReadsGrants() (reads bool, version string)
}

// fillGrants reads the usable grants for req's scope into req, when approvals are on.
func (r *Resolver) fillGrants(ctx context.Context, req *Request) error {
	st := r.cfg.Approvals
	if st == nil {
		return nil
	}
	gs, err := st.Grants(ctx, scopeOf(*req))
	if err != nil {
		return fmt.Errorf("read grants: %w", err)
	}
	req.Grants = gs
	return nil
}

// approve handles a decision to approve.
func (r *Resolver) approve(ctx context.Context, req Request, d Decision) (Outcome, error) {
	st := r.cfg.Approvals
	if st == nil {
		return r.answer(EventDeny, req, Decision{Effect: Deny, Reason: "approvals are not configured", Policy: d.Policy}, nil), nil
	}
	var hold <-chan time.Time
	if r.cfg.Hold > 0 {
		t := time.NewTimer(r.cfg.Hold)
		defer t.Stop()
		hold = t.C
	}
	var waited *Approval // the approval this call saw granted, if any
	for {
		g, ok, err := st.Use(ctx, scopeOf(req))
		if err != nil {
			return r.fail(req, d, "the approvals store failed", fmt.Errorf("use grant: %w", err))
		}
		if ok {
			var a *Approval
			if waited != nil && waited.ID == g.ID {
				a = waited
			}
			return r.answer(EventGrantUsed, req, Decision{Effect: Allow, Reason: "granted by approval " + g.ID, Policy: d.Policy}, a), nil
		}
		a, created, err := st.Request(ctx, r.approvalFor(req, d))
		if err != nil {
			return r.fail(req, d, "the approvals store failed", fmt.Errorf("request approval: %w", err))
		}
		if created {
			r.emit(Event{Kind: EventApprovalRequested, Request: req, Decision: d, Approval: &a})
			if r.cfg.Announce != nil {
				r.cfg.Announce(a)
			}
		}
		if hold == nil {
			return Outcome{Decision: d, Approval: &a}, nil
		}
		if a, err = r.wait(ctx, a.ID, hold); err != nil {
			return r.fail(req, d, "gave up waiting for approval "+a.ID, err)
		}
		switch a.Status {
		case Pending: // the hold is over
			return Outcome{Decision: d, Approval: &a}, nil
		case Denied:
			return r.answer(EventDeny, req, Decision{Effect: Deny, Reason: decisionReason(a), Policy: d.Policy}, &a), nil
		case Expired:
			return r.answer(EventDeny, req, Decision{Effect: Deny, Reason: "approval " + a.ID + " expired without a decision", Policy: d.Policy}, &a), nil
		}
		// Granted: use it. Another request may spend a one-shot grant first; then
		// this one asks again and waits for the rest of the hold.
		waited = &a
	}
}

// wait reads approval id until it is no longer pending, or hold fires (then it
// returns the approval still pending), waking on Watch announcements and every
// r.poll.
func (r *Resolver) wait(ctx context.Context, id string, hold <-chan time.Time) (Approval, error) {
	ch := make(chan struct{}, 1)
	r.mu.Lock()
	if r.waiters[id] == nil {
		r.waiters[id] = map[chan struct{}]struct{}{}
	}
	r.waiters[id][ch] = struct{}{}
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.waiters[id], ch)
		if len(r.waiters[id]) == 0 {
			delete(r.waiters, id)
		}
		r.mu.Unlock()
	}()
	poll := time.NewTicker(r.poll)
	defer poll.Stop()
	for {
		// Read after registering, so a decision announced from now on wakes us.
		a, err := r.cfg.Approvals.Get(ctx, id)
		if err != nil {
			return Approval{ID: id}, err
		}
		if a.Status != Pending {
			return a, nil
		}
		select {
		case <-ch:
		case <-poll.C:
		case <-hold:
			return a, nil
		case <-ctx.Done():
			return a, ctx.Err()
		}
	}
}

// wake wakes the requests held on approval id.
func (r *Resolver) wake(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for ch := range r.waiters[id] {
		select {
		case ch <- struct{}{}:
		default: // already woken
		}
	}
}

// watch keeps the Watch subscription up until ctx ends.
func (r *Resolver) watch(ctx context.Context) {
	defer close(r.done)
	for {
		err := r.cfg.Approvals.Watch(ctx, r.wake)
		if ctx.Err() != nil {
			return
		}
		r.report(fmt.Errorf("watch approvals: %w", cmp.Or(err, errors.New("subscription ended"))))
		select {
		case <-ctx.Done():
			return
		case <-time.After(watchRetry):
		}
	}
}

// Decide grants (once when dur is 0, else for dur) or denies a pending approval,
// recording by (required) and note, and emits granted or denied. Requests held on
// the approval, on any replica, wake and proceed.
func (r *Resolver) Decide(ctx context.Context, id string, grant bool, dur time.Duration, by, note string) (Approval, error) {
	if r.cfg.Approvals == nil {
		return Approval{}, errors.New("decide approval: approvals are not configured")
	}
	if by == "" {
		return Approval{}, errors.New("decide approval: no approver named")
	}
	a, err := r.cfg.Approvals.Decide(ctx, id, grant, dur, by, note)
	if err != nil {
		return Approval{}, err
	}
	kind, effect := EventDenied, Deny
	if a.Status == Granted {
		kind, effect = EventGranted, Allow
	}
	r.emit(Event{Kind: kind, Request: requestOf(a), Decision: Decision{Effect: effect, Reason: decisionReason(a), Policy: a.Policy}, Approval: &a})
	return a, nil
}

// Sweep marks every pending approval past its Expires as Expired and emits expired
// for each one this call marked (with several replicas sweeping, each approval is
// marked, and announced, once).
func (r *Resolver) Sweep(ctx context.Context) error {
	st := r.cfg.Approvals
	if st == nil {
		return nil
	}
	as, err := st.List(ctx, Expired)
	if err != nil {
		return fmt.Errorf("sweep approvals: %w", err)
	}
	var errs []error
	for _, a := range as {
		if !a.DecidedAt.IsZero() {
			continue // already marked (the stores set DecidedAt when they expire one)
		}
		ok, err := st.Expire(ctx, a.ID)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			errs = append(errs, fmt.Errorf("expire approval %s: %w", a.ID, err))
			continue
		}
		if ok {
			r.emit(Event{Kind: EventExpired, Request: requestOf(a),
				Decision: Decision{Effect: Deny, Reason: "approval " + a.ID + " expired without a decision", Policy: a.Policy}, Approval: &a})
		}
	}
	return errors.Join(errs...)
}

// Run calls Sweep at once and then every interval until ctx ends (then it returns
// nil). Sweep errors go to OnError.
func (r *Resolver) Run(ctx context.Context, every time.Duration) error {
	if every <= 0 {
		return errors.New("resolver: sweep interval must be positive")
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := r.Sweep(ctx); err != nil && ctx.Err() == nil {
			r.report(err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// answer emits the final event of a Resolve and returns its outcome.
func (r *Resolver) answer(kind EventKind, req Request, d Decision, a *Approval) Outcome {
	r.emit(Event{Kind: kind, Request: req, Decision: d, Approval: a})
	return Outcome{Decision: d, Approval: a}
}

// fail denies req because of err, with a reason that holds no error text.
func (r *Resolver) fail(req Request, d Decision, reason string, err error) (Outcome, error) {
	return r.answer(EventDeny, req, Decision{Effect: Deny, Reason: reason, Policy: d.Policy}, nil), err
}

func (r *Resolver) emit(e Event) {
	if r.cfg.OnEvent != nil {
		r.cfg.OnEvent(e)
	}
}

func (r *Resolver) report(err error) {
	if r.cfg.OnError != nil {
		r.cfg.OnError(err)
	}
}

// maxApprovalText bounds the path and description an approval stores.
const maxApprovalText = 1024

// approvalFor returns the approval to request for req.
func (r *Resolver) approvalFor(req Request, d Decision) Approval {
	desc := req.Description
	if desc == "" {
		what := req.Token.Token
		if what == "" {
			what = "a " + req.Token.Class + " token"
		}
		desc = fmt.Sprintf("%s %s%s with %s (%s)", cmp.Or(req.Method, "-"), req.Host, req.Path, what, req.Direction)
	}
	return Approval{
		Token: req.Token.Token, TokenID: req.Token.ID, Class: req.Token.Class, Rule: req.Token.Rule,
		Principal: req.Principal, Client: req.Client,
		Direction: req.Direction, Host: req.Host, Method: req.Method, Path: clipText(req.Path),
		Description: clipText(desc), Reason: d.Reason, Policy: d.Policy,
		Expires: r.cfg.Now().Add(r.cfg.ApprovalTTL),
	}
}

// clipText cuts s to maxApprovalText bytes, keeping it valid UTF-8.
func clipText(s string) string {
	if len(s) <= maxApprovalText {
		return s
	}
	return strings.ToValidUTF8(s[:maxApprovalText], "")
}

// decisionReason says who decided a and how.
func decisionReason(a Approval) string {
	var s string
	switch {
	case a.Status == Denied:
		s = "denied by " + a.DecidedBy
	case a.Grant != nil && a.Grant.Once:
		s = "granted once by " + a.DecidedBy
	case a.Grant != nil:
		s = "granted by " + a.DecidedBy + " until " + a.Grant.Expires.Format(time.RFC3339)
	default:
		s = string(a.Status)
	}
	if a.Note != "" {
		s += ": " + a.Note
	}
	return s
}

// scopeOf returns the scope a grant must have to cover req.
func scopeOf(req Request) Scope {
	return Scope{TokenID: req.Token.ID, Principal: req.Principal, Direction: req.Direction, Host: req.Host}
}

// requestOf returns the request an approval was made for.
func requestOf(a Approval) Request {
	return Request{
		Principal: a.Principal, Client: a.Client, Direction: a.Direction,
		Host: a.Host, Method: a.Method, Path: a.Path, Description: a.Description,
		Token: TokenInfo{ID: a.TokenID, Token: a.Token, Class: a.Class, Rule: a.Rule},
	}
}
