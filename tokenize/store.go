package tokenize

import (
	"context"
	"errors"
	"slices"
	"time"
)

// ErrNotFound reports a token id that no store record holds (or, from Vault.Lookup, a
// token whose class does not match the stored one).
var ErrNotFound = errors.New("token not found")

// Record is what a Store keeps per token. It never holds the plaintext value: Sealed
// is the value sealed by Keys.Seal under ID.
type Record struct {
	ID    string // token id (Keys.ID of the value)
	Class string // token class
	Rule  string // id of the detection rule that found the value first
	// Sealed is the value sealed under ID.
	Sealed []byte
	// FirstSeen is when the value was first stored.
	FirstSeen time.Time
	// Submitters are the principals that sent this value in a request, sorted.
	Submitters []string
}

// Store is the persistence interface of a Vault. Implementations are safe for
// concurrent use.
type Store interface {
	// Put creates the record if its ID is absent (if present, it keeps the existing
	// Class, Rule, Sealed and FirstSeen) and adds principal to Submitters. It returns
	// the stored record, so the existing class wins.
	Put(ctx context.Context, rec Record, principal string) (Record, error)
	// Get returns the record for id, or ErrNotFound.
	Get(ctx context.Context, id string) (Record, error)
	// Each calls fn for every record, in no particular order, stopping at the first
	// error fn returns. It is meant for loading known values at start.
	Each(ctx context.Context, fn func(Record) error) error
	// Ping checks that the store is reachable.
	Ping(ctx context.Context) error
	// Close releases the store.
	Close() error
}

// addSubmitter returns subs (sorted) with p inserted, and whether it was absent.
func addSubmitter(subs []string, p string) ([]string, bool) {
	i, found := slices.BinarySearch(subs, p)
	if found {
		return subs, false
	}
	return slices.Insert(subs, i, p), true
}

var errCorrupt = errors.New("corrupt token record")
