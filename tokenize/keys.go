package tokenize

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"hash"
	"sync"
)

// MasterKeyLen is the length in bytes of a master key.
const MasterKeyLen = 32

// HKDF info strings and the fingerprint label. Changing any of them changes every
// token id or breaks every sealed value, so they are versioned.
const (
	infoIDKey      = "cloakroom token id v1"
	infoSealKey    = "cloakroom seal v1"
	fingerprintMsg = "cloakroom key fingerprint v1"
	fingerprintLen = 8 // bytes of HMAC output in Fingerprint (16 hex characters)
)

const nonceLen = 12

// ErrSealBroken reports a sealed value that does not open under the keys and token id
// given: wrong key, wrong id, truncated or tampered bytes.
var ErrSealBroken = errors.New("sealed value does not open")

// idEncoding is lowercase base32 without padding: the token id alphabet.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Keys holds the keys derived from a master key: an HMAC-SHA256 key for token ids and
// an AES-256-GCM key for sealing values. It does not keep the master key. Keys is safe
// for concurrent use.
type Keys struct {
	aead   cipher.AEAD
	macs   sync.Pool // of *idMAC
	finger string
}

// NewKeys derives Keys from a 32-byte master key with HKDF-SHA256.
func NewKeys(master []byte) (*Keys, error) {
	if len(master) != MasterKeyLen {
		return nil, errors.New("master key must be 32 bytes")
	}
	idKey, err := hkdf.Key(sha256.New, master, nil, infoIDKey, 32)
	if err != nil {
		return nil, errors.New("derive id key")
	}
	sealKey, err := hkdf.Key(sha256.New, master, nil, infoSealKey, 32)
	if err != nil {
		return nil, errors.New("derive seal key")
	}
	block, err := aes.NewCipher(sealKey)
	clear(sealKey)
	if err != nil {
		return nil, errors.New("seal cipher")
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, errors.New("seal cipher")
	}
	fm := hmac.New(sha256.New, master)
	fm.Write([]byte(fingerprintMsg))
	k := &Keys{aead: aead, finger: hex.EncodeToString(fm.Sum(nil)[:fingerprintLen])}
	k.macs.New = func() any { return &idMAC{h: hmac.New(sha256.New, idKey)} }
	return k, nil
}

// GenerateMasterKey returns 32 random bytes from crypto/rand.
func GenerateMasterKey() ([]byte, error) {
	b := make([]byte, MasterKeyLen)
	if _, err := rand.Read(b); err != nil {
		return nil, errors.New("generate master key: no randomness")
	}
	return b, nil
}

// ID returns the token id for value: the first IDLen characters (100 bits) of the
// lowercase unpadded base32 form of HMAC-SHA256(id key, value).
func (k *Keys) ID(value []byte) string {
	m := k.macs.Get().(*idMAC)
	m.h.Reset()
	m.h.Write(value)
	sum := m.h.Sum(m.sum[:0])
	var out [24]byte // 15 bytes encode to 24 characters
	idEncoding.Encode(out[:], sum[:15])
	k.macs.Put(m)
	return string(out[:IDLen])
}

// idMAC is a reusable HMAC state with room for its sum.
type idMAC struct {
	h   hash.Hash
	sum [sha256.Size]byte
}

// Seal encrypts value with AES-256-GCM under a random 12-byte nonce, binding it to the
// token id as associated data. The result is nonce || ciphertext || tag.
func (k *Keys) Seal(id string, value []byte) ([]byte, error) {
	out := make([]byte, nonceLen, nonceLen+len(value)+k.aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return nil, errors.New("seal: no randomness")
	}
	return k.aead.Seal(out, out[:nonceLen], value, []byte(id)), nil
}

// Open reverses Seal. It returns ErrSealBroken if sealed was not made by Seal with
// the same keys and id, or was changed since.
func (k *Keys) Open(id string, sealed []byte) ([]byte, error) {
	if len(sealed) < nonceLen+k.aead.Overhead() {
		return nil, ErrSealBroken
	}
	v, err := k.aead.Open(nil, sealed[:nonceLen], sealed[nonceLen:], []byte(id))
	if err != nil {
		return nil, ErrSealBroken
	}
	return v, nil
}

// Fingerprint returns a short hex string identifying the master key:
// HMAC-SHA256(master, "cloakroom key fingerprint v1") cut to 8 bytes. It reveals
// nothing usable about the key and is safe to store and print, so a store can tell
// which key its records were sealed under.
func (k *Keys) Fingerprint() string { return k.finger }
