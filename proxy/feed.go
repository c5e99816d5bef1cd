package proxy

import (
	"context"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/cloakroom/cloakroom/internal/audit"
	"github.com/cloakroom/cloakroom/proxy/console"
	"github.com/cloakroom/cloakroom/resolver"
)

// Feed sizes: the records kept for the console's live feed, and its statistics.
const (
	feedRecords     = 1000
	feedDecisions   = 1000
	feedBuckets     = 60 // one per feedStep: the last hour
	feedStep        = time.Minute
	feedKeys        = 64 // distinct names per bucket and dimension; the rest count as "other"
	feedSubscribers = 64
	feedBuffer      = 64 // events a slow subscriber may lag behind; later ones are dropped
)

// feed keeps what the console shows of recent traffic, in memory: the last
// feedRecords request records and feedDecisions decisions (audit records, which
// never hold a value), counts per minute over the last hour, and the live pages
// subscribed to new ones. Its zero value is ready; it is safe for concurrent use.
type feed struct {
	mu      sync.Mutex
	reqs    ring[audit.Record]
	decs    ring[audit.Decision]
	buckets [feedBuckets]feedBucket
	subs    map[chan console.Event]struct{}
	now     func() time.Time // nil: time.Now
}

// ring keeps the last items added, up to a bound.
type ring[T any] struct {
	items []T
	next  int // the oldest, once full
}

// add keeps v, dropping the oldest item when limit are kept.
func (r *ring[T]) add(v T, limit int) {
	if len(r.items) < limit {
		r.items = append(r.items, v)
		return
	}
	r.items[r.next] = v
	r.next = (r.next + 1) % len(r.items)
}

// oldestFirst returns a copy of the items, oldest first.
func (r *ring[T]) oldestFirst() []T {
	return append(slices.Clone(r.items[r.next:]), r.items[:r.next]...)
}

// feedBucket counts one minute.
type feedBucket struct {
	minute     int64 // Unix minute this bucket counts; 0: unused
	outcomes   map[string]int
	rules      map[string]int
	principals map[string]int
	events     map[string]int
}

func (f *feed) clock() time.Time {
	if f.now != nil {
		return f.now()
	}
	return time.Now()
}

// add records a finished request.
func (f *feed) add(rec audit.Record) {
	rec.Detections = slices.Clone(rec.Detections)
	now := f.clock()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs.add(rec, feedRecords)
	b := f.bucket(now)
	count(&b.outcomes, rec.Outcome(), 1)
	for _, d := range rec.Detections {
		count(&b.rules, d.Rule, 1)
	}
	if n := len(rec.Detections); n > 0 {
		count(&b.principals, rec.Principal, n)
	}
	f.publish(console.Event{Kind: console.EventRequest, ID: rec.ID})
}

