package tokenize

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloakroom/cloakroom/internal/testutil"
)

// A store remembers the first master key that sealed it; another key is refused with
// both fingerprints named, whatever the store.
func TestCheckKey(t *testing.T) {
	ctx := context.Background()
	bolt, err := OpenBolt(filepath.Join(t.TempDir(), "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bolt.Close() })
	client, prefix := testutil.Redis(t)
	stores := map[string]Store{
		"bolt":  bolt,
		"redis": NewRedisStore(client, prefix),
	}
	k1, k2 := testKeys(t, 1), testKeys(t, 2)
	for name, s := range stores {
		t.Run(name, func(t *testing.T) {
			if err := CheckKey(ctx, s, k1); err != nil {
				t.Fatalf("first claim: %v", err)
			}
			if err := CheckKey(ctx, s, k1); err != nil {
				t.Fatalf("same key again: %v", err)
			}
			err := CheckKey(ctx, s, k2)
			if !errors.Is(err, ErrKeyMismatch) || !strings.Contains(err.Error(), k1.Fingerprint()) || !strings.Contains(err.Error(), k2.Fingerprint()) {
				t.Fatalf("other key: got %v, want ErrKeyMismatch naming both fingerprints", err)
			}
		})
	}
}
