// Package secret holds the Value type that carries secret bytes through cloakroom
// without ever printing them: every formatting path (fmt, slog, JSON) yields a
// redacted form.
package secret

import (
	"fmt"
	"log/slog"
	"strconv"
)

// Redacted is what every formatting method of Value prints.
const Redacted = "[REDACTED]"

// Value is a secret byte string that refuses to be printed. The zero Value is empty.
// A Value is not safe for concurrent mutation (Zero); reading it concurrently is fine.
type Value struct {
	b []byte
}

// New returns a Value holding a copy of b.
func New(b []byte) Value {
	return Value{b: append([]byte(nil), b...)}
}

// Bytes returns the secret bytes. The caller must not retain or modify them past the
// Value's lifetime, and must never log them.
func (v Value) Bytes() []byte { return v.b }

// Len returns the length of the secret in bytes.
func (v Value) Len() int { return len(v.b) }

// Zero overwrites the secret bytes with zeros.
func (v *Value) Zero() {
	clear(v.b)
	v.b = nil
}

// String returns the redacted form.
func (v Value) String() string { return Redacted }

// GoString returns the redacted form for %#v.
func (v Value) GoString() string { return "secret.Value(" + Redacted + ")" }

// Format prints the redacted form for every verb.
func (v Value) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(Redacted)) }

// LogValue makes slog print the redacted form.
func (v Value) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalJSON encodes the redacted form.
func (v Value) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(Redacted)), nil }

// MarshalText encodes the redacted form.
func (v Value) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// Preview returns a short, non-reversible description of a secret for humans: its
// length and nothing of its content.
func Preview(b []byte) string {
	return "[REDACTED " + strconv.Itoa(len(b)) + " bytes]"
}
