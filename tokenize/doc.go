// Package tokenize replaces secret values with opaque, deterministic tokens and keeps
// the values, sealed, in a vault.
//
// A token is cloak_<class>_<id> (see Pattern): id is 100 bits of HMAC-SHA256 of the
// value under a key derived from the deployment's master key, so the same value gets
// the same token in every process and replica sharing the key.
//
// The vault side:
//   - Keys derives the id key and an AES-256-GCM sealing key from a 32-byte master
//     key with HKDF-SHA256. Values are sealed with the token id as associated data.
//   - Store persists Records (sealed value, class, rule, first sighting, submitting
//     principals): BoltStore is the embedded single-file default, RedisStore is
//     shared by replicas.
//   - Vault mints tokens (Tokenize) and opens them (Lookup) with bounded LRU caches
//     in front of the store.
//
// The package knows nothing of HTTP or policy.
package tokenize
