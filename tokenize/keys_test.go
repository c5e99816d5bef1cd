package tokenize

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func testMaster(b byte) []byte { return bytes.Repeat([]byte{b}, MasterKeyLen) }

func testKeys(t testing.TB, b byte) *Keys {
	t.Helper()
	k, err := NewKeys(testMaster(b))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestNewKeysLength(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		wantErr bool
	}{
		{name: "empty", n: 0, wantErr: true},
		{name: "short", n: 31, wantErr: true},
		{name: "exact", n: 32},
		{name: "long", n: 33, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewKeys(make([]byte, tt.n))
			if (err != nil) != tt.wantErr {
				t.Fatalf("NewKeys(%d bytes): got err %v, want error %v", tt.n, err, tt.wantErr)
			}
		})
	}
}

func TestGenerateMasterKey(t *testing.T) {
	a, err := GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != MasterKeyLen || bytes.Equal(a, b) {
		t.Fatalf("got keys of %d bytes, equal %v; want 32 bytes, distinct", len(a), bytes.Equal(a, b))
	}
	if _, err := NewKeys(a); err != nil {
		t.Fatalf("NewKeys(generated): %v", err)
	}
}

func TestID(t *testing.T) {
	k1, k1again, k2 := testKeys(t, 1), testKeys(t, 1), testKeys(t, 2)
	value := []byte("AKIAIOSFODNN7EXAMPLE")
	id := k1.ID(value)

	t.Run("format", func(t *testing.T) {
		if len(id) != IDLen || IDLen*5 != 100 {
			t.Fatalf("got id length %d (%d bits), want %d (100 bits)", len(id), len(id)*5, IDLen)
		}
		if strings.Trim(id, "abcdefghijklmnopqrstuvwxyz234567") != "" {
			t.Fatalf("got id %q, want only lowercase base32 characters", id)
		}
		if _, ok := Parse(Token{Class: "aws", ID: id}.String()); !ok {
			t.Fatalf("token with id %q does not parse", id)
		}
	})
	t.Run("deterministic", func(t *testing.T) {
		if got := k1again.ID(value); got != id {
			t.Fatalf("got %q from the same master, want %q", got, id)
		}
	})
	t.Run("other master", func(t *testing.T) {
		if got := k2.ID(value); got == id {
			t.Fatalf("got the same id %q under another master", got)
		}
	})
	t.Run("other value", func(t *testing.T) {
		if got := k1.ID([]byte("AKIAIOSFODNN7EXAMPLF")); got == id {
			t.Fatalf("got the same id %q for another value", got)
		}
	})
	t.Run("independent computation", func(t *testing.T) {
		idKey, err := hkdf.Key(sha256.New, testMaster(1), nil, "cloakroom token id v1", 32)
		if err != nil {
			t.Fatal(err)
		}
		m := hmac.New(sha256.New, idKey)
		m.Write(value)
		want := strings.ToLower(base32.StdEncoding.EncodeToString(m.Sum(nil)))[:IDLen]
		if id != want {
			t.Fatalf("got %q, want %q (first 100 bits of HMAC-SHA256 in base32)", id, want)
		}
	})
	t.Run("known answer", func(t *testing.T) {
		// Locks the derivation: changing it would change every deployed token.
		const want = "ruxncyjwzmotozfyv7mf"
		if got := testKeys(t, 7).ID([]byte("hello")); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	})
}

func TestFingerprint(t *testing.T) {
	f1, f2 := testKeys(t, 1).Fingerprint(), testKeys(t, 2).Fingerprint()
	if len(f1) != 16 || strings.Trim(f1, "0123456789abcdef") != "" {
		t.Fatalf("got fingerprint %q, want 16 hex characters", f1)
	}
	if f1 != testKeys(t, 1).Fingerprint() || f1 == f2 {
		t.Fatalf("got %q and %q for masters 1 and 2, want stable and distinct", f1, f2)
	}
	if strings.Contains(hex.EncodeToString(testMaster(1)), f1) {
		t.Fatalf("fingerprint %q is part of the master key", f1)
	}
}

func TestSealOpen(t *testing.T) {
	k := testKeys(t, 1)
	tests := []struct {
		name  string
		value []byte
	}{
		{name: "empty", value: nil},
		{name: "short", value: []byte("hunter2")},
		{name: "pem", value: []byte("-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n")},
		{name: "binary", value: []byte{0, 1, 2, 0xff, 0xfe}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := k.ID(tt.value)
			sealed, err := k.Seal(id, tt.value)
			if err != nil {
				t.Fatal(err)
			}
			if len(tt.value) > 0 && bytes.Contains(sealed, tt.value) {
				t.Fatal("sealed bytes contain the value")
			}
			got, err := k.Open(id, sealed)
			if err != nil || !bytes.Equal(got, tt.value) {
				t.Fatalf("Open: got %x, %v; want %x", got, err, tt.value)
			}
			again, _ := k.Seal(id, tt.value)
			if bytes.Equal(again, sealed) {
				t.Fatal("two seals of one value are equal, want distinct nonces")
			}
		})
	}
}

func TestOpenRejects(t *testing.T) {
	k := testKeys(t, 1)
	value := []byte("canary-Zq8xW2-secret")
	id := k.ID(value)
	sealed, err := k.Seal(id, value)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 1
		return b
	}
	tests := []struct {
		name   string
		keys   *Keys
		id     string
		sealed []byte
	}{
		{name: "nonce flipped", keys: k, id: id, sealed: flip(0)},
		{name: "ciphertext flipped", keys: k, id: id, sealed: flip(nonceLen + 1)},
		{name: "tag flipped", keys: k, id: id, sealed: flip(len(sealed) - 1)},
		{name: "truncated", keys: k, id: id, sealed: sealed[:len(sealed)-1]},
		{name: "too short", keys: k, id: id, sealed: sealed[:nonceLen]},
		{name: "empty", keys: k, id: id, sealed: nil},
		{name: "extended", keys: k, id: id, sealed: append(bytes.Clone(sealed), 0)},
		{name: "other id (AAD)", keys: k, id: k.ID([]byte("other")), sealed: sealed},
		{name: "other master", keys: testKeys(t, 2), id: id, sealed: sealed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.keys.Open(tt.id, tt.sealed)
			if !errors.Is(err, ErrSealBroken) || got != nil {
				t.Fatalf("got %d bytes, %v; want nil, ErrSealBroken", len(got), err)
			}
			if strings.Contains(err.Error(), string(value)) {
				t.Fatalf("error %q contains the value", err)
			}
		})
	}
}

func BenchmarkID(b *testing.B) {
	k := testKeys(b, 1)
	v := []byte("ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789")
	b.ReportAllocs()
	b.SetBytes(int64(len(v)))
	for b.Loop() {
		_ = k.ID(v)
	}
}
