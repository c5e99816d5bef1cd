package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cloakroom/cloakroom/detect"
	"github.com/cloakroom/cloakroom/internal/fakeapi"
	"github.com/cloakroom/cloakroom/internal/testutil"
	"github.com/cloakroom/cloakroom/proxy"
	"github.com/cloakroom/cloakroom/tokenize"
)

// vaultMasterKey is the master key every vault and replica of these benchmarks shares.
var vaultMasterKey = bytes.Repeat([]byte{9}, 32)

// vaultWorkingSet is how many distinct values the "seen" and Lookup benchmarks cycle
// through: all of them fit the default cache.
const vaultWorkingSet = 1000

// vaultCaches are the two cache settings compared: the default LRU, and an LRU of one
// entry whose entries are never fresh (the API has no "off"), so every operation goes
// to the store.
var vaultCaches = []struct {
	name string
	size int
	ttl  time.Duration
}{
	{"cache", 0, 0},
	{"nocache", 1, time.Nanosecond},
}

// vaultStores opens each store compared, fresh for one benchmark.
var vaultStores = []struct {
	name string
	open func(tb testing.TB) tokenize.Store
}{
	{"bolt", func(tb testing.TB) tokenize.Store {
		s, err := tokenize.OpenBolt(filepath.Join(tb.TempDir(), "vault.db"))
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = s.Close() })
		return s
	}},
	{"redis", func(tb testing.TB) tokenize.Store {
		client, prefix := testutil.Redis(tb)
		return tokenize.NewRedisStore(client, prefix)
	}},
}

// vaultValues returns n distinct secret-like values, unique to this run.
func vaultValues(tb testing.TB, n int) [][]byte {
	tb.Helper()
	var r [8]byte
	if _, err := rand.Read(r[:]); err != nil {
		tb.Fatal(err)
	}
	run := fmt.Sprintf("%x", r)
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte("sk_live_" + run + "_" + strconv.Itoa(i))
	}
	return out
}

// BenchmarkVault measures the vault alone, one operation at a time, on each store
// (bbolt in a temp file, a real redis-server on loopback) with the cache on and off:
//
//   - Tokenize-new: a value never seen before (a store write every time);
//   - Tokenize-seen: a value this principal already submitted (a cache hit, or with
//     the cache off a store write that changes nothing);
//   - Lookup: a stored token (a cache hit, or a store read and AES-GCM open).
//
// p50-us and p99-us are per operation (nearest rank); hit-% is the cache hit ratio.
func BenchmarkVault(b *testing.B) {
	keys, err := tokenize.NewKeys(vaultMasterKey)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, st := range vaultStores {
		b.Run(st.name, func(b *testing.B) {
			store := st.open(b)
			for _, c := range vaultCaches {
				b.Run(c.name, func(b *testing.B) {
					newVault := func(b *testing.B) *tokenize.Vault {
						v, err := tokenize.NewVault(tokenize.VaultConfig{Keys: keys, Store: store, CacheSize: c.size, CacheTTL: c.ttl})
						if err != nil {
							b.Fatal(err)
						}
						return v
					}
					b.Run("Tokenize-new", func(b *testing.B) {
						v := newVault(b)
						var r [8]byte
						_, _ = rand.Read(r[:])
						val := fmt.Appendf(nil, "sk_live_%x_", r)
						base := len(val)
						var lat []time.Duration
						b.ReportAllocs()
						b.SetBytes(int64(base + 6))
						i := 0
						for b.Loop() {
							val = strconv.AppendInt(val[:base], int64(i), 10)
							i++
							start := time.Now()
							if _, err := v.Tokenize(ctx, val, "secret", "bench", "alice"); err != nil {
								b.Fatal(err)
							}
							lat = append(lat, time.Since(start))
						}
						reportVault(b, v, tokenize.VaultStats{}, lat)
					})
					b.Run("Tokenize-seen", func(b *testing.B) {
						v := newVault(b)
						vals := vaultValues(b, vaultWorkingSet)
						for _, val := range vals {
							if _, err := v.Tokenize(ctx, val, "secret", "bench", "alice"); err != nil {
								b.Fatal(err)
							}
						}
						base := v.Stats()
						var lat []time.Duration
						b.ReportAllocs()
						b.SetBytes(int64(len(vals[0])))
						i := 0
						for b.Loop() {
							val := vals[i%len(vals)]
							i++
							start := time.Now()
							if _, err := v.Tokenize(ctx, val, "secret", "bench", "alice"); err != nil {
								b.Fatal(err)
							}
							lat = append(lat, time.Since(start))
						}
						reportVault(b, v, base, lat)
					})
					b.Run("Lookup", func(b *testing.B) {
						v := newVault(b)
						vals := vaultValues(b, vaultWorkingSet)
						toks := make([]tokenize.Token, len(vals))
						for i, val := range vals {
							s, err := v.Tokenize(ctx, val, "secret", "bench", "alice")
							if err != nil {
								b.Fatal(err)
							}
							tok, ok := tokenize.Parse(s)
							if !ok {
								b.Fatalf("vault minted an unparsable token")
							}
							toks[i] = tok
						}
						base := v.Stats()
						var lat []time.Duration
						b.ReportAllocs()
						b.SetBytes(int64(len(vals[0])))
						i := 0
						for b.Loop() {
							tok := toks[i%len(toks)]
							i++
							start := time.Now()
							e, err := v.Lookup(ctx, tok)
							if err != nil {
								b.Fatal(err)
							}
							lat = append(lat, time.Since(start))
							e.Value.Zero()
						}
						reportVault(b, v, base, lat)
					})
				})
			}
		})
	}
}

