package resolver

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Defaults of the approval stores (ApprovalOptions) and of Resolver.
const (
	// DefaultApprovalTTL is how long a request stays pending when it says nothing
	// else (Approval.Expires zero, ResolverConfig.ApprovalTTL zero).
	DefaultApprovalTTL = time.Hour
	// DefaultOnceTTL is how long an unused one-shot grant stays usable.
	DefaultOnceTTL = 24 * time.Hour
	// DefaultRetention is how long a store keeps an approval once it is over (denied,
	// expired, or granted and past its grant's Expires), for listing and audit.
	DefaultRetention = 7 * 24 * time.Hour
)

// ApprovalOptions are the settings both approval stores share. Set them before
// first use.
type ApprovalOptions struct {
	// Now returns the current time; nil means time.Now. Tests inject a clock.
	Now func() time.Time
	// OnceTTL bounds a one-shot grant: unused after that long, it lapses. Zero
	// means DefaultOnceTTL.
	OnceTTL time.Duration
	// Retention is how long an approval is kept once it is over: denied (from
	// DecidedAt), expired (from Expires or when it was marked), granted (from its
	// grant's Expires). Each write prunes what is older. Zero means
	// DefaultRetention. A pending approval is never pruned before it expires.
	Retention time.Duration
}

func (o *ApprovalOptions) now() time.Time {
	if o.Now != nil {
		return o.Now().UTC()
	}
	return time.Now().UTC()
}

func (o *ApprovalOptions) onceTTL() time.Duration { return cmp.Or(o.OnceTTL, DefaultOnceTTL) }

func (o *ApprovalOptions) retention() time.Duration { return cmp.Or(o.Retention, DefaultRetention) }

// pending returns a as a new pending approval: a fresh id, created now, expiring
// at a.Expires (DefaultApprovalTTL from now when zero), with no decision.
func (o *ApprovalOptions) pending(a Approval) (Approval, error) {
	if a.TokenID == "" {
		return Approval{}, errors.New("request approval: no token id")
	}
	id, err := newApprovalID()
	if err != nil {
		return Approval{}, err
	}
	now := o.now()
	a.ID, a.Status, a.Created = id, Pending, now
	if a.Expires.IsZero() {
		a.Expires = now.Add(DefaultApprovalTTL)
	}
	a.Expires = a.Expires.UTC()
	a.DecidedBy, a.DecidedAt, a.Note, a.Grant = "", time.Time{}, "", nil
	return a, nil
}

// decided returns a granted or denied, or ErrNotPending when it is not live.
func (o *ApprovalOptions) decided(a Approval, grant bool, dur time.Duration, by, note string) (Approval, error) {
	now := o.now()
	if !live(a, now) {
		return Approval{}, fmt.Errorf("decide approval %s: %w", a.ID, ErrNotPending)
	}
	a.DecidedBy, a.DecidedAt, a.Note = by, now, note
	if !grant {
		a.Status = Denied
		return a, nil
	}
	a.Status = Granted
	g := Grant{ID: a.ID, TokenID: a.TokenID, Principal: a.Principal, Direction: a.Direction, Host: a.Host}
	if dur == 0 {
		g.Once, g.Expires = true, now.Add(o.onceTTL())
	} else {
		g.Expires = now.Add(dur)
	}
	a.Grant = &g
	return a, nil
}

// expired returns a marked Expired (DecidedAt set to now) and true when it is
// pending past its Expires.
func (o *ApprovalOptions) expired(a Approval) (Approval, bool) {
	now := o.now()
	if a.Status != Pending || now.Before(a.Expires) {
		return a, false
	}
	a.Status, a.DecidedAt = Expired, now
	return a, true
}

// pruneBefore is the doneAt before which approvals are pruned.
func (o *ApprovalOptions) pruneBefore() time.Time { return o.now().Add(-o.retention()) }

// live reports whether a is pending and unexpired at now.
func live(a Approval, now time.Time) bool { return a.Status == Pending && now.Before(a.Expires) }

// view returns a as readers see it at now: a pending approval past its Expires
// reads as Expired (with a zero DecidedAt until Expire marks it).
func view(a Approval, now time.Time) Approval {
	if a.Status == Pending && !now.Before(a.Expires) {
		a.Status = Expired
	}
	return a
}

// usable reports whether a carries a grant that can be used at now.
func usable(a Approval, now time.Time) bool {
	return a.Status == Granted && a.Grant != nil && !a.Grant.Used && now.Before(a.Grant.Expires)
}

// doneAt is when a is over: its latest timestamp. Retention counts from it.
func doneAt(a Approval) time.Time {
	t := a.Expires
	if a.DecidedAt.After(t) {
		t = a.DecidedAt
	}
	if a.Grant != nil && a.Grant.Expires.After(t) {
		t = a.Grant.Expires
	}
	return t
}

