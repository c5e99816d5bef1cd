package resolver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cloakroom/cloakroom/internal/testutil"
)

// clock is a settable clock for the stores and the Resolver.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// storeKind opens fresh, empty stores of one kind.
type storeKind struct {
	name string
	open func(t *testing.T, clk *clock) ApprovalStore
}

func boltKind() storeKind {
	return storeKind{name: "bolt", open: func(t *testing.T, clk *clock) ApprovalStore {
		s, err := NewBoltApprovals(filepath.Join(t.TempDir(), "approvals.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		s.Now = clk.Now
		return s
	}}
}

var prefixSeq atomic.Int64

// redisKind opens stores on client, each under a new prefix below base.
func redisKind(name string, client redis.UniversalClient, base string) storeKind {
	return storeKind{name: name, open: func(t *testing.T, clk *clock) ApprovalStore {
		s := NewRedisApprovals(client, fmt.Sprintf("%s%d:", base, prefixSeq.Add(1)))
		s.Now = clk.Now
		return s
	}}
}

// storeKinds returns the bolt store and a Redis store on one throwaway server.
func storeKinds(t *testing.T) []storeKind {
	c, prefix := testutil.Redis(t)
	return []storeKind{boltKind(), redisKind("redis", c, prefix)}
}

func testApproval(clk *clock, token, principal, host string) Approval {
	return Approval{
		Token: "cloak_github_" + token, TokenID: token, Class: "github", Rule: "github-pat",
		Principal: principal, Client: "127.0.0.1:5555", Direction: Egress,
		Host: host, Method: "GET", Path: "/user", Description: "GET " + host + "/user",
		Reason: "egress needs approval", Policy: "v1", Expires: clk.Now().Add(time.Hour),
	}
}

var idPattern = regexp.MustCompile(`^apr_[0-9a-f]{16}$`)

// storeCase is one test of the suite every ApprovalStore passes.
type storeCase struct {
	name string
	run  func(t *testing.T, st ApprovalStore, clk *clock)
}

func TestApprovalStores(t *testing.T) {
	kinds := storeKinds(t)
	if !testing.Short() {
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: testutil.RedisCluster(t)})
		t.Cleanup(func() { _ = c.Close() })
		kinds = append(kinds, redisKind("redis-cluster", c, "cluster:"))
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			for _, tc := range storeCases {
				t.Run(tc.name, func(t *testing.T) {
					clk := newClock()
					tc.run(t, k.open(t, clk), clk)
				})
			}
		})
	}
}