// addDecision records a decision or approval event.
func (f *feed) addDecision(d audit.Decision) {
	now := f.clock()
	if d.Time.IsZero() {
		d.Time = now.UTC()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.decs.add(d, feedDecisions)
	count(&f.bucket(now).events, d.Event, 1)
	f.publish(console.Event{Kind: console.EventDecision, ID: d.Approval})
}

// count adds n to m[key], folding keys past feedKeys into "other".
func count(m *map[string]int, key string, n int) {
	if *m == nil {
		*m = make(map[string]int)
	}
	if _, ok := (*m)[key]; !ok && len(*m) >= feedKeys {
		key = "other"
	}
	(*m)[key] += n
}

// bucket returns the bucket of now's minute, emptied if it held an older one.
// f.mu is held.
func (f *feed) bucket(now time.Time) *feedBucket {
	minute := now.Unix() / int64(feedStep/time.Second)
	b := &f.buckets[minute%feedBuckets]
	if b.minute != minute {
		b.minute = minute
		clear(b.outcomes)
		clear(b.rules)
		clear(b.principals)
		clear(b.events)
	}
	return b
}

// publish tells every subscriber, dropping the event for one that lags. f.mu is held.
func (f *feed) publish(ev console.Event) {
	for ch := range f.subs {
		select {
		case ch <- ev:
		default:
		}
	}
}

// Requests implements console.Feed: the kept records, newest first.
func (f *feed) Requests() []audit.Record {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.reqs.oldestFirst()
	slices.Reverse(out)
	return out
}

// Request implements console.Feed: one kept record and the kept decisions made
// for it, oldest first.
func (f *feed) Request(id string) (audit.Record, []audit.Decision, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var rec audit.Record
	found := false
	for _, r := range f.reqs.items {
		if r.ID == id {
			rec, found = r, true
			break
		}
	}
	if !found {
		return audit.Record{}, nil, false
	}
	var decs []audit.Decision
	for _, d := range f.decs.oldestFirst() {
		if d.Request == id || (rec.Approval != "" && d.Approval == rec.Approval && d.Request == "") {
			decs = append(decs, d)
		}
	}
	return rec, decs, true
}

// Stats implements console.Feed: counts per minute for the hour up to now.
func (f *feed) Stats(now time.Time) console.Stats {
	step := int64(feedStep / time.Second)
	last := now.Unix() / step
	st := console.Stats{End: time.Unix((last+1)*step, 0).UTC(), Step: feedStep}
	dims := [4]map[string][]int{{}, {}, {}, {}}
	f.mu.Lock()
	for i := range feedBuckets {
		minute := last - feedBuckets + 1 + int64(i)
		b := &f.buckets[((minute%feedBuckets)+feedBuckets)%feedBuckets]
		if b.minute != minute {
			continue
		}
		for d, m := range [4]map[string]int{b.outcomes, b.rules, b.principals, b.events} {
			for k, n := range m {
				s := dims[d][k]
				if s == nil {
					s = make([]int, feedBuckets)
					dims[d][k] = s
				}
				s[i] += n
			}
		}
	}
	f.mu.Unlock()
	series := func(m map[string][]int) []console.Series {
		out := make([]console.Series, 0, len(m))
		for k, counts := range m {
			out = append(out, console.Series{Name: k, Counts: counts})
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
		return out
	}
	st.Requests, st.Rules, st.Principals, st.Decisions = series(dims[0]), series(dims[1]), series(dims[2]), series(dims[3])
	return st
}

// Subscribe implements console.Feed.
func (f *feed) Subscribe() (<-chan console.Event, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.subs) >= feedSubscribers {
		return nil, func() {}
	}
	if f.subs == nil {
		f.subs = make(map[chan console.Event]struct{})
	}
	ch := make(chan console.Event, feedBuffer)
	f.subs[ch] = struct{}{}
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			f.mu.Lock()
			delete(f.subs, ch)
			f.mu.Unlock()
		})
	}
}

// Captures keeps the redacted request bodies of prompt capture by request id
// (audit.Captures is one): the proxy puts each model request's body as it went
// upstream, the console reads them.
type Captures interface {
	console.Captures
	Put(id string, body []byte) error
}

// consoleApprovals gives the console the approval store's list and the
// resolver's decisions (audited, waking held requests).
type consoleApprovals struct{ p *Proxy }

func (a consoleApprovals) List(ctx context.Context, status resolver.Status) ([]resolver.Approval, error) {
	return a.p.approvals.List(ctx, status)
}

func (a consoleApprovals) Decide(ctx context.Context, id string, grant bool, dur time.Duration, by, note string) (resolver.Approval, error) {
	return a.p.resolver.Decide(ctx, id, grant, dur, by, note)
}

// consoleHandler returns the web console, mounted on the admin listener under
// console.Prefix.
func (p *Proxy) consoleHandler() http.Handler {
	cfg := console.Config{
		AdminToken: p.cfg.AdminToken,
		Feed:       &p.feed,
		Logger:     p.log,
		Setup: console.Setup{
			ListenAddr: p.cfg.ListenAddr, DataDir: p.cfg.DataDir,
			Gateway: p.cfg.gateway(), RequireAuth: p.cfg.RequireAuth,
		},
	}
	if p.approvals != nil {
		cfg.Approvals = consoleApprovals{p}
	}
	if p.captures != nil {
		cfg.Captures = p.captures
	}
	for _, a := range p.cfg.Agents {
		cfg.Setup.Agents = append(cfg.Setup.Agents, a.Name)
	}
	return console.New(cfg)
}