// pickGrant chooses the grant Use hands out from approvals of one scope: a
// time-bound one (the latest to expire) before a one-shot one (the first to expire).
func pickGrant(as []Approval, now time.Time) (Approval, bool) {
	var best Approval
	found := false
	for _, a := range as {
		if usable(a, now) && (!found || better(*a.Grant, *best.Grant)) {
			best, found = a, true
		}
	}
	return best, found
}

// better reports whether Use should hand out g rather than h.
func better(g, h Grant) bool {
	switch {
	case g.Once != h.Once:
		return !g.Once
	case g.Once:
		return g.Expires.Before(h.Expires)
	default:
		return g.Expires.After(h.Expires)
	}
}

// spent returns a with its one-shot grant marked used.
func spent(a Approval) Approval {
	g := *a.Grant
	g.Used = true
	a.Grant = &g
	return a
}

// grantsOf returns the usable grants among as, oldest first.
func grantsOf(as []Approval, now time.Time) []Grant {
	var gs []Grant
	for _, a := range as {
		if usable(a, now) {
			gs = append(gs, *a.Grant)
		}
	}
	slices.SortFunc(gs, func(x, y Grant) int { return x.Expires.Compare(y.Expires) })
	return gs
}

// listed filters as (seen at now) by status, newest first.
func listed(as []Approval, status Status, now time.Time) []Approval {
	out := make([]Approval, 0, len(as))
	for _, a := range as {
		a = view(a, now)
		if status == "" || a.Status == status {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(x, y Approval) int {
		return cmp.Or(y.Created.Compare(x.Created), cmp.Compare(y.ID, x.ID))
	})
	return out
}

// approvalIDLen is the length of "apr_" and 16 hex digits.
const approvalIDLen = 20

// newApprovalID returns "apr_" and 16 random hex digits.
func newApprovalID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("approval id: %w", err)
	}
	return "apr_" + hex.EncodeToString(b[:]), nil
}

// validID reports whether id looks like an approval id.
func validID(id string) bool {
	if len(id) != approvalIDLen || id[:4] != "apr_" {
		return false
	}
	for _, c := range []byte(id[4:]) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// scopeKey names a scope in store keys: 32 hex digits of the SHA-256 of its
// length-prefixed fields (so principals and hosts never appear in key names and
// no field can run into the next).
func scopeKey(s Scope) string {
	h := sha256.New()
	for _, f := range []string{s.TokenID, s.Principal, string(s.Direction), s.Host} {
		var n [binary.MaxVarintLen64]byte
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(f)))])
		h.Write([]byte(f))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

var errCorruptApproval = errors.New("corrupt approval record")

func decodeApproval(id string, b []byte) (Approval, error) {
	var a Approval
	if err := json.Unmarshal(b, &a); err != nil || a.ID != id {
		return Approval{}, fmt.Errorf("approval %s: %w", id, errCorruptApproval)
	}
	return a, nil
}

// Bolt buckets of BoltApprovals.
var (
	boltApprovals = []byte("approvals") // id -> JSON Approval
	boltPending   = []byte("pending")   // scope key -> id of its pending approval
	boltGrants    = []byte("grants")    // scope key + id -> empty
	boltDone      = []byte("done")      // doneAt (8 bytes, big endian ns) + id -> scope key
)

// boltApprovalsLockTimeout is how long NewBoltApprovals waits for the file lock.
const boltApprovalsLockTimeout = time.Second

// BoltApprovals is an ApprovalStore in its own bbolt file, for one process (the
// embedded default). Watch announces decisions to subscribers in this process. It
// is safe for concurrent use.
type BoltApprovals struct {
	ApprovalOptions

	db     *bolt.DB
	closed chan struct{}

	mu   sync.Mutex
	subs map[int]func(id string)
	next int
}

var _ ApprovalStore = (*BoltApprovals)(nil)

// NewBoltApprovals opens or creates the approvals file at path (mode 0600). It
// fails after a second if another process holds the file.
func NewBoltApprovals(path string) (*BoltApprovals, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: boltApprovalsLockTimeout})
	if err != nil {
		return nil, fmt.Errorf("open approvals %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{boltApprovals, boltPending, boltGrants, boltDone} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open approvals %s: %w", path, err)
	}
	return &BoltApprovals{db: db, closed: make(chan struct{}), subs: map[int]func(string){}}, nil
}

// Close releases the file. Watch calls return.
func (s *BoltApprovals) Close() error {
	s.mu.Lock()
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
	s.mu.Unlock()
	return s.db.Close()
}

