package proxy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cloakroom/cloakroom/internal/testutil"
	"github.com/cloakroom/cloakroom/tokenize"
)

// Bounds of the Redis failure tests. They bound waits; nothing asserts a speed.
const (
	// outageDeadline is each request's client deadline: a request still running
	// past it hangs.
	outageDeadline = 15 * time.Second
	// outageWait bounds each wait for a state (ready again, refusals seen).
	outageWait = 15 * time.Second
)

// redisRig is a harness whose vault keeps its tokens in a throwaway redis-server
// that the test stops, restarts and pauses, with the proxy's admin endpoints served.
type redisRig struct {
	*harness
	srv    *testutil.Server
	ctl    *redis.Client // the test's own client (SAVE, CLIENT PAUSE), not the proxy's
	prefix string
	admin  *httptest.Server
	keys   *tokenize.Keys
}

func newRedisRig(t *testing.T) *redisRig {
	t.Helper()
	srv, client, prefix := testutil.RedisServer(t)
	h := newHarness(t, harnessOpts{store: tokenize.NewRedisStore(client, prefix)})
	admin := httptest.NewServer(h.p.AdminHandler(h.reg))
	t.Cleanup(admin.Close)
	keys, err := tokenize.NewKeys(testMasterKey)
	if err != nil {
		t.Fatal(err)
	}
	return &redisRig{harness: h, srv: srv, ctl: srv.Client(t), prefix: prefix, admin: admin, keys: keys}
}

// replica returns a second proxy on the same Redis and master key, with a cold
// cache: what it restores comes from Redis, not from an LRU.
func (r *redisRig) replica() *harness {
	return newHarness(r.t, harnessOpts{store: tokenize.NewRedisStore(r.srv.Client(r.t), r.prefix)})
}

// save makes Redis write its snapshot, so that a restart loads it: a Redis with
// persistence, as a deployment shared by replicas runs it.
func (r *redisRig) save() {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.ctl.Save(ctx).Err(); err != nil {
		r.t.Fatalf("redis SAVE: %v", err)
	}
}

