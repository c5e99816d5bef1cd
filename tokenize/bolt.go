package tokenize

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// BoltLockTimeout is how long OpenBolt waits for the file lock before reporting that
// another process holds the store.
const BoltLockTimeout = time.Second

// ErrStoreLocked reports an embedded store file that another process (or another
// BoltStore in this process) has open.
var ErrStoreLocked = errors.New("store locked by another process")

var boltBucket = []byte("tokens")

// boltRecordV1 tags the version 1 encoding of a record value.
const boltRecordV1 = 1

// boltPage is how many records BoltStore.Each decodes per read transaction.
const boltPage = 256

// BoltStore is a Store in one bbolt file (the embedded default). Records live in the
// bucket "tokens", keyed by token id. It is safe for concurrent use.
type BoltStore struct {
	db *bolt.DB
}

var _ Store = (*BoltStore)(nil)

// OpenBolt opens or creates the bbolt store file at path with mode 0600. If another
// process holds the file, it fails after BoltLockTimeout with an error matching
// ErrStoreLocked.
func OpenBolt(path string) (*BoltStore, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: BoltLockTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open store %s: %w", path, ErrStoreLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(boltBucket)
		return err
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return &BoltStore{db: db}, nil
}

// Put implements Store. A repeat of a known (id, principal) pair only reads.
func (s *BoltStore) Put(ctx context.Context, rec Record, principal string) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	key := []byte(rec.ID)
	var out Record
	var known bool
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(boltBucket).Get(key)
		if v == nil {
			return nil
		}
		var err error
		out, err = decodeBoltRecord(rec.ID, v)
		if err != nil {
			return err
		}
		_, known = slices.BinarySearch(out.Submitters, principal)
		return nil
	})
	if err != nil || known {
		return out, err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(boltBucket)
		out = rec
		out.Submitters = nil
		if v := b.Get(key); v != nil {
			var err error
			if out, err = decodeBoltRecord(rec.ID, v); err != nil {
				return err
			}
		}
		var added bool
		out.Submitters, added = addSubmitter(out.Submitters, principal)
		if !added {
			return nil
		}
		return b.Put(key, encodeBoltRecord(out))
	})
	if err != nil {
		return Record{}, err
	}
	return out, nil
}

// Get implements Store.
func (s *BoltStore) Get(ctx context.Context, id string) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	var out Record
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(boltBucket).Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		var err error
		out, err = decodeBoltRecord(id, v)
		return err
	})
	return out, err
}

// Each implements Store. It reads in pages of short read transactions and calls fn
// outside them, so fn may use the store.
func (s *BoltStore) Each(ctx context.Context, fn func(Record) error) error {
	var after []byte
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		page := make([]Record, 0, boltPage)
		err := s.db.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(boltBucket).Cursor()
			k, v := c.First()
			if after != nil {
				k, v = c.Seek(after)
				if k != nil && bytes.Equal(k, after) {
					k, v = c.Next()
				}
			}
			for ; k != nil && len(page) < boltPage; k, v = c.Next() {
				rec, err := decodeBoltRecord(string(k), v)
				if err != nil {
					return err
				}
				page = append(page, rec)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, rec := range page {
			if err := fn(rec); err != nil {
				return err
			}
		}
		if len(page) < boltPage {
			return nil
		}
		after = []byte(page[len(page)-1].ID)
	}
}

// Ping implements Store: it fails once the store is closed.
func (s *BoltStore) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(func(*bolt.Tx) error { return nil })
}

// Close implements Store. It releases the file lock.
func (s *BoltStore) Close() error { return s.db.Close() }

// encodeBoltRecord encodes everything but the id (the bucket key):
//
//	version byte (1)
//	class, rule, sealed: uvarint length + bytes each
//	first seen: varint Unix nanoseconds
//	submitter count: uvarint, then uvarint length + bytes each
func encodeBoltRecord(r Record) []byte {
	n := 1 + 4*binary.MaxVarintLen64 + len(r.Class) + len(r.Rule) + len(r.Sealed)
	for _, s := range r.Submitters {
		n += binary.MaxVarintLen64 + len(s)
	}
	b := make([]byte, 0, n)
	b = append(b, boltRecordV1)
	b = appendField(b, []byte(r.Class))
	b = appendField(b, []byte(r.Rule))
	b = appendField(b, r.Sealed)
	b = binary.AppendVarint(b, r.FirstSeen.UnixNano())
	b = binary.AppendUvarint(b, uint64(len(r.Submitters)))
	for _, s := range r.Submitters {
		b = appendField(b, []byte(s))
	}
	return b
}

func appendField(b, f []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(f))), f...)
}

// decodeBoltRecord decodes v, copying everything out of it (bbolt memory is only
// valid inside the transaction).
func decodeBoltRecord(id string, v []byte) (Record, error) {
	if len(v) == 0 || v[0] != boltRecordV1 {
		return Record{}, fmt.Errorf("token %s: %w (unknown encoding)", id, errCorrupt)
	}
	d := decoder{b: v[1:]}
	r := Record{ID: id}
	r.Class = string(d.field())
	r.Rule = string(d.field())
	r.Sealed = bytes.Clone(d.field())
	r.FirstSeen = time.Unix(0, d.varint())
	n := d.uvarint()
	if n > uint64(len(d.b)) { // each submitter takes at least one byte
		d.bad = true
	}
	if !d.bad && n > 0 {
		r.Submitters = make([]string, 0, n)
		for i := uint64(0); i < n && !d.bad; i++ {
			r.Submitters = append(r.Submitters, string(d.field()))
		}
	}
	if d.bad || len(d.b) != 0 {
		return Record{}, fmt.Errorf("token %s: %w", id, errCorrupt)
	}
	return r, nil
}

// decoder reads length-prefixed fields; bad latches the first error.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) uvarint() uint64 {
	x, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return x
}

func (d *decoder) varint() int64 {
	x, n := binary.Varint(d.b)
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return x
}

func (d *decoder) field() []byte {
	n := d.uvarint()
	if d.bad || n > uint64(len(d.b)) {
		d.bad = true
		return nil
	}
	f := d.b[:n]
	d.b = d.b[n:]
	return f
}
