package proxy

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cloakroom/cloakroom/internal/audit"
	"github.com/cloakroom/cloakroom/proxy/console"
)

// testClock is a settable clock for the feed.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestFeed() (*feed, *testClock) {
	c := &testClock{t: time.Date(2026, 5, 4, 12, 0, 30, 0, time.UTC)}
	return &feed{now: c.now}, c
}

func TestFeedKeepsTheNewestRecords(t *testing.T) {
	f, _ := newTestFeed()
	for i := range feedRecords + 5 {
		f.add(audit.Record{ID: fmt.Sprint("req_", i)})
	}
	got := f.Requests()
	if len(got) != feedRecords {
		t.Fatalf("got %d records, want %d", len(got), feedRecords)
	}
	if got[0].ID != fmt.Sprint("req_", feedRecords+4) || got[len(got)-1].ID != "req_5" {
		t.Fatalf("got %s .. %s, want the newest first down to req_5", got[0].ID, got[len(got)-1].ID)
	}
	if _, _, ok := f.Request("req_4"); ok {
		t.Errorf("req_4 is still kept, want it dropped")
	}
	if rec, _, ok := f.Request("req_5"); !ok || rec.ID != "req_5" {
		t.Errorf("req_5: got %v %q, want it kept", ok, rec.ID)
	}
}

func TestFeedCopiesDetections(t *testing.T) {
	f, _ := newTestFeed()
	ds := []audit.Detection{{Rule: "aws", Class: "aws", Token: "cloak_aws_x"}}
	f.add(audit.Record{ID: "req_1", Detections: ds})
	ds[0].Rule = "changed"
	if rec, _, _ := f.Request("req_1"); rec.Detections[0].Rule != "aws" {
		t.Fatalf("got rule %q, want the feed's own copy (aws)", rec.Detections[0].Rule)
	}
}

func TestFeedRequestDecisions(t *testing.T) {
	f, _ := newTestFeed()
	f.add(audit.Record{ID: "req_1", Approval: "apr_1"})
	f.addDecision(audit.Decision{Event: "approval_requested", Request: "req_1", Approval: "apr_1"})
	f.addDecision(audit.Decision{Event: "allow", Request: "req_2"})
	f.addDecision(audit.Decision{Event: "granted", Approval: "apr_1"})
	_, decs, ok := f.Request("req_1")
	if !ok {
		t.Fatal("req_1 not found")
	}
	var events []string
	for _, d := range decs {
		events = append(events, d.Event)
		if d.Time.IsZero() {
			t.Errorf("%s without a time", d.Event)
		}
	}
	if fmt.Sprint(events) != "[approval_requested granted]" {
		t.Fatalf("got %v, want [approval_requested granted]", events)
	}
}

