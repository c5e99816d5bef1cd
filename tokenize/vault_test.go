package tokenize

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// memStore is an in-memory Store for tests.
type memStore struct {
	mu   sync.Mutex
	recs map[string]Record
}

func newMemStore() *memStore { return &memStore{recs: map[string]Record{}} }

func (m *memStore) Put(_ context.Context, rec Record, principal string) (Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.recs[rec.ID]
	if !ok {
		cur = rec
		cur.Submitters = nil
	}
	cur.Submitters, _ = addSubmitter(slices.Clone(cur.Submitters), principal)
	m.recs[rec.ID] = cur
	return cur, nil
}

func (m *memStore) Get(_ context.Context, id string) (Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.recs[id]
	if !ok {
		return Record{}, ErrNotFound
	}
	return r, nil
}

func (m *memStore) Each(_ context.Context, fn func(Record) error) error {
	m.mu.Lock()
	recs := make([]Record, 0, len(m.recs))
	for _, r := range m.recs {
		recs = append(recs, r)
	}
	m.mu.Unlock()
	for _, r := range recs {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

func (m *memStore) Ping(context.Context) error { return nil }
func (m *memStore) Close() error               { return nil }

// countingStore counts calls into a Store and can fail them.
type countingStore struct {
	Store
	puts, gets atomic.Int64
	fail       error
}

func (c *countingStore) Put(ctx context.Context, rec Record, p string) (Record, error) {
	c.puts.Add(1)
	if c.fail != nil {
		return Record{}, c.fail
	}
	return c.Store.Put(ctx, rec, p)
}

func (c *countingStore) Get(ctx context.Context, id string) (Record, error) {
	c.gets.Add(1)
	if c.fail != nil {
		return Record{}, c.fail
	}
	return c.Store.Get(ctx, id)
}

func newTestVault(t testing.TB, s Store) *Vault {
	t.Helper()
	return newTestVaultCfg(t, VaultConfig{Keys: testKeys(t, 1), Store: s})
}

func newTestVaultCfg(t testing.TB, cfg VaultConfig) *Vault {
	t.Helper()
	v, err := NewVault(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustTokenize(t testing.TB, v *Vault, value, class, principal string) Token {
	t.Helper()
	s, err := v.Tokenize(context.Background(), []byte(value), class, class+"-rule", principal)
	if err != nil {
		t.Fatal(err)
	}
	tok, ok := Parse(s)
	if !ok {
		t.Fatalf("token %q does not parse", s)
	}
	return tok
}

func TestNewVaultConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     VaultConfig
		wantErr bool
	}{
		{name: "ok", cfg: VaultConfig{Keys: testKeys(t, 1), Store: newMemStore()}},
		{name: "no keys", cfg: VaultConfig{Store: newMemStore()}, wantErr: true},
		{name: "no store", cfg: VaultConfig{Keys: testKeys(t, 1)}, wantErr: true},
		{name: "negative cache", cfg: VaultConfig{Keys: testKeys(t, 1), Store: newMemStore(), CacheSize: -1}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewVault(tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("got err %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

func TestVaultRoundTrip(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1700000000, 0)
	store := newMemStore()
	v := newTestVaultCfg(t, VaultConfig{Keys: testKeys(t, 1), Store: store, Now: func() time.Time { return now }})
	tok := mustTokenize(t, v, canary, "password", "alice")
	if tok.Class != "password" || strings.Contains(tok.String(), "canary") {
		t.Fatalf("got token %s, want class password and no part of the value", tok)
	}
	mustTokenize(t, v, canary, "password", "bob")
	// A fresh vault on the same store reads through to the store; the first one
	// answers from its cache.
	fresh := newTestVault(t, store)
	for name, vv := range map[string]*Vault{"cached": v, "fresh": fresh} {
		t.Run(name, func(t *testing.T) {
			e, err := vv.Lookup(ctx, tok)
			if err != nil {
				t.Fatal(err)
			}
			if string(e.Value.Bytes()) != canary || e.Token != tok || e.Class != "password" ||
				e.Rule != "password-rule" || !e.FirstSeen.Equal(now) ||
				!slices.Equal(e.Submitters, []string{"alice", "bob"}) {
				t.Fatalf("got entry %+v (value ok %v), want %s, rule password-rule, seen %v, [alice bob]",
					e, string(e.Value.Bytes()) == canary, tok, now)
			}
			e.Value.Zero() // the caller owns its copy
			e.Submitters[0] = "mallory"
			again, err := vv.Lookup(ctx, tok)
			if err != nil || string(again.Value.Bytes()) != canary || again.Submitters[0] != "alice" {
				t.Fatalf("after the caller changed its entry: got %v, %v; want the stored value and alice", again, err)
			}
		})
	}
}

func TestVaultDeterministic(t *testing.T) {
	a := newTestVault(t, newMemStore())
	b := newTestVault(t, openTestBolt(t))
	other := newTestVaultCfg(t, VaultConfig{Keys: testKeys(t, 2), Store: newMemStore()})
	ta := mustTokenize(t, a, "s3cret", "pw", "alice")
	if tb := mustTokenize(t, b, "s3cret", "pw", "bob"); tb != ta {
		t.Fatalf("same master, other store: got %s, want %s", tb, ta)
	}
	if to := mustTokenize(t, other, "s3cret", "pw", "alice"); to == ta {
		t.Fatalf("other master: got the same token %s", to)
	}
}

func TestVaultStoredClassWins(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	v := newTestVault(t, store)
	first := mustTokenize(t, v, "AKIAEXAMPLE", "aws", "alice")
	tests := []struct {
		name      string
		vault     *Vault
		principal string
	}{
		{name: "same vault, cached pair", vault: v, principal: "alice"},
		{name: "same vault, new principal", vault: v, principal: "bob"},
		{name: "fresh vault", vault: newTestVault(t, store), principal: "carol"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustTokenize(t, tt.vault, "AKIAEXAMPLE", "password", tt.principal); got != first {
				t.Fatalf("got %s, want %s", got, first)
			}
		})
	}
	for _, vv := range []*Vault{v, newTestVault(t, store)} {
		_, err := vv.Lookup(ctx, Token{Class: "password", ID: first.ID})
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("lookup under the other class: got %v, want ErrNotFound", err)
		}
	}
}

func TestVaultLookupErrors(t *testing.T) {
	ctx := context.Background()
	k := testKeys(t, 1)
	store := newMemStore()
	v := newTestVault(t, store)
	good := mustTokenize(t, v, "good value", "pw", "alice")

	// A record whose seal opens under its id but holds another value.
	swapped := testRecord(t, k, "value A", "pw")
	swapped.Sealed, _ = k.Seal(swapped.ID, []byte("value B"))
	if _, err := store.Put(ctx, swapped, "alice"); err != nil {
		t.Fatal(err)
	}
	wrongKey := newTestVaultCfg(t, VaultConfig{Keys: testKeys(t, 2), Store: store})

	tests := []struct {
		name    string
		vault   *Vault
		tok     Token
		wantErr error
	}{
		{name: "missing", vault: v, tok: Token{Class: "pw", ID: k.ID([]byte("never"))}, wantErr: ErrNotFound},
		{name: "class mismatch", vault: v, tok: Token{Class: "aws", ID: good.ID}, wantErr: ErrNotFound},
		{name: "bad class", vault: v, tok: Token{Class: "A!", ID: good.ID}, wantErr: ErrNotFound},
		{name: "short id", vault: v, tok: Token{Class: "pw", ID: "abc"}, wantErr: ErrNotFound},
		{name: "swapped seal", vault: v, tok: Token{Class: "pw", ID: swapped.ID}, wantErr: ErrSealBroken},
		{name: "other master", vault: wrongKey, tok: good, wantErr: ErrSealBroken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.vault.Lookup(ctx, tt.tok)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got %v, want %v", err, tt.wantErr)
			}
			for _, val := range []string{"good value", "value A", "value B"} {
				if strings.Contains(err.Error(), val) {
					t.Fatalf("error %q holds the value %q", err, val)
				}
			}
		})
	}
}

func TestVaultTokenizeErrors(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("connection refused")
	v := newTestVault(t, &countingStore{Store: newMemStore(), fail: boom})
	_, err := v.Tokenize(ctx, []byte(canary), "pw", "r", "alice")
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "store token: ") {
		t.Fatalf("got %v, want store token: %v", err, boom)
	}
	assertNoCanary(t, "error", []byte(err.Error()), canary)
	if _, err := v.Tokenize(ctx, []byte(canary), "Bad-Class", "r", "alice"); !errors.Is(err, ErrBadClass) {
		t.Fatalf("bad class: got %v, want ErrBadClass", err)
	}
}

func TestVaultCache(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1700000000, 0)
	store := &countingStore{Store: newMemStore()}
	v := newTestVaultCfg(t, VaultConfig{
		Keys: testKeys(t, 1), Store: store, CacheTTL: time.Minute,
		Now: func() time.Time { return now },
	})
	tok := mustTokenize(t, v, "value", "pw", "alice")
	steps := []struct {
		name               string
		do                 func() error
		wantPuts, wantGets int64
	}{
		{name: "repeat pair", do: func() error { _, err := v.Tokenize(ctx, []byte("value"), "pw", "r", "alice"); return err }, wantPuts: 1},
		{name: "new principal", do: func() error { _, err := v.Tokenize(ctx, []byte("value"), "pw", "r", "bob"); return err }, wantPuts: 2},
		{name: "lookup after tokenize", do: func() error { _, err := v.Lookup(ctx, tok); return err }, wantPuts: 2},
		{name: "expired pair", do: func() error {
			now = now.Add(2 * time.Minute)
			_, err := v.Tokenize(ctx, []byte("value"), "pw", "r", "alice")
			return err
		}, wantPuts: 3},
		{name: "expired entry", do: func() error {
			now = now.Add(2 * time.Minute)
			_, err := v.Lookup(ctx, tok)
			return err
		}, wantPuts: 3, wantGets: 1},
		{name: "lookup cached again", do: func() error { _, err := v.Lookup(ctx, tok); return err }, wantPuts: 3, wantGets: 1},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if p, g := store.puts.Load(), store.gets.Load(); p != st.wantPuts || g != st.wantGets {
			t.Fatalf("%s: got %d puts, %d gets; want %d, %d", st.name, p, g, st.wantPuts, st.wantGets)
		}
	}
	want := VaultStats{TokenizeHits: 1, TokenizeMisses: 3, LookupHits: 2, LookupMisses: 1}
	if got := v.Stats(); got != want {
		t.Fatalf("got stats %+v, want %+v", got, want)
	}
}