// readyz returns the status of GET /readyz, or 0 if it did not answer in time. It
// may be called from any goroutine.
func (r *redisRig) readyz() int {
	c := &http.Client{Timeout: outageDeadline}
	resp, err := c.Get(r.admin.URL + "/readyz")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// waitReadyz polls /readyz until it answers want, failing the test after outageWait.
func (r *redisRig) waitReadyz(want int) {
	r.t.Helper()
	deadline := time.Now().Add(outageWait)
	for {
		got := r.readyz()
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("readyz: still %d after %v, want %d", got, outageWait, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// vaultErrors returns cloakroom_vault_errors_total once every request is finished.
func (r *redisRig) vaultErrors() float64 {
	r.t.Helper()
	r.drain()
	return metricValue(r.t, r.harness, "cloakroom_vault_errors_total", nil)
}

// expand replaces every token in text by the secret it stands for, among values.
func (r *redisRig) expand(text string, values ...string) string {
	byID := make(map[string]string, len(values))
	for _, v := range values {
		byID[r.keys.ID([]byte(v))] = v
	}
	var b strings.Builder
	last := 0
	for _, s := range tokenize.Find([]byte(text)) {
		b.WriteString(text[last:s.Start])
		if v, ok := byID[s.Token.ID]; ok {
			b.WriteString(v)
		} else {
			b.WriteString(text[s.Start:s.End])
		}
		last = s.End
	}
	b.WriteString(text[last:])
	return b.String()
}

// outcome is how one request through the proxy ended.
type outcome struct {
	status int
	class  string // X-Cloakroom-Error
	body   []byte
	err    error // transport error, the deadline included
	took   time.Duration
}

// send posts an Anthropic request for prompt through c, giving up after deadline.
func send(c *http.Client, deadline time.Duration, prompt string) outcome {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", anthropicURL, bytes.NewReader(anthropicBody(prompt)))
	if err != nil {
		return outcome{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return outcome{err: err, took: time.Since(start)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return outcome{status: resp.StatusCode, class: resp.Header.Get("X-Cloakroom-Error"), body: b, err: err, took: time.Since(start)}
}

// echoText returns the assistant text of a non-streaming Anthropic response, or an
// error if it is not one.
func echoText(body []byte) (string, error) {
	var m struct {
		Content []struct{ Type, Text string }
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return "", fmt.Errorf("response is not JSON: %w", err)
	}
	var text string
	for _, c := range m.Content {
		if c.Type == "text" {
			text += c.Text
		}
	}
	return text, nil
}

// checkEcho returns an error unless o is a 200 whose echoed text is want.
func checkEcho(o outcome, want string) error {
	if o.err != nil {
		return fmt.Errorf("request failed after %v: %w", o.took, o.err)
	}
	if o.status != http.StatusOK {
		return fmt.Errorf("got status %d (class %q), want 200", o.status, o.class)
	}
	got, err := echoText(o.body)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("echo differs from what was sent (%d bytes back, %d expected; tokens left: %d)", len(got), len(want), len(tokenize.Find([]byte(got))))
	}
	return nil
}

// checkVaultRefusal returns an error unless o is the fail-closed refusal of a vault
// outage: 503, class vault, in Anthropic's error format, naming cloakroom and the
// request id.
func checkVaultRefusal(o outcome) error {
	if o.err != nil {
		return fmt.Errorf("request failed after %v: %w", o.took, o.err)
	}
	if o.status != http.StatusServiceUnavailable || o.class != "vault" {
		return fmt.Errorf("got status %d (class %q), want 503 (class \"vault\")", o.status, o.class)
	}
	var shape struct {
		Type  string
		Error struct{ Type, Message string }
	}
	if err := json.Unmarshal(o.body, &shape); err != nil || shape.Type != "error" || shape.Error.Type == "" {
		return fmt.Errorf("refusal is not in Anthropic's error format: %.200s", o.body)
	}
	if !strings.Contains(shape.Error.Message, "cloakroom") || !strings.Contains(shape.Error.Message, "req_") || !strings.Contains(shape.Error.Message, "vault") {
		return fmt.Errorf("refusal message %q should name cloakroom, the vault and the request id", shape.Error.Message)
	}
	return nil
}

// tokenList returns the tokens of values, space-separated, as the vault of r minted
// them (the upstream's view).
func (r *redisRig) tokenList(values ...string) string {
	r.t.Helper()
	toks := make([]string, len(values))
	for i, v := range values {
		toks[i] = r.tokenFor(v)
	}
	return strings.Join(toks, " ")
}

// TestRedisOutage: with Redis down, a request carrying a new secret is refused (fail
// closed, 503 vault, counted), requests without secrets and restores of cached tokens
// keep working, and /readyz says so; once the same redis-server is back, the proxy
// recovers by itself and every token minted before the outage still restores, on
// this proxy and on a replica with a cold cache.
func TestRedisOutage(t *testing.T) {
	t.Parallel() // mostly waiting for the Redis client to give up
	r := newRedisRig(t)
	alice := r.client("alice")

	before := newSecrets(t)
	r.plant(before.all()...)
	if err := checkEcho(send(alice, outageDeadline, before.prompt()), before.prompt()); err != nil {
		t.Fatalf("before the outage: %v", err)
	}
	// The tokens the model holds: "restore" prompts carry them back.
	restorePrompt := "Here they are: " + r.tokenList(before.all()...) + "."
	restored := r.expand(restorePrompt, before.all()...)
	if restored == restorePrompt {
		t.Fatal("test bug: no token to restore")
	}
	if code := r.readyz(); code != http.StatusOK {
		t.Fatalf("readyz before the outage: got %d, want 200", code)
	}
	r.save()
	r.drain()
	upBefore := len(r.up.Requests())
	errsBefore := r.vaultErrors()

	fresh := newSecrets(t)
	r.plant(fresh.all()...)
	alice2, alice3, bob, carol := r.client("alice"), r.client("alice"), r.client("bob"), r.client("carol")

	r.srv.Stop() // Redis down

	{
		// Each refusal waits for the Redis client to give up, so the requests go
		// concurrently.
		var (
			wg                           sync.WaitGroup
			readyz                       int
			newSecret, plain, restore    outcome
			history, otherPrincipalKnown outcome
		)
		wg.Go(func() { readyz = r.readyz() })
		wg.Go(func() { newSecret = send(alice, outageDeadline, fresh.prompt()) })
		wg.Go(func() { plain = send(carol, outageDeadline, "No secret in here, just a question.") })
		wg.Go(func() { restore = send(alice2, outageDeadline, restorePrompt) })
		// The agent resends its history: values this principal already submitted
		// are tokenized from the cache, without Redis.
		wg.Go(func() { history = send(alice3, outageDeadline, before.prompt()) })
		// Another principal sending a cached value must be recorded as a submitter
		// in Redis: without Redis it is refused.
		wg.Go(func() { otherPrincipalKnown = send(bob, outageDeadline, before.prompt()) })
		wg.Wait()

		if readyz != http.StatusServiceUnavailable {
			t.Errorf("readyz with Redis down: got %d, want 503", readyz)
		}
		if err := checkVaultRefusal(newSecret); err != nil {
			t.Errorf("new secret with Redis down: %v", err)
		}
		t.Logf("new secret with Redis down: %d (class %q) after %v", newSecret.status, newSecret.class, newSecret.took.Round(time.Millisecond))
		if err := checkVaultRefusal(otherPrincipalKnown); err != nil {
			t.Errorf("known value from another principal with Redis down: %v", err)
		}
		if err := checkEcho(plain, "No secret in here, just a question."); err != nil {
			t.Errorf("request without a secret with Redis down: %v", err)
		}
		if err := checkEcho(restore, restored); err != nil {
			t.Errorf("tokens minted before the outage (cached) with Redis down: %v", err)
		}
		if err := checkEcho(history, before.prompt()); err != nil {
			t.Errorf("resent history with Redis down: %v", err)
		}
		if n, want := len(r.up.Requests())-upBefore, 3; n != want {
			t.Errorf("upstream got %d requests during the outage, want the %d that went through", n, want)
		}
		if got := r.vaultErrors(); got < errsBefore+2 {
			t.Errorf("cloakroom_vault_errors_total: got %v, want at least %v", got, errsBefore+2)
		}
		var refusals int
		for _, rec := range r.auditRecords() {
			if rec.Error == "vault" {
				refusals++
				if rec.Decision != "refused" || rec.Status != http.StatusServiceUnavailable {
					t.Errorf("audit: got %+v, want refused with status 503", rec)
				}
			}
		}
		if refusals != 2 {
			t.Errorf("audit: got %d vault refusals, want 2", refusals)
		}
	}

	r.srv.Start() // Redis back, on the same port, with its snapshot

	{
		r.waitReadyz(http.StatusOK)
		if err := checkEcho(send(alice, outageDeadline, fresh.prompt()), fresh.prompt()); err != nil {
			t.Fatalf("the secret refused during the outage, sent again after it: %v", err)
		}
		if !bytes.Contains(r.up.Last().Body, []byte(r.tokenFor(fresh.GitHub))) {
			t.Errorf("after the outage the upstream did not get the new secret's token")
		}
		newer := newSecrets(t)
		r.plant(newer.all()...)
		if err := checkEcho(send(alice, outageDeadline, newer.prompt()), newer.prompt()); err != nil {
			t.Errorf("new secret after the outage: %v", err)
		}
		if err := checkEcho(send(alice, outageDeadline, restorePrompt), restored); err != nil {
			t.Errorf("tokens minted before the outage, on the same proxy: %v", err)
		}
		if err := checkEcho(send(r.client("bob"), outageDeadline, before.prompt()), before.prompt()); err != nil {
			t.Errorf("known value from another principal after the outage: %v", err)
		}
		replica := r.replica()
		if err := checkEcho(send(replica.client("alice"), outageDeadline, restorePrompt), restored); err != nil {
			t.Errorf("tokens minted before the outage, on a replica with a cold cache: %v", err)
		}
	}
}

// TestRedisOutageMidTraffic stops and restarts redis-server while four agents send
// requests: some with new secrets, some without, some carrying tokens minted before.
// Every request ends before its deadline with a success or a clear vault refusal;
// nothing refused reaches the upstream, no planted secret does (the harness greps
// it); afterwards every token minted before the outage restores, on this proxy and
// on a cold replica, and every token the upstream ever got restores on this proxy.
func TestRedisOutageMidTraffic(t *testing.T) {
	const (
		workers   = 4
		afterBack = 6   // requests each worker sends once Redis is back
		maxPerW   = 300 // hard bound on each worker's loop
	)
	t.Parallel()
	r := newRedisRig(t)
	before := newSecrets(t)
	r.plant(before.all()...)
	if err := checkEcho(send(r.client("alice"), outageDeadline, before.prompt()), before.prompt()); err != nil {
		t.Fatalf("before the outage: %v", err)
	}
	restorePrompt := "Here they are: " + r.tokenList(before.all()...) + "."
	restored := r.expand(restorePrompt, before.all()...)
	r.save()
	r.drain()
	r.up.Reset()

	var (
		mu      sync.Mutex
		planted []string // new secrets the workers sent
		errs    []string
		// counts by kind of request and outcome
		ok, refused, plainOK, restoreOK atomic.Int64
		sent                            atomic.Int64
		slowest                         atomic.Int64 // nanoseconds
		stopped, back                   atomic.Bool
		outageSent, outageRefused       atomic.Int64
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(errs) < 20 {
			errs = append(errs, fmt.Sprintf(format, args...))
		}
	}
	clients := make([]*http.Client, workers)
	newValues := make([][]string, workers) // a new secret for each request that sends one
	for i := range clients {
		clients[i] = r.client("alice")
		for range maxPerW {
			newValues[i] = append(newValues[i], githubToken(t))
		}
	}
	var (
		wg   sync.WaitGroup
		quit atomic.Bool // the test is failing: stop now
	)
	defer func() { quit.Store(true); wg.Wait() }()
	for w := range workers {
		wg.Go(func() {
			afterN := 0
			for i := 0; i < maxPerW && afterN < afterBack && !quit.Load(); i++ {
				if back.Load() {
					afterN++
				}
				down := stopped.Load() && !back.Load()
				var o outcome
				kind := (i + w) % 3
				switch kind {
				case 0: // no secret
					p := fmt.Sprintf("worker %d request %d: nothing secret", w, i)
					o = send(clients[w], outageDeadline, p)
					if err := checkEcho(o, p); err != nil {
						fail("worker %d request %d without a secret: %v", w, i, err)
					} else {
						plainOK.Add(1)
					}
				case 1: // a new secret
					gh := newValues[w][i]
					mu.Lock()
					planted = append(planted, gh)
					mu.Unlock()
					p := fmt.Sprintf("worker %d request %d: GITHUB_TOKEN=%s", w, i, gh)
					o = send(clients[w], outageDeadline, p)
					switch {
					case o.err == nil && o.status == http.StatusOK:
						if err := checkEcho(o, p); err != nil {
							fail("worker %d request %d with a new secret: %v", w, i, err)
						}
						ok.Add(1)
					default:
						if err := checkVaultRefusal(o); err != nil {
							fail("worker %d request %d with a new secret: neither forwarded nor refused cleanly: %v", w, i, err)
						}
						refused.Add(1)
						if down {
							outageRefused.Add(1)
						}
					}
					if down {
						outageSent.Add(1)
					}
				case 2: // tokens minted before the outage
					o = send(clients[w], outageDeadline, restorePrompt)
					if err := checkEcho(o, restored); err != nil {
						fail("worker %d request %d restoring pre-outage tokens: %v", w, i, err)
					} else {
						restoreOK.Add(1)
					}
				}
				sent.Add(1)
				for {
					s := slowest.Load()
					if int64(o.took) <= s || slowest.CompareAndSwap(s, int64(o.took)) {
						break
					}
				}
			}
		})
	}

	// waitFor waits, bounded, until cond holds.
	waitFor := func(what string, cond func() bool) {
		deadline := time.Now().Add(outageWait)
		for !cond() {
			if time.Now().After(deadline) {
				t.Errorf("gave up waiting %v for %s", outageWait, what)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("traffic to start", func() bool { return sent.Load() >= 2*workers })
	r.save()
	r.srv.Stop()
	stopped.Store(true)
	waitFor("refusals while Redis is down", func() bool { return outageRefused.Load() >= 2*workers })
	if code := r.readyz(); code != http.StatusServiceUnavailable {
		t.Errorf("readyz with Redis down: got %d, want 503", code)
	}
	r.srv.Start()
	r.waitReadyz(http.StatusOK)
	back.Store(true)
	wg.Wait()

	mu.Lock()
	r.plant(planted...)
	for _, e := range errs {
		t.Error(e)
	}
	mu.Unlock()
	t.Logf("%d requests: %d new-secret forwarded, %d refused (%d of %d sent while Redis was down), %d without a secret, %d restores; slowest %v",
		sent.Load(), ok.Load(), refused.Load(), outageRefused.Load(), outageSent.Load(), plainOK.Load(), restoreOK.Load(), time.Duration(slowest.Load()).Round(time.Millisecond))
	if refused.Load() == 0 {
		t.Errorf("no request was refused: the outage did not happen during the traffic")
	}

	// Exactly the requests that got a 200 reached the upstream: a refusal forwards
	// nothing.
	r.drain()
	ups := r.up.Requests()
	if want := int(ok.Load() + plainOK.Load() + restoreOK.Load()); len(ups) != want {
		t.Errorf("upstream got %d requests, want %d (one per success)", len(ups), want)
	}

	// Every token the upstream ever got still restores on this proxy.
	seen := map[string]bool{}
	var toks []string
	for _, u := range ups {
		for _, s := range tokenize.Find(u.Body) {
			if tok := s.Token.String(); !seen[tok] {
				seen[tok] = true
				toks = append(toks, tok)
			}
		}
	}
	all := append(append([]string{}, planted...), before.all()...)
	p := "All of them: " + strings.Join(toks, " ")
	if want := r.expand(p, all...); want == p || len(tokenize.Find([]byte(want))) != 0 {
		t.Errorf("the upstream got tokens of values the test did not send")
	} else if err := checkEcho(send(r.client("alice"), outageDeadline, p), want); err != nil {
		t.Errorf("tokens the upstream got, after the outage: %v", err)
	}
	// Tokens minted before the outage also restore on a replica with a cold cache.
	replica := r.replica()
	if err := checkEcho(send(replica.client("alice"), outageDeadline, restorePrompt), restored); err != nil {
		t.Errorf("tokens minted before the outage, on a replica with a cold cache: %v", err)
	}
}

// TestRedisSlow: with redis-server stalled (CLIENT PAUSE ALL) for longer than the
// Redis client's read timeout (go-redis's default, 5 s, which cmd/cloakroom keeps), a
// request carrying a new secret ends before its deadline: refused while Redis is
// stalled (or forwarded, if it only ended after the stall), never leaking. Requests
// without secrets and restores of cached tokens go through meanwhile.
func TestRedisSlow(t *testing.T) {
	const stall = 6 * time.Second
	t.Parallel() // mostly waiting for the stall
	r := newRedisRig(t)
	alice := r.client("alice")
	before := newSecrets(t)
	r.plant(before.all()...)
	if err := checkEcho(send(alice, outageDeadline, before.prompt()), before.prompt()); err != nil {
		t.Fatalf("before the stall: %v", err)
	}
	restorePrompt := "Here they are: " + r.tokenList(before.all()...) + "."
	restored := r.expand(restorePrompt, before.all()...)
	fresh := newSecrets(t)
	r.plant(fresh.all()...)
	r.drain()
	upBefore := len(r.up.Requests())

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.ctl.Do(ctx, "CLIENT", "PAUSE", stall.Milliseconds(), "ALL").Err(); err != nil {
		// Before Redis 6.2 there is no mode, and a pause stops every command.
		if err := r.ctl.Do(ctx, "CLIENT", "PAUSE", stall.Milliseconds()).Err(); err != nil {
			t.Fatalf("CLIENT PAUSE: %v", err)
		}
	}
	paused := time.Now()
	var (
		wg                        sync.WaitGroup
		newSecret, plain, restore outcome
		readyz                    int
		readyzTook                time.Duration
		newSecretEnd, readyzEnd   time.Time
	)
	wg.Go(func() {
		newSecret = send(alice, outageDeadline, fresh.prompt())
		newSecretEnd = time.Now()
	})
	wg.Go(func() { plain = send(r.client("carol"), outageDeadline, "No secret in here.") })
	wg.Go(func() { restore = send(r.client("alice"), outageDeadline, restorePrompt) })
	wg.Go(func() {
		start := time.Now()
		readyz = r.readyz()
		readyzEnd = time.Now()
		readyzTook = readyzEnd.Sub(start)
	})
	wg.Wait()

	if err := checkEcho(plain, "No secret in here."); err != nil {
		t.Errorf("request without a secret with Redis stalled: %v", err)
	}
	if err := checkEcho(restore, restored); err != nil {
		t.Errorf("cached tokens with Redis stalled: %v", err)
	}
	during := newSecretEnd.Sub(paused) < stall
	switch {
	case newSecret.err != nil:
		t.Errorf("new secret with Redis stalled: no answer within %v: %v", outageDeadline, newSecret.err)
	case during:
		if err := checkVaultRefusal(newSecret); err != nil {
			t.Errorf("new secret, answered while Redis was stalled: %v", err)
		}
	default:
		if err := checkEcho(newSecret, fresh.prompt()); err != nil && checkVaultRefusal(newSecret) != nil {
			t.Errorf("new secret, answered after the stall: neither forwarded nor refused cleanly: %v", err)
		}
	}
	t.Logf("new secret with Redis stalled for %v: %d (class %q) after %v; answered during the stall: %v",
		stall, newSecret.status, newSecret.class, newSecret.took.Round(time.Millisecond), during)
	t.Logf("readyz with Redis stalled: %d after %v (its handler's own timeout is 2 s)", readyz, readyzTook.Round(time.Millisecond))
	if readyzEnd.Sub(paused) < stall && readyz != http.StatusServiceUnavailable {
		t.Errorf("readyz answered while Redis was stalled: got %d, want 503", readyz)
	}
	if newSecret.status != http.StatusOK {
		r.drain()
		if n, want := len(r.up.Requests())-upBefore, 2; n != want {
			t.Errorf("upstream got %d requests during the stall, want the %d without new secrets", n, want)
		}
	}
	r.waitReadyz(http.StatusOK)
	if err := checkEcho(send(alice, outageDeadline, fresh.prompt()), fresh.prompt()); err != nil {
		t.Errorf("new secret after the stall: %v", err)
	}
}
