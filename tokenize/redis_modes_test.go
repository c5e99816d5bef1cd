package tokenize

import (
	"context"
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/cloakroom/cloakroom/internal/testutil"
)

// The store works the same through a Redis Cluster (keys of one token share a hash
// slot; SCAN runs on every master) and through Sentinel.
func TestRedisStoreModes(t *testing.T) {
	ctx := context.Background()
	clients := map[string]func(t *testing.T) redis.UniversalClient{
		"cluster": func(t *testing.T) redis.UniversalClient {
			c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: testutil.RedisCluster(t)})
			t.Cleanup(func() { _ = c.Close() })
			return c
		},
		"sentinel": func(t *testing.T) redis.UniversalClient {
			addr, master := testutil.RedisSentinel(t)
			c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: master, SentinelAddrs: []string{addr}})
			t.Cleanup(func() { _ = c.Close() })
			return c
		},
	}
	for name, mk := range clients {
		t.Run(name, func(t *testing.T) {
			s := NewRedisStore(mk(t), "modes:")
			keys := testKeys(t, 1)
			v, err := NewVault(VaultConfig{Keys: keys, Store: s})
			if err != nil {
				t.Fatal(err)
			}
			if err := CheckKey(ctx, s, keys); err != nil {
				t.Fatal(err)
			}
			tokens := map[string]string{}
			for _, val := range []string{"first-secret-value-1", "second-secret-value-2", "third-secret-value-3", "fourth-secret-value-4"} {
				tok, err := v.Tokenize(ctx, []byte(val), "secret", "test", "alice")
				if err != nil {
					t.Fatal(err)
				}
				tokens[tok] = val
			}
			// A fresh vault (empty cache) reads them back from the store.
			v2, _ := NewVault(VaultConfig{Keys: keys, Store: s})
			for tok, val := range tokens {
				parsed, _ := Parse(tok)
				e, err := v2.Lookup(ctx, parsed)
				if err != nil || string(e.Value.Bytes()) != val {
					t.Errorf("lookup %s: %v", tok, err)
				}
			}
			n := 0
			if err := s.Each(ctx, func(Record) error { n++; return nil }); err != nil || n != len(tokens) {
				t.Errorf("Each: got %d records, %v; want %d", n, err, len(tokens))
			}
			if err := CheckKey(ctx, s, testKeys(t, 2)); !errors.Is(err, ErrKeyMismatch) {
				t.Errorf("another key: got %v", err)
			}
		})
	}
}
