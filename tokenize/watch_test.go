package tokenize

import (
	"context"
	"testing"
	"time"

	"github.com/cloakroom/cloakroom/internal/testutil"
)

// A value one replica tokenizes reaches the other's watcher, opened.
func TestVaultWatch(t *testing.T) {
	client, prefix := testutil.Redis(t)
	keys := testKeys(t, 1)
	a, _ := NewVault(VaultConfig{Keys: keys, Store: NewRedisStore(client, prefix)})
	b, _ := NewVault(VaultConfig{Keys: keys, Store: NewRedisStore(client, prefix)})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan string, 4)
	done := make(chan error, 1)
	go func() {
		done <- b.Watch(ctx, func(e Entry) { got <- string(e.Value.Bytes()); e.Value.Zero() }, func(err error) { t.Error(err) })
	}()
	// The subscription is asynchronous: tokenize until the watcher has seen a value.
	deadline := time.After(10 * time.Second)
	for i := 0; ; i++ {
		val := "replicated-secret-value-" + string(rune('a'+i%26))
		if _, err := a.Tokenize(ctx, []byte(val), "secret", "test", "alice"); err != nil {
			t.Fatal(err)
		}
		select {
		case v := <-got:
			if len(v) < len("replicated-secret-value-") {
				t.Fatalf("watcher got %d bytes", len(v))
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Watch returned %v after cancel", err)
			}
			return
		case <-deadline:
			t.Fatal("the other vault never heard of the new value")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// A store that is not shared has nothing to watch: Watch returns at once.
func TestVaultWatchBolt(t *testing.T) {
	s, err := OpenBolt(t.TempDir() + "/v.db")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v, _ := NewVault(VaultConfig{Keys: testKeys(t, 1), Store: s})
	if err := v.Watch(context.Background(), func(Entry) {}, nil); err != nil {
		t.Fatal(err)
	}
}
