package tokenize

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/cloakroom/cloakroom/internal/secret"
)

// Vault defaults.
const (
	// DefaultCacheSize bounds each of the Vault's two LRU caches.
	DefaultCacheSize = 10000
	// DefaultCacheTTL is how long a cached entry or submission is trusted before the
	// store is asked again, so submitters added through other replicas show up.
	DefaultCacheTTL = time.Minute
)

// VaultConfig configures a Vault.
type VaultConfig struct {
	// Keys derive token ids and seal values. Required.
	Keys *Keys
	// Store keeps sealed values. Required.
	Store Store
	// CacheSize bounds the hot-token cache and the submitted-pair cache; zero means
	// DefaultCacheSize.
	CacheSize int
	// CacheTTL is how long a cached entry or submitted pair is used without asking
	// the store; zero means DefaultCacheTTL and a negative value means forever. With a
	// store TTL (RedisStore.TTL), keep it well below that.
	CacheTTL time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Entry is a looked-up token with its opened value.
type Entry struct {
	Token      Token
	Value      secret.Value
	Class      string
	Rule       string
	FirstSeen  time.Time
	Submitters []string
}

// VaultStats counts cache hits and misses since the Vault was made.
type VaultStats struct {
	TokenizeHits, TokenizeMisses uint64
	LookupHits, LookupMisses     uint64
}

// pairKey names a (token id, principal) submission.
type pairKey struct{ id, principal string }

// cachedEntry is an Entry with the time it was cached. Its Value is never handed
// out; Lookup returns a copy so a caller may Zero it.
type cachedEntry struct {
	e  Entry
	at time.Time
}

// cachedPair remembers the stored class of a submitted (id, principal) pair.
type cachedPair struct {
	class string
	at    time.Time
}

// Vault mints tokens for secret values and looks them up again: values are sealed
// with Keys into a Store, with LRU caches in front. It is safe for concurrent use.
type Vault struct {
	keys    *Keys
	store   Store
	now     func() time.Time
	ttl     time.Duration
	entries *lru.Cache[string, cachedEntry]
	pairs   *lru.Cache[pairKey, cachedPair]

	tokHit, tokMiss, lookHit, lookMiss atomic.Uint64
}

// NewVault returns a Vault for cfg.
func NewVault(cfg VaultConfig) (*Vault, error) {
	if cfg.Keys == nil || cfg.Store == nil {
		return nil, errors.New("vault: keys and store are required")
	}
	if cfg.CacheSize < 0 {
		return nil, errors.New("vault: negative cache size")
	}
	size := cfg.CacheSize
	if size == 0 {
		size = DefaultCacheSize
	}
	ttl := cfg.CacheTTL
	if ttl == 0 {
		ttl = DefaultCacheTTL
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	entries, err := lru.New[string, cachedEntry](size)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	pairs, err := lru.New[pairKey, cachedPair](size)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	return &Vault{keys: cfg.Keys, store: cfg.Store, now: now, ttl: ttl, entries: entries, pairs: pairs}, nil
}

func (v *Vault) fresh(at, now time.Time) bool { return v.ttl < 0 || now.Sub(at) < v.ttl }

// Tokenize returns the token for value, storing it sealed on first sight and recording
// principal as a submitter. class must satisfy ValidClass. If the value is already
// stored under another class, the stored class wins, so tokens stay deterministic. A
// repeat (value, principal) pair is answered from the cache without a store round trip.
func (v *Vault) Tokenize(ctx context.Context, value []byte, class, rule, principal string) (string, error) {
	if !ValidClass(class) {
		return "", ErrBadClass
	}
	id := v.keys.ID(value)
	now := v.now()
	pk := pairKey{id, principal}
	if p, ok := v.pairs.Get(pk); ok && v.fresh(p.at, now) {
		v.tokHit.Add(1)
		return Token{Class: p.class, ID: id}.String(), nil
	}
	v.tokMiss.Add(1)
	sealed, err := v.keys.Seal(id, value)
	if err != nil {
		return "", err
	}
	rec, err := v.store.Put(ctx, Record{ID: id, Class: class, Rule: rule, Sealed: sealed, FirstSeen: now}, principal)
	if err != nil {
		return "", fmt.Errorf("store token: %w", err)
	}
	if rec.ID != id || !ValidClass(rec.Class) {
		return "", fmt.Errorf("store token %s: %w", id, errCorrupt)
	}
	tok := Token{Class: rec.Class, ID: id}
	v.pairs.Add(pk, cachedPair{class: rec.Class, at: now})
	v.entries.Add(id, cachedEntry{e: entryOf(tok, secret.New(value), rec), at: now})
	return tok.String(), nil
}

func entryOf(tok Token, val secret.Value, rec Record) Entry {
	return Entry{
		Token:      tok,
		Value:      val,
		Class:      rec.Class,
		Rule:       rec.Rule,
		FirstSeen:  rec.FirstSeen,
		Submitters: slices.Clip(rec.Submitters),
	}
}

// Lookup returns the entry for tok with its value opened. It returns ErrNotFound if
// no value is stored under the id or the token's class is not the stored one, and
// ErrSealBroken if the stored value does not open (or opens to a value with another
// id) under the Vault's keys. The caller owns the returned Value and may Zero it.
func (v *Vault) Lookup(ctx context.Context, tok Token) (Entry, error) {
	if !ValidClass(tok.Class) || len(tok.ID) != IDLen {
		return Entry{}, ErrNotFound
	}
	e, err := v.entry(ctx, tok.ID)
	if err != nil {
		return Entry{}, err
	}
	if e.Token != tok {
		e.Value.Zero()
		return Entry{}, ErrNotFound
	}
	return e, nil
}

// LookupValue returns the entry of a value already in the vault (its token,
// class, rule and submitters), without storing anything or recording a submitter:
// the leak guard asks it about a known value seen in the clear. ErrNotFound if the
// value was never tokenized under these keys.
func (v *Vault) LookupValue(ctx context.Context, value []byte) (Entry, error) {
	return v.entry(ctx, v.keys.ID(value))
}

// entry returns a copy of the cached or stored entry for id, the caller's to Zero.
func (v *Vault) entry(ctx context.Context, id string) (Entry, error) {
	now := v.now()
	c, ok := v.entries.Get(id)
	if ok && v.fresh(c.at, now) {
		v.lookHit.Add(1)
	} else {
		v.lookMiss.Add(1)
		rec, err := v.store.Get(ctx, id)
		if err != nil {
			return Entry{}, fmt.Errorf("load token: %w", err)
		}
		e, err := v.open(rec)
		if err != nil {
			return Entry{}, err
		}
		c = cachedEntry{e: e, at: now}
		v.entries.Add(id, c)
	}
	out := c.e
	out.Value = secret.New(c.e.Value.Bytes())
	out.Submitters = slices.Clone(c.e.Submitters)
	return out, nil
}

// open turns a record into an entry, checking the seal and the id.
func (v *Vault) open(rec Record) (Entry, error) {
	if len(rec.ID) != IDLen || !ValidClass(rec.Class) {
		return Entry{}, fmt.Errorf("open token %s: %w", rec.ID, errCorrupt)
	}
	val, err := v.keys.Open(rec.ID, rec.Sealed)
	if err != nil {
		return Entry{}, fmt.Errorf("open token %s: %w", rec.ID, err)
	}
	if v.keys.ID(val) != rec.ID {
		clear(val)
		return Entry{}, fmt.Errorf("open token %s: %w", rec.ID, ErrSealBroken)
	}
	sv := secret.New(val)
	clear(val)
	return entryOf(Token{Class: rec.Class, ID: rec.ID}, sv, rec), nil
}

// Each calls fn with every stored entry, opened, for building the known-value set at
// startup. It stops at the first error, including a record that does not open. fn
// owns each Value it gets.
func (v *Vault) Each(ctx context.Context, fn func(Entry) error) error {
	err := v.store.Each(ctx, func(rec Record) error {
		e, err := v.open(rec)
		if err != nil {
			return err
		}
		return fn(e)
	})
	if err != nil {
		return fmt.Errorf("load tokens: %w", err)
	}
	return nil
}

// Ping checks the store.
func (v *Vault) Ping(ctx context.Context) error { return v.store.Ping(ctx) }

// Stats returns the cache hit and miss counts.
func (v *Vault) Stats() VaultStats {
	return VaultStats{
		TokenizeHits:   v.tokHit.Load(),
		TokenizeMisses: v.tokMiss.Load(),
		LookupHits:     v.lookHit.Load(),
		LookupMisses:   v.lookMiss.Load(),
	}
}
