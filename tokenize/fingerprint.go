package tokenize

import (
	"context"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// ErrKeyMismatch means a store was sealed under another master key than the one
// given: tokens minted now could not be read by the replicas (or the earlier runs)
// that use the other key, and theirs could not be read here.
var ErrKeyMismatch = errors.New("master key differs from the one the store was sealed with")

// KeyRecorder is a Store that records the fingerprint of the master key its values
// are sealed with. Both stores of this package are.
type KeyRecorder interface {
	// ClaimKey records fingerprint as the store's master key when none is recorded,
	// and returns the one recorded (fingerprint itself after a first claim).
	ClaimKey(ctx context.Context, fingerprint string) (recorded string, err error)
}

// CheckKey records keys' fingerprint in s, or checks it against the one recorded:
// a mismatch returns an error wrapping ErrKeyMismatch that names both fingerprints
// (which identify keys without revealing them). A store that records no key passes.
func CheckKey(ctx context.Context, s Store, keys *Keys) error {
	kr, ok := s.(KeyRecorder)
	if !ok {
		return nil
	}
	recorded, err := kr.ClaimKey(ctx, keys.Fingerprint())
	if err != nil {
		return fmt.Errorf("check master key: %w", err)
	}
	if recorded != keys.Fingerprint() {
		return fmt.Errorf("%w: this key's fingerprint is %s, the store's is %s", ErrKeyMismatch, keys.Fingerprint(), recorded)
	}
	return nil
}

var boltMeta = []byte("meta")

// ClaimKey implements KeyRecorder: the fingerprint lives in the "meta" bucket.
func (s *BoltStore) ClaimKey(_ context.Context, fingerprint string) (string, error) {
	var recorded string
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(boltMeta)
		if err != nil {
			return err
		}
		if v := b.Get([]byte("key_fingerprint")); v != nil {
			recorded = string(v)
			return nil
		}
		recorded = fingerprint
		return b.Put([]byte("key_fingerprint"), []byte(fingerprint))
	})
	return recorded, err
}

// ClaimKey implements KeyRecorder: SET <prefix>key_fingerprint NX, then GET, so the
// first replica to start records its key and every other one is checked against it.
func (s *RedisStore) ClaimKey(ctx context.Context, fingerprint string) (string, error) {
	k := s.prefix + "key_fingerprint"
	if err := s.client.SetNX(ctx, k, fingerprint, 0).Err(); err != nil {
		return "", redisErr(err)
	}
	v, err := s.client.Get(ctx, k).Result()
	if err != nil {
		return "", redisErr(err)
	}
	return v, nil
}
