package resolver

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cloakroom/cloakroom/internal/testutil"
)

// recorder keeps what a Resolver reports.
type recorder struct {
	mu        sync.Mutex
	events    []Event
	announced chan Approval
}

func newRecorder() *recorder { return &recorder{announced: make(chan Approval, 16)} }

func (rec *recorder) onEvent(e Event) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.events = append(rec.events, e)
}

// take returns the events so far and forgets them.
func (rec *recorder) take() []Event {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	ev := rec.events
	rec.events = nil
	return ev
}

// kinds returns the kinds of the events so far and forgets them.
func (rec *recorder) kinds() []EventKind {
	var ks []EventKind
	for _, e := range rec.take() {
		ks = append(ks, e.Kind)
	}
	return ks
}

// nextAnnounced returns the next announced approval, failing after 5 s.
func (rec *recorder) nextAnnounced(t *testing.T) Approval {
	t.Helper()
	select {
	case a := <-rec.announced:
		return a
	case <-time.After(5 * time.Second):
		t.Fatal("no approval announced")
		return Approval{}
	}
}

func constPolicy(d Decision, err error) Policy {
	return PolicyFunc(func(context.Context, Request) (Decision, error) { return d, err })
}

// errEval is the error of a policy that fails to evaluate.
var errEval = errors.New("eval: undefined")

var needsApproval = constPolicy(Decision{Effect: Approve, Reason: "egress needs approval", Policy: "v1"}, nil)