func TestFeedStats(t *testing.T) {
	f, clock := newTestFeed()
	rec := func(principal, decision, errClass string, rules ...string) audit.Record {
		r := audit.Record{Principal: principal, Decision: decision, Error: errClass}
		for _, rule := range rules {
			r.Detections = append(r.Detections, audit.Detection{Rule: rule})
		}
		return r
	}
	f.add(rec("alice", "forwarded", "", "aws", "github-pat"))
	f.add(rec("bob", "refused", "bad_json"))
	f.addDecision(audit.Decision{Event: "allow"})
	clock.advance(time.Minute)
	f.add(rec("alice", "forwarded", errClassUpstream, "aws"))
	f.addDecision(audit.Decision{Event: "approval_requested"})

	st := f.Stats(clock.now())
	if st.Step != time.Minute || !st.End.Equal(time.Date(2026, 5, 4, 12, 2, 0, 0, time.UTC)) {
		t.Fatalf("got step %v end %v, want 1m ending 12:02", st.Step, st.End)
	}
	tests := []struct {
		name   string
		series []console.Series
		want   map[string][2]int // the last two buckets
	}{
		{"requests", st.Requests, map[string][2]int{"forwarded": {1, 0}, "refused": {1, 0}, "upstream_error": {0, 1}}},
		{"rules", st.Rules, map[string][2]int{"aws": {1, 1}, "github-pat": {1, 0}}},
		{"principals", st.Principals, map[string][2]int{"alice": {2, 1}}},
		{"decisions", st.Decisions, map[string][2]int{"allow": {1, 0}, "approval_requested": {0, 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := map[string][2]int{}
			for _, s := range tt.series {
				if len(s.Counts) != feedBuckets {
					t.Fatalf("%s: got %d buckets, want %d", s.Name, len(s.Counts), feedBuckets)
				}
				got[s.Name] = [2]int{s.Counts[feedBuckets-2], s.Counts[feedBuckets-1]}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}

	// An hour later the old minutes have left the window, and a reused bucket
	// starts from zero.
	clock.advance(60 * time.Minute)
	f.add(rec("carol", "forwarded", ""))
	st = f.Stats(clock.now())
	if len(st.Rules) != 0 || len(st.Principals) != 0 || len(st.Decisions) != 0 {
		t.Fatalf("an hour later: got %v %v %v, want nothing but carol's request", st.Rules, st.Principals, st.Decisions)
	}
	if len(st.Requests) != 1 || st.Requests[0].Name != "forwarded" || st.Requests[0].Counts[feedBuckets-1] != 1 {
		t.Fatalf("an hour later: got %+v, want one forwarded in the last bucket", st.Requests)
	}
}

func TestFeedBoundsNames(t *testing.T) {
	f, clock := newTestFeed()
	for i := range feedKeys + 10 {
		f.add(audit.Record{Principal: fmt.Sprint("agent-", i), Detections: []audit.Detection{{Rule: "aws"}}})
	}
	st := f.Stats(clock.now())
	if len(st.Principals) != feedKeys+1 {
		t.Fatalf("got %d principals, want %d and other", len(st.Principals), feedKeys)
	}
	for _, s := range st.Principals {
		if s.Name == "other" && s.Counts[feedBuckets-1] != 10 {
			t.Fatalf("other: got %d, want 10", s.Counts[feedBuckets-1])
		}
	}
}

func TestFeedSubscribe(t *testing.T) {
	f, _ := newTestFeed()
	ch, stop := f.Subscribe()
	f.add(audit.Record{ID: "req_1"})
	f.addDecision(audit.Decision{Event: "granted", Approval: "apr_1"})
	for _, want := range []console.Event{{Kind: console.EventRequest, ID: "req_1"}, {Kind: console.EventDecision, ID: "apr_1"}} {
		if got := <-ch; got != want {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	}
	// A subscriber that does not read never holds the proxy up: events past its
	// buffer are dropped.
	for i := range feedBuffer * 3 {
		f.add(audit.Record{ID: fmt.Sprint("req_x", i)})
	}
	if len(ch) != feedBuffer {
		t.Fatalf("got %d buffered events, want %d", len(ch), feedBuffer)
	}
	stop()
	stop() // twice is harmless
	f.mu.Lock()
	n := len(f.subs)
	f.mu.Unlock()
	if n != 0 {
		t.Fatalf("got %d subscribers after stop, want 0", n)
	}
	// Subscribers are bounded.
	var stops []func()
	for range feedSubscribers {
		c, s := f.Subscribe()
		if c == nil {
			t.Fatal("a subscriber within the bound was refused")
		}
		stops = append(stops, s)
	}
	if c, _ := f.Subscribe(); c != nil {
		t.Fatalf("got a subscription past %d, want none", feedSubscribers)
	}
	for _, s := range stops {
		s()
	}
}

func TestFeedConcurrent(t *testing.T) {
	f, clock := newTestFeed()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range 200 {
				f.add(audit.Record{ID: fmt.Sprint(g, "-", i), Principal: "p", Detections: []audit.Detection{{Rule: "aws"}}})
				f.addDecision(audit.Decision{Event: "allow"})
			}
		}()
		go func() {
			defer wg.Done()
			ch, stop := f.Subscribe()
			defer stop()
			for range 50 {
				_ = f.Requests()
				_ = f.Stats(clock.now())
				select {
				case <-ch:
				default:
				}
			}
		}()
	}
	wg.Wait()
	if got := len(f.Requests()); got != 800 {
		t.Fatalf("got %d records, want 800", got)
	}
}

func BenchmarkFeedAdd(b *testing.B) {
	f, _ := newTestFeed()
	rec := audit.Record{ID: "req_1", Principal: "alice", Host: "api.anthropic.com", Decision: "forwarded",
		Detections: []audit.Detection{{Rule: "aws", Class: "aws", Token: "cloak_aws_aaaaaaaaaaaaaaaaaaaa"}}}
	b.ReportAllocs()
	b.SetBytes(1)
	for b.Loop() {
		f.add(rec)
	}
}