var storeCases = []storeCase{
	{name: "request creates a pending approval", run: func(t *testing.T, st ApprovalStore, clk *clock) {
		ctx := context.Background()
		in := testApproval(clk, "tok1", "alice", "api.github.com")
		a, created, err := st.Request(ctx, in)
		if err != nil || !created {
			t.Fatalf("got created %v, %v; want a new approval", created, err)
		}
		if !idPattern.MatchString(a.ID) {
			t.Errorf("got id %q, want apr_ and 16 hex digits", a.ID)
		}
		want := in
		want.ID, want.Status, want.Created = a.ID, Pending, clk.Now()
		if !reflect.DeepEqual(a, want) {
			t.Errorf("got %+v, want %+v", a, want)
		}
		got, err := st.Get(ctx, a.ID)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Get: got %+v, %v; want %+v", got, err, want)
		}
	}},
	{name: "request dedupes on scope", run: func(t *testing.T, st ApprovalStore, clk *clock) {
		ctx := context.Background()
		first, _, err := st.Request(ctx, testApproval(clk, "tok1", "alice", "api.github.com"))
		if err != nil {
			t.Fatal(err)
		}
		again := testApproval(clk, "tok1", "alice", "api.github.com")
		again.Path, again.Description = "/repos", "another path, same scope"
		a, created, err := st.Request(ctx, again)
		if err != nil || created || a.ID != first.ID || a.Path != "/user" {
			t.Errorf("same scope: got %s created %v path %q, %v; want %s, not created, the first one", a.ID, created, a.Path, err, first.ID)
		}
		api := testApproval(clk, "tok1", "alice", "api.github.com")
		api.Direction = API
		seen := map[string]bool{first.ID: true}
		for _, other := range []Approval{
			testApproval(clk, "tok2", "alice", "api.github.com"),
			testApproval(clk, "tok1", "bob", "api.github.com"),
			testApproval(clk, "tok1", "alice", "uploads.github.com"),
			api,
		} {
			a, created, err := st.Request(ctx, other)
			if err != nil || !created || seen[a.ID] {
				t.Errorf("scope %+v: got %s created %v, %v; want a new approval", other.Scope(), a.ID, created, err)
			}
			seen[a.ID] = true
		}
		if l, _ := st.List(ctx, Pending); len(l) != 5 {
			t.Errorf("got %d pending, want 5", len(l))
		}
	}},
	{name: "an expired request is replaced", run: func(t *testing.T, st ApprovalStore, clk *clock) {
		ctx := context.Background()
		old, _, _ := st.Request(ctx, testApproval(clk, "tok1", "alice", "api.github.com"))
		clk.Add(time.Hour)
		if got, err := st.Get(ctx, old.ID); err != nil || got.Status != Expired || !got.DecidedAt.IsZero() {
			t.Errorf("Get after expiry: got %s decided %v, %v; want expired, not yet marked", got.Status, got.DecidedAt, err)
		}
		a, created, err := st.Request(ctx, testApproval(clk, "tok1", "alice", "api.github.com"))
		if err != nil || !created || a.ID == old.ID {
			t.Fatalf("got %s created %v, %v; want a new approval", a.ID, created, err)
		}
		l, _ := st.List(ctx, Pending)
		if len(l) != 1 || l[0].ID != a.ID {
			t.Errorf("pending: got %v, want only %s", ids(l), a.ID)
		}
	}},
	{name: "unknown ids", run: func(t *testing.T, st ApprovalStore, clk *clock) {
		ctx := context.Background()
		for _, id := range []string{"apr_0123456789abcdef", "apr_zz", "", "x"} {
			if _, err := st.Get(ctx, id); !errors.Is(err, ErrApprovalNotFound) {
				t.Errorf("Get %q: got %v, want ErrApprovalNotFound", id, err)
			}
			if _, err := st.Decide(ctx, id, true, 0, "bob", ""); !errors.Is(err, ErrApprovalNotFound) {
				t.Errorf("Decide %q: got %v, want ErrApprovalNotFound", id, err)
			}
			if _, err := st.Expire(ctx, id); !errors.Is(err, ErrApprovalNotFound) {
				t.Errorf("Expire %q: got %v, want ErrApprovalNotFound", id, err)
			}
		}
	}},
	{name: "request needs a token id", run: func(t *testing.T, st ApprovalStore, clk *clock) {
		if _, _, err := st.Request(context.Background(), testApproval(clk, "", "alice", "h")); err == nil {
			t.Error("got nil error, want one")
		}
	}},
	{name: "one-shot grant is spent once", run: func(t *testing.T, st ApprovalStore, clk *clock) {
		ctx := context.Background()
		p, _, _ := st.Request(ctx, testApproval(clk, "tok1", "alice", "api.github.com"))
		clk.Add(time.Minute)
		a, err := st.Decide(ctx, p.ID, true, 0, "bob", "looks fine")
		if err != nil {
			t.Fatal(err)
		}
		wantGrant := Grant{ID: p.ID, TokenID: "tok1", Principal: "alice", Direction: Egress, Host: "api.github.com",
			Once: true, Expires: clk.Now().Add(DefaultOnceTTL)}
		if a.Status != Granted || a.DecidedBy != "bob" || a.Note != "looks fine" || !a.DecidedAt.Equal(clk.Now()) ||
			a.Grant == nil || *a.Grant != wantGrant {
			t.Fatalf("got %+v grant %+v, want granted once by bob", a, a.Grant)
		}
		if got, _ := st.Get(ctx, p.ID); !reflect.DeepEqual(got, a) {
			t.Errorf("Get: got %+v, want %+v", got, a)
		}
		if gs, err := st.Grants(ctx, p.Scope()); err != nil || len(gs) != 1 || gs[0] != wantGrant {
			t.Errorf("Grants: got %+v, %v; want [%+v]", gs, err, wantGrant)
		}
		other := p.Scope()
		other.Principal = "bob"
		if gs, _ := st.Grants(ctx, other); len(gs) != 0 {
			t.Errorf("Grants of another scope: got %+v, want none", gs)
		}
		if _, ok, _ := st.Use(ctx, other); ok {
			t.Error("Use of another scope: got a grant, want none")
		}
		g, ok, err := st.Use(ctx, p.Scope())
		spentGrant := wantGrant
		spentGrant.Used = true // Use returns the grant as it now stands: spent
		if err != nil || !ok || g != spentGrant {
			t.Fatalf("Use: got %+v %v, %v; want %+v", g, ok, err, spentGrant)
		}
		if g, ok, err := st.Use(ctx, p.Scope()); err != nil || ok {
			t.Errorf("second Use: got %+v %v, %v; want none", g, ok, err)
		}
		if gs, _ := st.Grants(ctx, p.Scope()); len(gs) != 0 {
			t.Errorf("Grants after use: got %+v, want none", gs)
		}
		if got, _ := st.Get(ctx, p.ID); got.Grant == nil || !got.Grant.Used || got.Status != Granted {
			t.Errorf("Get after use: got %s grant %+v, want granted and used", got.Status, got.Grant)
		}
	}},
	{name: "unused one-shot grant lapses", run: func(t *testing.T, st ApprovalStore, clk *clock) {
		ctx := context.Background()
		p, _, _ := st.Request(ctx, testApproval(clk, "tok1", "alice", "api.github.com"))
		if _, err := st.Decide(ctx, p.ID, true, 0, "bob", ""); err != nil {
			t.Fatal(err)
		}
		clk.Add(DefaultOnceTTL)
		if g, ok, err := st.Use(ctx, p.Scope()); err != nil || ok {
			t.Errorf("got %+v %v, %v; want none", g, ok, err)
		}
	}},
	{name: "time-bound grant is reused until it expires", run: func(t *testing.T, st ApprovalStore, clk *clock) {
		ctx := context.Background()
		p, _, _ := st.Request(ctx, testApproval(clk, "tok1", "alice", "api.github.com"))
		a, err := st.Decide(ctx, p.ID, true, 15*time.Minute, "bob", "")
		if err != nil || a.Grant == nil || a.Grant.Once || !a.Grant.Expires.Equal(clk.Now().Add(15*time.Minute)) {
			t.Fatalf("got %+v, %v; want a 15m grant", a.Grant, err)
		}
		for i := range 3 {
			if g, ok, err := st.Use(ctx, p.Scope()); err != nil || !ok || g.ID != p.ID {
				t.Fatalf("use %d: got %+v %v, %v; want the grant", i, g, ok, err)
			}
		}
		clk.Add(15 * time.Minute)
		if g, ok, err := st.Use(ctx, p.Scope()); err != nil || ok {
			t.Errorf("after expiry: got %+v %v, %v; want none", g, ok, err)
		}
		if gs, _ := st.Grants(ctx, p.Scope()); len(gs) != 0 {
			t.Errorf("Grants after expiry: got %+v, want none", gs)
		}
	}},
	{name: "use prefers a time-bound grant", run: func(t *testing.T, st ApprovalStore, clk *clock) {
		ctx := context.Background()
		once, _, _ := st.Request(ctx, testApproval(clk, "tok1", "alice", "api.github.com"))
		if _, err := st.Decide(ctx, once.ID, true, 0, "bob", ""); err != nil {
			t.Fatal(err)
		}
		timed, created, _ := st.Request(ctx, testApproval(clk, "tok1", "alice", "api.github.com"))
		if !created {
			t.Fatal("got the granted approval back, want a new request")
		}
		if _, err := st.Decide(ctx, timed.ID, true, time.Hour, "bob", ""); err != nil {
			t.Fatal(err)
		}
		if g, ok, _ := st.Use(ctx, once.Scope()); !ok || g.ID != timed.ID {
			t.Errorf("got %+v, want the time-bound grant %s", g, timed.ID)
		}
		if gs, _ := st.Grants(ctx, once.Scope()); len(gs) != 2 {
			t.Errorf("got %d grants, want both still usable", len(gs))
		}
	}},
	{name: "deny", run: func(t *testing.T, st ApprovalStore, clk *clock) {
		ctx := context.Background()
		p, _, _ := st.Request(ctx, testApproval(clk, "tok1", "alice", "api.github.com"))
		a, err := st.Decide(ctx, p.ID, false, 0, "bob", "no")
		if err != nil || a.Status != Denied || a.Grant != nil || a.DecidedBy != "bob" || a.Note != "no" {
			t.Fatalf("got %+v, %v; want denied by bob", a, err)
		}
		if _, ok, _ := st.Use(ctx, p.Scope()); ok {
			t.Error("Use: got a grant, want none")
		}
		if _, created, _ := st.Request(ctx, testApproval(clk, "tok1", "alice", "api.github.com")); !created {
			t.Error("Request after a denial: got the denied one, want a new request")
		}
	}},
	{name: "only a pending approval can be decided", run: func(t *testing.T, st ApprovalStore, clk *clock) {
		ctx := context.Background()
		tests := []struct {
			name  string
			first func(id string) error
		}{
			{name: "granted", first: func(id string) error { _, err := st.Decide(ctx, id, true, 0, "bob", ""); return err }},
			{name: "denied", first: func(id string) error { _, err := st.Decide(ctx, id, false, 0, "bob", ""); return err }},
			{name: "expired", first: func(string) error { clk.Add(time.Hour); return nil }},
		}
		for _, tt := range tests {
			p, _, _ := st.Request(ctx, testApproval(clk, "tok-"+tt.name, "alice", "h"))
			if err := tt.first(p.ID); err != nil {
				t.Fatal(err)
			}
			before, _ := st.Get(ctx, p.ID)
			for _, grant := range []bool{true, false} {
				if _, err := st.Decide(ctx, p.ID, grant, 0, "carol", ""); !errors.Is(err, ErrNotPending) {
					t.Errorf("%s, decide %v: got %v, want ErrNotPending", tt.name, grant, err)
				}
			}
			if after, _ := st.Get(ctx, p.ID); !reflect.DeepEqual(after, before) {
				t.Errorf("%s: got %+v after failed decisions, want %+v", tt.name, after, before)
			}
		}
	}},
	{name: "expire marks once", run: func(t *testing.T, st ApprovalStore, clk *clock) {
		ctx := context.Background()
		p, _, _ := st.Request(ctx, testApproval(clk, "tok1", "alice", "api.github.com"))
		if ok, err := st.Expire(ctx, p.ID); err != nil || ok {
			t.Errorf("before Expires: got %v, %v; want false", ok, err)
		}
		clk.Add(time.Hour)
		if ok, err := st.Expire(ctx, p.ID); err != nil || !ok {
			t.Errorf("after Expires: got %v, %v; want true", ok, err)
		}
		if ok, err := st.Expire(ctx, p.ID); err != nil || ok {
			t.Errorf("again: got %v, %v; want false", ok, err)
		}
		a, _ := st.Get(ctx, p.ID)
		if a.Status != Expired || !a.DecidedAt.Equal(clk.Now()) {
			t.Errorf("got %s marked at %v, want expired, marked now", a.Status, a.DecidedAt)
		}
		g, _, _ := st.Request(ctx, testApproval(clk, "tok2", "alice", "h"))
		if _, err := st.Decide(ctx, g.ID, true, 0, "bob", ""); err != nil {
			t.Fatal(err)
		}
		clk.Add(time.Hour)
		if ok, err := st.Expire(ctx, g.ID); err != nil || ok {
			t.Errorf("granted: got %v, %v; want false", ok, err)
		}
	}},
	{name: "list newest first by status", run: func(t *testing.T, st ApprovalStore, clk *clock) {
		ctx := context.Background()
		var made []string
		for _, tok := range []string{"a", "b", "c", "d"} {
			a, _, _ := st.Request(ctx, testApproval(clk, tok, "alice", "h"))
			made = append(made, a.ID)
			clk.Add(time.Second)
		}
		if _, err := st.Decide(ctx, made[1], true, 0, "bob", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Decide(ctx, made[2], false, 0, "bob", ""); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			status Status
			want   []string
		}{
			{"", []string{made[3], made[2], made[1], made[0]}},
			{Pending, []string{made[3], made[0]}},
			{Granted, []string{made[1]}},
			{Denied, []string{made[2]}},
			{Expired, nil},
		}
		for _, tt := range tests {
			l, err := st.List(ctx, tt.status)
			if err != nil || !reflect.DeepEqual(ids(l), tt.want) {
				t.Errorf("List(%q): got %v, %v; want %v", tt.status, ids(l), err, tt.want)
			}
		}
		clk.Add(time.Hour) // the pending ones lapse, without a write
		if l, _ := st.List(ctx, Expired); !reflect.DeepEqual(ids(l), []string{made[3], made[0]}) {
			t.Errorf("List(expired): got %v, want %v", ids(l), []string{made[3], made[0]})
		}
		if l, _ := st.List(ctx, Pending); len(l) != 0 {
			t.Errorf("List(pending): got %v, want none", ids(l))
		}
	}},
	{name: "retention prunes on write", run: func(t *testing.T, st ApprovalStore, clk *clock) {
		ctx := context.Background()
		denied, _, _ := st.Request(ctx, testApproval(clk, "a", "alice", "h"))
		if _, err := st.Decide(ctx, denied.ID, false, 0, "bob", ""); err != nil {
			t.Fatal(err)
		}
		long, _, _ := st.Request(ctx, testApproval(clk, "b", "alice", "h"))
		if _, err := st.Decide(ctx, long.ID, true, 10*24*time.Hour, "bob", ""); err != nil {
			t.Fatal(err)
		}
		lapsed, _, _ := st.Request(ctx, testApproval(clk, "c", "alice", "h"))
		clk.Add(DefaultRetention + 2*time.Hour)
		if _, _, err := st.Request(ctx, testApproval(clk, "d", "alice", "h")); err != nil { // a write
			t.Fatal(err)
		}
		for _, id := range []string{denied.ID, lapsed.ID} {
			if _, err := st.Get(ctx, id); !errors.Is(err, ErrApprovalNotFound) {
				t.Errorf("%s: got %v, want pruned", id, err)
			}
		}
		if g, ok, err := st.Use(ctx, long.Scope()); err != nil || !ok || g.ID != long.ID {
			t.Errorf("a grant still running: got %+v %v, %v; want it kept", g, ok, err)
		}
		if l, _ := st.List(ctx, ""); len(l) != 2 {
			t.Errorf("got %v, want the running grant and the new request", ids(l))
		}
		if _, created, _ := st.Request(ctx, testApproval(clk, "c", "alice", "h")); !created {
			t.Error("request for a pruned scope: got an old one, want a new one")
		}
	}},
	{name: "watch announces decisions and expiries", run: func(t *testing.T, st ApprovalStore, clk *clock) {
		ctx, cancel := context.WithCancel(context.Background())
		seen := make(chan string, 64)
		done := make(chan error, 1)
		go func() { done <- st.Watch(ctx, func(id string) { seen <- id }) }()
		// Subscribing takes a moment: decide probes until one is announced.
		live := false
		for i := 0; i < 100 && !live; i++ {
			p, _, _ := st.Request(ctx, testApproval(clk, fmt.Sprintf("probe%d", i), "alice", "h"))
			if _, err := st.Decide(ctx, p.ID, false, 0, "bob", ""); err != nil {
				t.Fatal(err)
			}
			select {
			case <-seen:
				live = true
			case <-time.After(50 * time.Millisecond):
			}
		}
		if !live {
			t.Fatal("no decision announced")
		}
		drain(seen)
		p, _, _ := st.Request(ctx, testApproval(clk, "tok1", "alice", "h"))
		if _, err := st.Decide(ctx, p.ID, true, 0, "bob", ""); err != nil {
			t.Fatal(err)
		}
		if got := next(t, seen); got != p.ID {
			t.Errorf("decide: got %s, want %s", got, p.ID)
		}
		e, _, _ := st.Request(ctx, testApproval(clk, "tok2", "alice", "h"))
		clk.Add(time.Hour)
		if _, err := st.Expire(ctx, e.ID); err != nil {
			t.Fatal(err)
		}
		if got := next(t, seen); got != e.ID {
			t.Errorf("expire: got %s, want %s", got, e.ID)
		}
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Watch returned %v, want context.Canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Watch did not return after cancel")
		}
	}},
	{name: "concurrent use spends a one-shot grant once", run: func(t *testing.T, st ApprovalStore, clk *clock) {
		for round := range 5 {
			p, _, _ := st.Request(context.Background(), testApproval(clk, "tok1", "alice", "h"))
			if _, err := st.Decide(context.Background(), p.ID, true, 0, "bob", ""); err != nil {
				t.Fatal(err)
			}
			if got := raceUse(t, []ApprovalStore{st}, p.Scope(), 32); got != 1 {
				t.Errorf("round %d: got %d winners, want 1", round, got)
			}
		}
	}},
	{name: "concurrent requests create one approval", run: func(t *testing.T, st ApprovalStore, clk *clock) {
		var wg sync.WaitGroup
		var created atomic.Int32
		idc := make(chan string, 16)
		for range 16 {
			wg.Go(func() {
				a, c, err := st.Request(context.Background(), testApproval(clk, "tok1", "alice", "h"))
				if err != nil {
					t.Error(err)
					return
				}
				if c {
					created.Add(1)
				}
				idc <- a.ID
			})
		}
		wg.Wait()
		close(idc)
		distinct := map[string]bool{}
		for id := range idc {
			distinct[id] = true
		}
		if created.Load() != 1 || len(distinct) != 1 {
			t.Errorf("got %d created, %d distinct ids; want 1 and 1", created.Load(), len(distinct))
		}
	}},
	{name: "concurrent expire marks once", run: func(t *testing.T, st ApprovalStore, clk *clock) {
		p, _, _ := st.Request(context.Background(), testApproval(clk, "tok1", "alice", "h"))
		clk.Add(time.Hour)
		var wg sync.WaitGroup
		var n atomic.Int32
		for range 16 {
			wg.Go(func() {
				ok, err := st.Expire(context.Background(), p.ID)
				if err != nil {
					t.Error(err)
				}
				if ok {
					n.Add(1)
				}
			})
		}
		wg.Wait()
		if n.Load() != 1 {
			t.Errorf("got %d callers that expired it, want 1", n.Load())
		}
	}},
}