func TestVaultCacheBounded(t *testing.T) {
	store := &countingStore{Store: newMemStore()}
	v := newTestVaultCfg(t, VaultConfig{Keys: testKeys(t, 1), Store: store, CacheSize: 2})
	for _, val := range []string{"a", "b", "c", "a"} {
		mustTokenize(t, v, val, "pw", "p")
	}
	if got := store.puts.Load(); got != 4 {
		t.Fatalf("got %d puts, want 4 (a evicted by c)", got)
	}
}

func TestVaultEach(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	v := newTestVault(t, store)
	want := map[Token]string{}
	for _, val := range []string{"one", "two", "three"} {
		want[mustTokenize(t, v, val, "pw", "p")] = val
	}
	got := map[Token]string{}
	err := newTestVault(t, store).Each(ctx, func(e Entry) error {
		got[e.Token] = string(e.Value.Bytes())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d", len(got), len(want))
	}
	for tok, val := range want {
		if got[tok] != val {
			t.Fatalf("entry %s: got a different value, want the stored one", tok)
		}
	}
	// A record sealed under another key stops Each with ErrSealBroken.
	err = newTestVaultCfg(t, VaultConfig{Keys: testKeys(t, 2), Store: store}).Each(ctx, func(Entry) error { return nil })
	if !errors.Is(err, ErrSealBroken) {
		t.Fatalf("other master: got %v, want ErrSealBroken", err)
	}
	if err := v.Ping(ctx); err != nil {
		t.Fatalf("Ping: got %v, want nil", err)
	}
}

func TestVaultConcurrent(t *testing.T) {
	ctx := context.Background()
	v := newTestVaultCfg(t, VaultConfig{Keys: testKeys(t, 1), Store: openTestBolt(t), CacheSize: 4})
	values := []string{"v0", "v1", "v2", "v3", "v4", "v5"}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 30 {
				val := values[(i+w)%len(values)]
				s, err := v.Tokenize(ctx, []byte(val), "pw", "r", "p")
				if err != nil {
					t.Error(err)
					return
				}
				tok, _ := Parse(s)
				e, err := v.Lookup(ctx, tok)
				if err != nil || string(e.Value.Bytes()) != val {
					t.Errorf("lookup %s: got err %v, value ok %v", s, err, err == nil && string(e.Value.Bytes()) == val)
					return
				}
			}
		})
	}
	wg.Wait()
}