// Request implements ApprovalStore.
func (s *BoltApprovals) Request(ctx context.Context, a Approval) (Approval, bool, error) {
	if err := ctx.Err(); err != nil {
		return Approval{}, false, err
	}
	sk := []byte(scopeKey(a.Scope()))
	// Most calls find the pending one: answer them without a write transaction.
	var cur Approval
	var found bool
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		cur, found, err = s.pendingFor(tx, sk)
		return err
	})
	if err != nil || found {
		return cur, false, err
	}
	a, err = s.pending(a)
	if err != nil {
		return Approval{}, false, err
	}
	created := false
	err = s.db.Update(func(tx *bolt.Tx) error {
		var err error
		if cur, found, err = s.pendingFor(tx, sk); err != nil || found {
			return err
		}
		created = true
		if err := s.put(tx, nil, a); err != nil {
			return err
		}
		return s.prune(tx)
	})
	if err != nil {
		return Approval{}, false, err
	}
	if !created {
		return cur, false, nil
	}
	return a, true, nil
}

// pendingFor returns the live pending approval of the scope key, if any.
func (s *BoltApprovals) pendingFor(tx *bolt.Tx, sk []byte) (Approval, bool, error) {
	id := tx.Bucket(boltPending).Get(sk)
	if id == nil {
		return Approval{}, false, nil
	}
	a, err := s.get(tx, string(id))
	if errors.Is(err, ErrApprovalNotFound) {
		return Approval{}, false, nil
	}
	if err != nil || !live(a, s.now()) {
		return Approval{}, false, err
	}
	return a, true, nil
}

// Get implements ApprovalStore.
func (s *BoltApprovals) Get(ctx context.Context, id string) (Approval, error) {
	if err := ctx.Err(); err != nil {
		return Approval{}, err
	}
	var a Approval
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		a, err = s.get(tx, id)
		return err
	})
	if err != nil {
		return Approval{}, err
	}
	return view(a, s.now()), nil
}

func (s *BoltApprovals) get(tx *bolt.Tx, id string) (Approval, error) {
	if !validID(id) {
		return Approval{}, ErrApprovalNotFound
	}
	v := tx.Bucket(boltApprovals).Get([]byte(id))
	if v == nil {
		return Approval{}, ErrApprovalNotFound
	}
	return decodeApproval(id, v)
}

// List implements ApprovalStore.
func (s *BoltApprovals) List(ctx context.Context, status Status) ([]Approval, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var all []Approval
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(boltApprovals).ForEach(func(k, v []byte) error {
			a, err := decodeApproval(string(k), v)
			if err != nil {
				return err
			}
			all = append(all, a)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return listed(all, status, s.now()), nil
}

// Decide implements ApprovalStore, and announces the decision to Watch.
func (s *BoltApprovals) Decide(ctx context.Context, id string, grant bool, dur time.Duration, by, note string) (Approval, error) {
	if err := ctx.Err(); err != nil {
		return Approval{}, err
	}
	if dur < 0 {
		return Approval{}, errors.New("decide approval: negative grant duration")
	}
	var out Approval
	err := s.db.Update(func(tx *bolt.Tx) error {
		old, err := s.get(tx, id)
		if err != nil {
			return err
		}
		if out, err = s.decided(old, grant, dur, by, note); err != nil {
			return err
		}
		if err := s.put(tx, &old, out); err != nil {
			return err
		}
		return s.prune(tx)
	})
	if err != nil {
		return Approval{}, err
	}
	s.notify(id)
	return out, nil
}

// Expire implements ApprovalStore, and announces the change to Watch.
func (s *BoltApprovals) Expire(ctx context.Context, id string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	var a Approval
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		a, err = s.get(tx, id)
		return err
	})
	if err != nil {
		return false, err
	}
	if _, ok := s.expired(a); !ok {
		return false, nil
	}
	changed := false
	err = s.db.Update(func(tx *bolt.Tx) error {
		old, err := s.get(tx, id)
		if err != nil {
			return err
		}
		a, ok := s.expired(old)
		if !ok {
			return nil
		}
		changed = true
		if err := s.put(tx, &old, a); err != nil {
			return err
		}
		return s.prune(tx)
	})
	if err != nil || !changed {
		return false, err
	}
	s.notify(id)
	return true, nil
}

// Grants implements ApprovalStore.
func (s *BoltApprovals) Grants(ctx context.Context, sc Scope) ([]Grant, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var as []Approval
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		as, err = s.scoped(tx, []byte(scopeKey(sc)))
		return err
	})
	if err != nil {
		return nil, err
	}
	return grantsOf(as, s.now()), nil
}