// reportVault reports per-operation latency and the cache hit ratio since base.
func reportVault(b *testing.B, v *tokenize.Vault, base tokenize.VaultStats, lat []time.Duration) {
	b.ReportMetric(quantileMS(lat, 0.50)*1000, "p50-us")
	b.ReportMetric(quantileMS(lat, 0.99)*1000, "p99-us")
	s := v.Stats()
	hits := s.TokenizeHits + s.LookupHits - base.TokenizeHits - base.LookupHits
	all := hits + s.TokenizeMisses + s.LookupMisses - base.TokenizeMisses - base.LookupMisses
	if all > 0 {
		b.ReportMetric(100*float64(hits)/float64(all), "hit-%")
	}
}

// replicaRig is the fake upstream with n cloakroom proxies in front of it, as
// replicas of one deployment: one CA, one master key, one store (a Redis shared by
// all; bbolt only with one replica). Each replica has its own detector, known-value
// set, vault cache and Redis client, as separate processes would.
type replicaRig struct {
	fake     *fakeapi.Server
	pool     *x509.CertPool
	replicas []*httptest.Server
}

func newReplicaRig(tb testing.TB, n int, storeKind string) *replicaRig {
	tb.Helper()
	fake := fakeapi.Start(tb, fakeapi.Options{Chunk: 4096, WholeWrites: true})
	certPEM, keyPEM, err := proxy.GenerateCA("cloakroom bench CA")
	if err != nil {
		tb.Fatal(err)
	}
	keys, err := tokenize.NewKeys(vaultMasterKey)
	if err != nil {
		tb.Fatal(err)
	}
	rg := &replicaRig{fake: fake, pool: x509.NewCertPool()}
	rg.pool.AppendCertsFromPEM(certPEM)
	var stores []tokenize.Store
	switch storeKind {
	case "redis":
		client, prefix := testutil.Redis(tb)
		stores = append(stores, tokenize.NewRedisStore(client, prefix))
		for range n - 1 {
			c := redis.NewClient(&redis.Options{Addr: client.Options().Addr})
			tb.Cleanup(func() { _ = c.Close() })
			stores = append(stores, tokenize.NewRedisStore(c, prefix))
		}
	case "bolt":
		if n != 1 {
			tb.Fatalf("a bbolt store serves one replica, not %d", n)
		}
		s, err := tokenize.OpenBolt(filepath.Join(tb.TempDir(), "vault.db"))
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = s.Close() })
		stores = append(stores, s)
	default:
		tb.Fatalf("unknown store %q", storeKind)
	}
	for _, store := range stores {
		ca, err := proxy.NewCA(certPEM, keyPEM)
		if err != nil {
			tb.Fatal(err)
		}
		vault, err := tokenize.NewVault(tokenize.VaultConfig{Keys: keys, Store: store})
		if err != nil {
			tb.Fatal(err)
		}
		p, err := proxy.New(proxy.Config{CA: ca, UpstreamRootCAs: fake.RootCAs, Dial: fake.Dial}, quietDeps(newDetector(tb), vault))
		if err != nil {
			tb.Fatal(err)
		}
		srv := httptest.NewServer(p.Handler())
		tb.Cleanup(func() {
			srv.Close()
			p.Close()
		})
		rg.replicas = append(rg.replicas, srv)
	}
	return rg
}