func FuzzTokenizeRoundTrip(f *testing.F) {
	for _, s := range []string{"", "a", canary, "-----BEGIN KEY-----\n\x00\xff", "cloak_aws_abcdefghijklmnopqrst"} {
		f.Add([]byte(s), "pw")
	}
	store := newMemStore()
	v := newTestVaultCfg(f, VaultConfig{Keys: testKeys(f, 1), Store: store, CacheSize: 64})
	fresh := newTestVaultCfg(f, VaultConfig{Keys: testKeys(f, 1), Store: store, CacheSize: 64})
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, value []byte, class string) {
		if !ValidClass(class) {
			class = "pw"
		}
		s, err := v.Tokenize(ctx, value, class, "rule", "p")
		if err != nil {
			t.Fatal(err)
		}
		tok, ok := Parse(s)
		if !ok {
			t.Fatalf("token %q does not parse", s)
		}
		for _, vv := range []*Vault{v, fresh} {
			e, err := vv.Lookup(ctx, tok)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(e.Value.Bytes(), value) {
				t.Fatalf("lookup %s: got another value back", s)
			}
		}
	})
}

func BenchmarkTokenizeCached(b *testing.B) {
	ctx := context.Background()
	v := newTestVault(b, newMemStore())
	val := []byte("ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789")
	if _, err := v.Tokenize(ctx, val, "github", "r", "alice"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(val)))
	for b.Loop() {
		if _, err := v.Tokenize(ctx, val, "github", "r", "alice"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLookupCached(b *testing.B) {
	ctx := context.Background()
	v := newTestVault(b, newMemStore())
	val := []byte("ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789")
	s, err := v.Tokenize(ctx, val, "github", "r", "alice")
	if err != nil {
		b.Fatal(err)
	}
	tok, _ := Parse(s)
	b.ReportAllocs()
	b.SetBytes(int64(len(val)))
	for b.Loop() {
		if _, err := v.Lookup(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

func TestVaultLookupValue(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	v := newTestVault(t, store)
	tok := mustTokenize(t, v, "a known value", "pw", "alice")
	for _, vv := range []*Vault{v, newTestVault(t, store)} { // cached, then from the store
		e, err := vv.LookupValue(ctx, []byte("a known value"))
		if err != nil {
			t.Fatal(err)
		}
		if e.Token != tok || string(e.Value.Bytes()) != "a known value" || !slices.Equal(e.Submitters, []string{"alice"}) {
			t.Fatalf("got token %v submitters %v, want %v by alice", e.Token, e.Submitters, tok)
		}
	}
	if _, err := v.LookupValue(ctx, []byte("never stored")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("got %v, want ErrNotFound", err)
	}
	// Asking records no submitter.
	if e, _ := newTestVault(t, store).Lookup(ctx, tok); len(e.Submitters) != 1 {
		t.Fatalf("submitters %v after LookupValue, want only alice", e.Submitters)
	}
}