// newTestResolver returns a Resolver on st with the clock and a recorder. Held
// requests do not poll: only Watch wakes them.
func newTestResolver(t *testing.T, p Policy, st ApprovalStore, hold time.Duration, clk *clock) (*Resolver, *recorder) {
	t.Helper()
	rec := newRecorder()
	r, err := NewResolver(ResolverConfig{
		Policy: p, Approvals: st, Hold: hold, Now: clk.Now,
		OnEvent: rec.onEvent, Announce: func(a Approval) { rec.announced <- a },
		OnError: func(err error) {
			if !errors.Is(err, errEval) { // a failing policy is reported, as it should be
				t.Errorf("background error: %v", err)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	r.poll = time.Hour
	t.Cleanup(func() { _ = r.Close() })
	return r, rec
}

func egressRequest(principal, host string) Request {
	return Request{
		Principal: principal, Client: "127.0.0.1:5555", Direction: Egress,
		Host: host, Method: "GET", Path: "/user",
		Token: TokenInfo{ID: "tok1", Token: "cloak_github_tok1", Class: "github", Rule: "github-pat", Submitters: []string{"alice"}},
	}
}

func TestResolveDecisions(t *testing.T) {
	clk := newClock()
	tests := []struct {
		name       string
		policy     Policy
		noStore    bool
		want       Effect
		wantReason string
	}{
		{name: "allow", policy: constPolicy(Decision{Effect: Allow, Reason: "ok"}, nil), want: Allow, wantReason: "ok"},
		{name: "deny", policy: constPolicy(Decision{Effect: Deny, Reason: "no rule"}, nil), want: Deny, wantReason: "no rule"},
		{name: "policy error fails closed", policy: constPolicy(Decision{Effect: Allow}, errEval), want: Deny, wantReason: "policy failed"},
		{name: "unknown effect fails closed", policy: constPolicy(Decision{Effect: Effect(7), Reason: "odd"}, nil), want: Deny, wantReason: "odd"},
		{name: "approve without approvals", policy: needsApproval, noStore: true, want: Deny, wantReason: "approvals are not configured"},
		{name: "allow without approvals", policy: constPolicy(Decision{Effect: Allow, Reason: "ok"}, nil), noStore: true, want: Allow, wantReason: "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var st ApprovalStore
			if !tt.noStore {
				st = boltKind().open(t, clk)
			}
			r, rec := newTestResolver(t, tt.policy, st, 0, clk)
			out, err := r.Resolve(context.Background(), egressRequest("alice", "api.github.com"))
			if err != nil {
				t.Fatal(err)
			}
			if out.Decision.Effect != tt.want || !strings.Contains(out.Decision.Reason, tt.wantReason) || out.Approval != nil {
				t.Errorf("got %v %q approval %v, want %v with reason containing %q", out.Decision.Effect, out.Decision.Reason, out.Approval, tt.want, tt.wantReason)
			}
			ev := rec.take()
			if len(ev) != 1 || ev[0].Kind != EventKind(tt.want.String()) || ev[0].Decision != out.Decision || ev[0].Request.Principal != "alice" {
				t.Errorf("got events %+v, want one %s event", ev, tt.want)
			}
		})
	}
}

// Without a hold, approve answers at once with the pending approval; asking again
// finds the same one, and only its creation is announced.
func TestResolvePending(t *testing.T) {
	clk := newClock()
	st := boltKind().open(t, clk)
	r, rec := newTestResolver(t, needsApproval, st, 0, clk)
	ctx := context.Background()
	out, err := r.Resolve(ctx, egressRequest("alice", "api.github.com"))
	if err != nil {
		t.Fatal(err)
	}
	a := out.Approval
	if out.Decision.Effect != Approve || a == nil || !idPattern.MatchString(a.ID) || a.Status != Pending {
		t.Fatalf("got %+v, want approve with a pending approval", out)
	}
	want := Approval{
		ID: a.ID, Token: "cloak_github_tok1", TokenID: "tok1", Class: "github", Rule: "github-pat",
		Principal: "alice", Client: "127.0.0.1:5555", Direction: Egress, Host: "api.github.com", Method: "GET", Path: "/user",
		Description: "GET api.github.com/user with cloak_github_tok1 (egress)", Reason: "egress needs approval", Policy: "v1",
		Status: Pending, Created: clk.Now(), Expires: clk.Now().Add(DefaultApprovalTTL),
	}
	if *a != want {
		t.Errorf("got %+v, want %+v", *a, want)
	}
	if ann := rec.nextAnnounced(t); ann.ID != a.ID {
		t.Errorf("announced %s, want %s", ann.ID, a.ID)
	}
	if ev := rec.take(); len(ev) != 1 || ev[0].Kind != EventApprovalRequested || ev[0].Approval == nil || ev[0].Approval.ID != a.ID {
		t.Errorf("got events %+v, want one approval_requested", ev)
	}

	req := egressRequest("alice", "api.github.com")
	req.Description = "GET https://api.github.com/user with cloak_github_tok1 in the header Authorization"
	again, err := r.Resolve(ctx, req)
	if err != nil || again.Decision.Effect != Approve || again.Approval == nil || again.Approval.ID != a.ID {
		t.Errorf("again: got %+v, %v; want the same pending approval", again, err)
	}
	if ev := rec.take(); len(ev) != 0 || len(rec.announced) != 0 {
		t.Errorf("again: got events %+v and %d announcements, want none", ev, len(rec.announced))
	}

	req.Principal = "bob"
	other, _ := r.Resolve(ctx, req)
	if other.Approval == nil || other.Approval.ID == a.ID || other.Approval.Description != req.Description {
		t.Errorf("another principal: got %+v, want a new approval with the request's description", other.Approval)
	}
}

// A one-shot grant allows one request, only for its principal and host; the
// policy sees it among the request's grants.
func TestResolveOneShotGrant(t *testing.T) {
	clk := newClock()
	st := boltKind().open(t, clk)
	var mu sync.Mutex
	var seen []Grant
	policy := PolicyFunc(func(_ context.Context, req Request) (Decision, error) {
		mu.Lock()
		seen = req.Grants
		mu.Unlock()
		return Decision{Effect: Approve, Reason: "needs approval", Policy: "v1"}, nil
	})
	r, rec := newTestResolver(t, policy, st, 0, clk)
	ctx := context.Background()
	out, _ := r.Resolve(ctx, egressRequest("alice", "api.github.com"))
	id := out.Approval.ID
	rec.take()

	a, err := r.Decide(ctx, id, true, 0, "bob", "once is fine")
	if err != nil || a.Status != Granted {
		t.Fatalf("Decide: got %s, %v; want granted", a.Status, err)
	}
	ev := rec.take()
	if len(ev) != 1 || ev[0].Kind != EventGranted || ev[0].Decision.Effect != Allow || ev[0].Decision.Reason != "granted once by bob: once is fine" ||
		ev[0].Request.Principal != "alice" || ev[0].Request.Token.ID != "tok1" {
		t.Errorf("got events %+v, want one granted", ev)
	}

	for _, req := range []Request{egressRequest("bob", "api.github.com"), egressRequest("alice", "evil.example.com")} {
		out, err := r.Resolve(ctx, req)
		if err != nil || out.Decision.Effect != Approve || out.Approval == nil || out.Approval.ID == id {
			t.Errorf("%s to %s: got %+v, %v; want a new pending approval", req.Principal, req.Host, out, err)
		}
	}
	rec.take()

	out, err = r.Resolve(ctx, egressRequest("alice", "api.github.com"))
	if err != nil || out.Decision.Effect != Allow || out.Decision.Reason != "granted by approval "+id {
		t.Fatalf("got %+v, %v; want allowed by %s", out.Decision, err, id)
	}
	mu.Lock()
	if len(seen) != 1 || seen[0].ID != id || !seen[0].Once {
		t.Errorf("policy saw grants %+v, want the one-shot grant %s", seen, id)
	}
	mu.Unlock()
	if k := rec.kinds(); !slices.Equal(k, []EventKind{EventGrantUsed}) {
		t.Errorf("got events %v, want [grant_used]", k)
	}

	out, err = r.Resolve(ctx, egressRequest("alice", "api.github.com"))
	if err != nil || out.Decision.Effect != Approve || out.Approval == nil || out.Approval.ID == id {
		t.Errorf("after use: got %+v, %v; want a new pending approval", out, err)
	}
	if _, err := r.Decide(ctx, id, true, 0, "bob", ""); !errors.Is(err, ErrNotPending) {
		t.Errorf("decide again: got %v, want ErrNotPending", err)
	}
	if _, err := r.Decide(ctx, out.Approval.ID, true, 0, "", ""); err == nil {
		t.Error("decide without an approver: got nil error, want one")
	}
}

func TestResolveTimeBoundGrant(t *testing.T) {
	clk := newClock()
	st := boltKind().open(t, clk)
	r, rec := newTestResolver(t, needsApproval, st, 0, clk)
	ctx := context.Background()
	out, _ := r.Resolve(ctx, egressRequest("alice", "api.github.com"))
	if _, err := r.Decide(ctx, out.Approval.ID, true, 15*time.Minute, "bob", ""); err != nil {
		t.Fatal(err)
	}
	rec.take()
	for i := range 3 {
		if out, err := r.Resolve(ctx, egressRequest("alice", "api.github.com")); err != nil || out.Decision.Effect != Allow {
			t.Fatalf("use %d: got %+v, %v; want allow", i, out.Decision, err)
		}
	}
	if k := rec.kinds(); !slices.Equal(k, []EventKind{EventGrantUsed, EventGrantUsed, EventGrantUsed}) {
		t.Errorf("got events %v, want three grant_used", k)
	}
	clk.Add(15 * time.Minute)
	if out, _ := r.Resolve(ctx, egressRequest("alice", "api.github.com")); out.Decision.Effect != Approve {
		t.Errorf("after 15m: got %v, want approve", out.Decision.Effect)
	}
}

// replicas returns two approval stores that share their data, as two replicas see
// it: one bolt store in-process, or two clients of one Redis.
type replicaKind struct {
	name string
	open func(t *testing.T, clk *clock) (a, b ApprovalStore)
}

func replicaKinds() []replicaKind {
	return []replicaKind{
		{name: "bolt", open: func(t *testing.T, clk *clock) (ApprovalStore, ApprovalStore) {
			s := boltKind().open(t, clk)
			return s, s
		}},
		{name: "redis", open: func(t *testing.T, clk *clock) (ApprovalStore, ApprovalStore) {
			c1, prefix := testutil.Redis(t)
			c2 := redis.NewClient(&redis.Options{Addr: c1.Options().Addr})
			t.Cleanup(func() { _ = c2.Close() })
			a, b := NewRedisApprovals(c1, prefix), NewRedisApprovals(c2, prefix)
			a.Now, b.Now = clk.Now, clk.Now
			return a, b
		}},
	}
}

type resolved struct {
	out Outcome
	err error
}

// holdOn starts a Resolve on r in a goroutine.
func holdOn(ctx context.Context, r *Resolver, req Request) <-chan resolved {
	ch := make(chan resolved, 1)
	go func() {
		out, err := r.Resolve(ctx, req)
		ch <- resolved{out, err}
	}()
	return ch
}

func result(t *testing.T, ch <-chan resolved) resolved {
	t.Helper()
	select {
	case res := <-ch:
		return res
	case <-time.After(15 * time.Second):
		t.Fatal("Resolve did not return")
		return resolved{}
	}
}

// A request held on replica A proceeds the moment replica B decides its approval
// (A's held requests do not poll: only the announcement can wake them before the
// 10 s hold ends).
func TestResolveHoldWakes(t *testing.T) {
	tests := []struct {
		name       string
		grant      bool
		want       Effect
		wantReason string
		wantKinds  []EventKind
	}{
		{name: "grant", grant: true, want: Allow, wantReason: "granted by approval ", wantKinds: []EventKind{EventApprovalRequested, EventGrantUsed}},
		{name: "deny", grant: false, want: Deny, wantReason: "denied by bob: not today", wantKinds: []EventKind{EventApprovalRequested, EventDeny}},
	}
	for _, k := range replicaKinds() {
		for _, tt := range tests {
			t.Run(k.name+"/"+tt.name, func(t *testing.T) {
				clk := newClock()
				sa, sb := k.open(t, clk)
				ra, recA := newTestResolver(t, needsApproval, sa, 10*time.Second, clk)
				rb, recB := newTestResolver(t, needsApproval, sb, 0, clk)
				waitSubscribed(t, sa, 1)
				ch := holdOn(context.Background(), ra, egressRequest("alice", "api.github.com"))
				a := recA.nextAnnounced(t)
				if _, err := rb.Decide(context.Background(), a.ID, tt.grant, 0, "bob", "not today"); err != nil {
					t.Fatal(err)
				}
				res := result(t, ch)
				if res.err != nil || res.out.Decision.Effect != tt.want || !strings.HasPrefix(res.out.Decision.Reason, tt.wantReason) ||
					res.out.Approval == nil || res.out.Approval.ID != a.ID {
					t.Errorf("got %+v, %v; want %v (%q) naming %s", res.out, res.err, tt.want, tt.wantReason, a.ID)
				}
				if k := recA.kinds(); !slices.Equal(k, tt.wantKinds) {
					t.Errorf("replica A: got events %v, want %v", k, tt.wantKinds)
				}
				wantB := EventDenied
				if tt.grant {
					wantB = EventGranted
				}
				if k := recB.kinds(); !slices.Equal(k, []EventKind{wantB}) {
					t.Errorf("replica B: got events %v, want [%s]", k, wantB)
				}
			})
		}
	}
}

func TestResolveHoldTimeout(t *testing.T) {
	clk := newClock()
	st := boltKind().open(t, clk)
	r, rec := newTestResolver(t, needsApproval, st, 20*time.Millisecond, clk)
	res := result(t, holdOn(context.Background(), r, egressRequest("alice", "api.github.com")))
	if res.err != nil || res.out.Decision.Effect != Approve || res.out.Approval == nil || res.out.Approval.Status != Pending {
		t.Errorf("got %+v, %v; want approve with the pending approval", res.out, res.err)
	}
	if k := rec.kinds(); !slices.Equal(k, []EventKind{EventApprovalRequested}) {
		t.Errorf("got events %v, want [approval_requested]", k)
	}
}

func TestResolveHoldCanceled(t *testing.T) {
	clk := newClock()
	st := boltKind().open(t, clk)
	r, rec := newTestResolver(t, needsApproval, st, 10*time.Second, clk)
	ctx, cancel := context.WithCancel(context.Background())
	ch := holdOn(ctx, r, egressRequest("alice", "api.github.com"))
	rec.nextAnnounced(t)
	cancel()
	res := result(t, ch)
	if !errors.Is(res.err, context.Canceled) || res.out.Decision.Effect != Deny {
		t.Errorf("got %+v, %v; want deny with context.Canceled", res.out, res.err)
	}
	if k := rec.kinds(); !slices.Equal(k, []EventKind{EventApprovalRequested, EventDeny}) {
		t.Errorf("got events %v, want [approval_requested deny]", k)
	}
}

// Two requests held on one approval: a one-shot grant lets one through; the other
// asks again.
func TestResolveHoldOneShotRace(t *testing.T) {
	clk := newClock()
	st := boltKind().open(t, clk).(*BoltApprovals)
	r, rec := newTestResolver(t, needsApproval, st, 10*time.Second, clk)
	waitSubscribed(t, st, 1)
	ch1 := holdOn(context.Background(), r, egressRequest("alice", "api.github.com"))
	a := rec.nextAnnounced(t)
	ch2 := holdOn(context.Background(), r, egressRequest("alice", "api.github.com"))
	waitFor(t, "two held requests", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.waiters[a.ID]) == 2
	})
	if _, err := r.Decide(context.Background(), a.ID, true, 0, "bob", ""); err != nil {
		t.Fatal(err)
	}
	again := rec.nextAnnounced(t)
	if again.ID == a.ID {
		t.Fatalf("got %s announced again, want a new approval", a.ID)
	}
	if _, err := r.Decide(context.Background(), again.ID, false, 0, "bob", "one was enough"); err != nil {
		t.Fatal(err)
	}
	got := map[Effect]int{}
	for _, ch := range []<-chan resolved{ch1, ch2} {
		res := result(t, ch)
		if res.err != nil {
			t.Fatal(res.err)
		}
		got[res.out.Decision.Effect]++
	}
	if got[Allow] != 1 || got[Deny] != 1 {
		t.Errorf("got %v, want one allow and one deny", got)
	}
}

// Sweeps on two replicas expire each lapsed approval once between them.
func TestSweep(t *testing.T) {
	for _, k := range replicaKinds() {
		t.Run(k.name, func(t *testing.T) {
			clk := newClock()
			sa, sb := k.open(t, clk)
			ra, recA := newTestResolver(t, needsApproval, sa, 0, clk)
			rb, recB := newTestResolver(t, needsApproval, sb, 0, clk)
			ctx := context.Background()
			for _, p := range []string{"alice", "bob", "carol"} {
				if _, err := ra.Resolve(ctx, egressRequest(p, "api.github.com")); err != nil {
					t.Fatal(err)
				}
			}
			recA.take()
			if err := ra.Sweep(ctx); err != nil || len(recA.take()) != 0 {
				t.Fatalf("before expiry: got %v or events, want nothing", err)
			}
			clk.Add(DefaultApprovalTTL)
			var wg sync.WaitGroup
			for _, r := range []*Resolver{ra, rb} {
				wg.Go(func() {
					if err := r.Sweep(ctx); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			ev := append(recA.take(), recB.take()...)
			expired := map[string]bool{}
			for _, e := range ev {
				if e.Kind != EventExpired || e.Approval == nil || e.Decision.Effect != Deny {
					t.Errorf("got event %+v, want expired", e)
					continue
				}
				expired[e.Approval.Principal] = true
			}
			if len(ev) != 3 || len(expired) != 3 {
				t.Errorf("got %d events for %v, want one for each of 3 approvals", len(ev), expired)
			}
			if err := rb.Sweep(ctx); err != nil || len(recB.take()) != 0 {
				t.Errorf("second sweep: got %v or events, want nothing", err)
			}
			l, _ := sa.List(ctx, Expired)
			for _, a := range l {
				if a.DecidedAt.IsZero() {
					t.Errorf("%s: not marked expired", a.ID)
				}
			}
		})
	}
}

func TestRun(t *testing.T) {
	clk := newClock()
	st := boltKind().open(t, clk)
	events := make(chan Event, 4)
	r, err := NewResolver(ResolverConfig{Policy: needsApproval, Approvals: st, Now: clk.Now, OnEvent: func(e Event) { events <- e }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, _ := r.Resolve(ctx, egressRequest("alice", "api.github.com"))
	<-events // approval_requested
	clk.Add(DefaultApprovalTTL)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, time.Millisecond) }()
	select {
	case e := <-events:
		if e.Kind != EventExpired || e.Approval.ID != out.Approval.ID {
			t.Errorf("got %s for %v, want expired for %s", e.Kind, e.Approval, out.Approval.ID)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not expire the approval")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if err := r.Run(ctx, 0); err == nil {
		t.Error("Run with no interval: got nil error, want one")
	}
}

// A store that fails denies, with the error.
func TestResolveStoreFailureFailsClosed(t *testing.T) {
	clk := newClock()
	st := boltKind().open(t, clk).(*BoltApprovals)
	r, rec := newTestResolver(t, constPolicy(Decision{Effect: Allow}, nil), st, 0, clk)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := r.Resolve(context.Background(), egressRequest("alice", "api.github.com"))
	if err == nil || out.Decision.Effect != Deny {
		t.Errorf("got %+v, %v; want deny with an error", out.Decision, err)
	}
	if k := rec.kinds(); !slices.Equal(k, []EventKind{EventDeny}) {
		t.Errorf("got events %v, want [deny]", k)
	}
}

func TestNewResolverErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  ResolverConfig
	}{
		{name: "no policy", cfg: ResolverConfig{}},
		{name: "negative hold", cfg: ResolverConfig{Policy: needsApproval, Hold: -time.Second}},
		{name: "negative ttl", cfg: ResolverConfig{Policy: needsApproval, ApprovalTTL: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewResolver(tt.cfg); err == nil {
				t.Error("got nil error, want one")
			}
		})
	}
}

// waitFor polls cond until it holds, failing the test after 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// countingStore counts the grant reads of the store it wraps.
type countingStore struct {
	ApprovalStore
	mu    sync.Mutex
	reads int
}

func (c *countingStore) Grants(ctx context.Context, s Scope) ([]Grant, error) {
	c.mu.Lock()
	c.reads++
	c.mu.Unlock()
	return c.ApprovalStore.Grants(ctx, s)
}

func (c *countingStore) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.reads
	c.reads = 0
	return n
}

// reloadedPolicy says it does not read grants as version v1, but v2 decides: as after
// a reload between the two calls.
type reloadedPolicy struct{ saw [][]Grant }

var _ grantsReader = (*reloadedPolicy)(nil)

func (p *reloadedPolicy) ReadsGrants() (bool, string) { return false, "v1" }

func (p *reloadedPolicy) Decide(_ context.Context, req Request) (Decision, error) {
	p.saw = append(p.saw, req.Grants)
	return Decision{Effect: Allow, Reason: "ok", Policy: "v2"}, nil
}

// The grants are read for a policy that reads them, not for one that never does (the
// default), and again for a decision another version made.
func TestResolveReadsGrantsOnlyForPolicy(t *testing.T) {
	clk := newClock()
	st := &countingStore{ApprovalStore: boltKind().open(t, clk)}
	e := defaultRegoEngine(t)
	r, _ := newTestResolver(t, e, st, 0, clk)
	req := egressRequest("alice", "api.github.com")
	if _, err := r.Resolve(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if n := st.count(); n != 0 {
		t.Errorf("default policy: %d grant reads, want 0", n)
	}
	mustLoadRego(t, e, "p.rego", regoPolicy(`decision := {"effect": "allow", "reason": sprintf("%d grants", [count(input.grants)])}`))
	if out, err := r.Resolve(context.Background(), req); err != nil || out.Decision.Effect != Allow {
		t.Fatalf("got %+v, %v", out.Decision, err)
	}
	if n := st.count(); n != 1 {
		t.Errorf("a policy reading grants: %d grant reads, want 1", n)
	}
	p := &reloadedPolicy{}
	r2, _ := newTestResolver(t, p, st, 0, clk)
	if _, err := r2.Resolve(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if n := st.count(); n != 1 || len(p.saw) != 2 {
		t.Errorf("decided by another version: %d grant reads and %d decisions, want a read and a second decision", n, len(p.saw))
	}
}