// agent is one client of a replicaRig: a keep-alive connection to every replica,
// as principal, sending each request to the next replica in turn.
type agent struct {
	clients []*http.Client
	next    atomic.Int64
}

func (rg *replicaRig) agent(tb testing.TB, principal string) *agent {
	a := &agent{}
	for _, srv := range rg.replicas {
		u, err := url.Parse(srv.URL)
		if err != nil {
			tb.Fatal(err)
		}
		u.User = url.UserPassword(principal, "agent-password")
		tr := &http.Transport{Proxy: http.ProxyURL(u), TLSClientConfig: &tls.Config{RootCAs: rg.pool}}
		tb.Cleanup(tr.CloseIdleConnections)
		a.clients = append(a.clients, &http.Client{Transport: tr})
	}
	return a
}

// ask sends prompt to replica i (the next one in turn if i < 0) and returns the
// assistant text the agent got back.
func (a *agent) ask(i int, prompt string) (string, error) {
	if i < 0 {
		i = int((a.next.Add(1) - 1) % int64(len(a.clients)))
	}
	body, err := json.Marshal(map[string]any{
		"model": "claude-sonnet-4-5", "max_tokens": 1024,
		"messages": []any{map[string]any{"role": "user", "content": prompt}},
	})
	if err != nil {
		return "", err
	}
	req, err := http.NewRequest(http.MethodPost, messagesURL, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.clients[i].Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d (X-Cloakroom-Error %q)", resp.StatusCode, resp.Header.Get("X-Cloakroom-Error"))
	}
	var m struct {
		Content []struct{ Type, Text string }
	}
	if err := json.Unmarshal(b, &m); err != nil {
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

// githubTokens makes GitHub classic tokens (valid checksum), each with 30 random
// characters as GitHub's own have: a run and a counter made some (one in about 30)
// look like placeholders, which the detector rightly leaves alone.
type githubTokens struct{}

func newGitHubTokens(testing.TB) *githubTokens { return &githubTokens{} }

func (*githubTokens) next() string {
	body := (rand.Text() + rand.Text())[:30] // base32: letters and digits
	return "ghp_" + body + detect.GitHubChecksum(body)
}

// replicaPrompt is a small agent message (about 0.8 KB) carrying one secret.
func replicaPrompt(secret string) string {
	return "The deploy job failed again. Here is the relevant part of the workflow file:\n\n" +
		"jobs:\n  deploy:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n" +
		"      - run: ./scripts/deploy.sh staging\n        env:\n          GITHUB_TOKEN: " + secret + "\n" +
		"          REGION: eu-west-1\n\n" +
		"and the log says `error: could not push image: denied: requested access to the resource is denied`. " +
		"The token was rotated last week and the old one revoked. Can you check whether the workflow still " +
		"references the old secret name, and whether the deploy script reads GITHUB_TOKEN or GH_TOKEN? " +
		"Please keep the change minimal: we ship from this branch on Friday and the reviewers want a " +
		"one-line diff if at all possible. If the script needs both variables, say so and explain why."
}

// BenchmarkVaultReplicas measures requests per second through one proxy and through
// two replicas sharing one Redis and one master key (clients alternate between
// them), with small request bodies (about 0.9 KB) carrying a secret:
//
//   - new-secret: a secret never seen before in every request (one Redis write per
//     request, the response restored from the cache);
//   - same-secret: the same secret in every request (after the first sight on each
//     replica, the vault cache answers).
//
// bolt/1 is one proxy on the embedded store, for reference. 8 concurrent clients;
// everything (clients, proxies, fake upstream, redis-server) shares the machine's
// cores. req/s is requests over wall time; p50-ms and p99-ms are per request.
func BenchmarkVaultReplicas(b *testing.B) {
	const clients = 8
	for _, cfg := range []struct {
		store    string
		replicas int
	}{{"bolt", 1}, {"redis", 1}, {"redis", 2}} {
		b.Run(fmt.Sprintf("%s/%d", cfg.store, cfg.replicas), func(b *testing.B) {
			rg := newReplicaRig(b, cfg.replicas, cfg.store)
			for _, mode := range []string{"new-secret", "same-secret"} {
				b.Run(mode, func(b *testing.B) {
					gen := newGitHubTokens(b)
					same := gen.next()
					agents := make([]*agent, clients)
					for i := range agents {
						agents[i] = rg.agent(b, "alice")
						for r := range rg.replicas { // connections and leaf certificates
							if _, err := agents[i].ask(r, replicaPrompt(same)); err != nil {
								b.Fatal(err)
							}
						}
					}
					var (
						mu    sync.Mutex
						lat   []time.Duration
						first error
						next  atomic.Int64
					)
					b.ReportAllocs()
					b.SetParallelism((clients + 1) / 2) // GOMAXPROCS is 2 here: 8 goroutines
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						a := agents[int(next.Add(1)-1)%clients]
						var mine []time.Duration
						for pb.Next() {
							secret := same
							if mode == "new-secret" {
								secret = gen.next()
							}
							prompt := replicaPrompt(secret)
							start := time.Now()
							got, err := a.ask(-1, prompt)
							if err == nil && got != prompt {
								err = fmt.Errorf("the agent did not get its prompt back")
							}
							if err != nil {
								mu.Lock()
								if first == nil {
									first = err
								}
								mu.Unlock()
								return
							}
							mine = append(mine, time.Since(start))
							if len(mine)%256 == 0 {
								rg.fake.Reset() // it records every body
							}
						}
						mu.Lock()
						lat = append(lat, mine...)
						mu.Unlock()
					})
					b.StopTimer()
					if first != nil {
						b.Fatal(first)
					}
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
					b.ReportMetric(quantileMS(lat, 0.50), "p50-ms")
					b.ReportMetric(quantileMS(lat, 0.99), "p99-ms")
				})
			}
		})
	}
}