// raceUse calls Use for sc from n goroutines spread over stores and returns how
// many got a grant.
func raceUse(t *testing.T, stores []ApprovalStore, sc Scope, n int) int {
	t.Helper()
	var wg sync.WaitGroup
	var wins atomic.Int32
	start := make(chan struct{})
	for i := range n {
		st := stores[i%len(stores)]
		wg.Go(func() {
			<-start
			_, ok, err := st.Use(context.Background(), sc)
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	return int(wins.Load())
}

// Two replicas (two clients) share one Redis: one of them spends a one-shot grant,
// a request made on one is found on the other, and a decision on one is announced
// on the other.
func TestRedisApprovalsReplicas(t *testing.T) {
	ctx := context.Background()
	c1, prefix := testutil.Redis(t)
	c2 := redis.NewClient(&redis.Options{Addr: c1.Options().Addr})
	t.Cleanup(func() { _ = c2.Close() })
	clk := newClock()
	a, b := NewRedisApprovals(c1, prefix), NewRedisApprovals(c2, prefix)
	a.Now, b.Now = clk.Now, clk.Now

	p, _, err := a.Request(ctx, testApproval(clk, "tok1", "alice", "h"))
	if err != nil {
		t.Fatal(err)
	}
	if got, created, _ := b.Request(ctx, testApproval(clk, "tok1", "alice", "h")); created || got.ID != p.ID {
		t.Fatalf("other replica: got %s created %v, want %s", got.ID, created, p.ID)
	}

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	seen := make(chan string, 8)
	go func() { _ = a.Watch(wctx, func(id string) { seen <- id }) }()
	waitSubscribed(t, a, 1)
	if _, err := b.Decide(ctx, p.ID, true, 0, "bob", ""); err != nil {
		t.Fatal(err)
	}
	if got := next(t, seen); got != p.ID {
		t.Errorf("announced %s, want %s", got, p.ID)
	}
	for round := range 5 {
		if round > 0 {
			p, _, _ = a.Request(ctx, testApproval(clk, "tok1", "alice", "h"))
			if _, err := b.Decide(ctx, p.ID, true, 0, "bob", ""); err != nil {
				t.Fatal(err)
			}
		}
		if got := raceUse(t, []ApprovalStore{a, b}, p.Scope(), 32); got != 1 {
			t.Errorf("round %d: got %d winners over two replicas, want 1", round, got)
		}
	}
}

func TestBoltApprovalsFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "approvals.db")
	s, err := NewBoltApprovals(path)
	if err != nil {
		t.Fatal(err)
	}
	clk := newClock()
	s.Now = clk.Now
	p, _, err := s.Request(ctx, testApproval(clk, "tok1", "alice", "h"))
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("got mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Watch(ctx, func(string) {}) }()
	waitSubscribed(t, s, 1)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Error("Watch returned nil after Close, want an error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return after Close")
	}
	s, err = NewBoltApprovals(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Now = clk.Now
	if got, err := s.Get(ctx, p.ID); err != nil || got.Status != Pending {
		t.Errorf("after reopening: got %s, %v; want the pending approval", got.Status, err)
	}
}

// waitSubscribed waits until st has at least n Watch subscriptions in place.
func waitSubscribed(t *testing.T, st ApprovalStore, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var got int
		switch s := st.(type) {
		case *BoltApprovals:
			got = s.subscribers()
		case *RedisApprovals:
			m, err := s.client.PubSubNumSub(context.Background(), s.channel).Result()
			if err != nil {
				t.Fatal(err)
			}
			got = int(m[s.channel])
		default:
			t.Fatalf("unknown store %T", st)
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d subscriptions, want %d", got, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// next returns the next id from ch, failing the test after 5 s.
func next(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case id := <-ch:
		return id
	case <-time.After(5 * time.Second):
		t.Fatal("nothing announced")
		return ""
	}
}

func drain(ch <-chan string) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

func ids(as []Approval) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.ID)
	}
	return out
}