// scoped returns the granted approvals of a scope key.
func (s *BoltApprovals) scoped(tx *bolt.Tx, sk []byte) ([]Approval, error) {
	var as []Approval
	c := tx.Bucket(boltGrants).Cursor()
	for k, _ := c.Seek(sk); k != nil && bytes.HasPrefix(k, sk); k, _ = c.Next() {
		a, err := s.get(tx, string(k[len(sk):]))
		if errors.Is(err, ErrApprovalNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		as = append(as, a)
	}
	return as, nil
}

// Use implements ApprovalStore: a time-bound grant is read in a read transaction; a
// one-shot grant is found and spent in one write transaction.
func (s *BoltApprovals) Use(ctx context.Context, sc Scope) (Grant, bool, error) {
	if err := ctx.Err(); err != nil {
		return Grant{}, false, err
	}
	sk := []byte(scopeKey(sc))
	var a Approval
	var ok bool
	err := s.db.View(func(tx *bolt.Tx) error {
		as, err := s.scoped(tx, sk)
		a, ok = pickGrant(as, s.now())
		return err
	})
	if err != nil || !ok {
		return Grant{}, false, err
	}
	if !a.Grant.Once {
		return *a.Grant, true, nil
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		as, err := s.scoped(tx, sk)
		if err != nil {
			return err
		}
		var old Approval
		if old, ok = pickGrant(as, s.now()); !ok {
			return nil
		}
		a = old
		if a.Grant.Once {
			a = spent(old)
			return s.put(tx, &old, a)
		}
		return nil
	})
	if err != nil || !ok {
		return Grant{}, false, err
	}
	return *a.Grant, true, nil
}

// put writes a (replacing old, if not nil) and keeps the indexes in step.
func (s *BoltApprovals) put(tx *bolt.Tx, old *Approval, a Approval) error {
	v, err := json.Marshal(a)
	if err != nil {
		return err
	}
	sk := []byte(scopeKey(a.Scope()))
	id := []byte(a.ID)
	if err := tx.Bucket(boltApprovals).Put(id, v); err != nil {
		return err
	}
	done := tx.Bucket(boltDone)
	if old != nil {
		if err := done.Delete(doneKey(*old)); err != nil {
			return err
		}
	}
	if err := done.Put(doneKey(a), sk); err != nil {
		return err
	}
	pending := tx.Bucket(boltPending)
	switch {
	case a.Status == Pending && old == nil:
		if err := pending.Put(sk, id); err != nil {
			return err
		}
	case a.Status != Pending && bytes.Equal(pending.Get(sk), id):
		if err := pending.Delete(sk); err != nil {
			return err
		}
	}
	if a.Grant != nil {
		return tx.Bucket(boltGrants).Put(append(sk, id...), nil)
	}
	return nil
}

// boltPruneLimit bounds how many approvals one write prunes.
const boltPruneLimit = 256

// prune deletes approvals over for longer than the retention.
func (s *BoltApprovals) prune(tx *bolt.Tx) error {
	before := uint64(s.pruneBefore().UnixNano())
	c := tx.Bucket(boltDone).Cursor()
	n := 0
	for k, sk := c.First(); k != nil && n < boltPruneLimit && binary.BigEndian.Uint64(k) < before; k, sk = c.First() {
		id := k[8:]
		if err := tx.Bucket(boltApprovals).Delete(id); err != nil {
			return err
		}
		if err := tx.Bucket(boltGrants).Delete(append(bytes.Clone(sk), id...)); err != nil {
			return err
		}
		if p := tx.Bucket(boltPending); bytes.Equal(p.Get(sk), id) {
			if err := p.Delete(sk); err != nil {
				return err
			}
		}
		if err := c.Delete(); err != nil {
			return err
		}
		n++
	}
	return nil
}

// doneKey is the key of a in the done bucket: doneAt as big-endian Unix
// nanoseconds (times before 1970 count as 0), then the id.
func doneKey(a Approval) []byte {
	k := make([]byte, 8, 8+len(a.ID))
	binary.BigEndian.PutUint64(k, uint64(max(doneAt(a).UnixNano(), 0)))
	return append(k, a.ID...)
}

// Watch implements ApprovalStore for this process: fn is called, in the goroutine
// that decided or expired an approval, after the change is committed; it must not
// block. Watch returns ctx's error, or an error once the store is closed.
func (s *BoltApprovals) Watch(ctx context.Context, fn func(id string)) error {
	s.mu.Lock()
	select {
	case <-s.closed:
		s.mu.Unlock()
		return errors.New("approvals store closed")
	default:
	}
	n := s.next
	s.next++
	s.subs[n] = fn
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.subs, n)
		s.mu.Unlock()
	}()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closed:
		return errors.New("approvals store closed")
	}
}

func (s *BoltApprovals) notify(id string) {
	s.mu.Lock()
	fns := make([]func(string), 0, len(s.subs))
	for _, fn := range s.subs {
		fns = append(fns, fn)
	}
	s.mu.Unlock()
	for _, fn := range fns {
		fn(id)
	}
}

// subscribers returns how many Watch calls are in place (for tests).
func (s *BoltApprovals) subscribers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.subs)
}