// TestVaultReplicas checks the replica rig of BenchmarkVaultReplicas: a secret sent
// through replica A reaches the upstream as a token, and that token sent back
// through replica B is restored for the principal who submitted it and left a token
// for another.
func TestVaultReplicas(t *testing.T) {
	rg := newReplicaRig(t, 2, "redis")
	secret := newGitHubTokens(t).next()
	alice, bob := rg.agent(t, "alice"), rg.agent(t, "bob")
	prompt := replicaPrompt(secret)
	if got, err := alice.ask(0, prompt); err != nil || got != prompt {
		t.Fatalf("through replica A: got %d bytes, %v; want the prompt back", len(got), err)
	}
	up := rg.fake.Last().Body
	if bytes.Contains(up, []byte(secret)) {
		t.Fatal("the secret reached the upstream")
	}
	spans := tokenize.Find(up)
	if len(spans) != 1 {
		t.Fatalf("got %d tokens upstream, want 1", len(spans))
	}
	tok := spans[0].Token.String()
	if got, err := alice.ask(1, "echo "+tok); err != nil || got != "echo "+secret {
		t.Errorf("alice through replica B: got %d bytes, %v; want the token restored", len(got), err)
	}
	if got, err := bob.ask(1, "echo "+tok); err != nil || got != "echo "+tok {
		t.Errorf("bob through replica B: got %v; want the token left as is", err)
	}
}
