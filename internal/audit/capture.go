package audit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Defaults of a Captures store.
const (
	DefaultCaptureMaxAge   = 24 * time.Hour
	DefaultCaptureMaxBytes = 1 << 30
	// maxCaptureID bounds the length of a capture id.
	maxCaptureID = 128
	// captureTemp starts the names of files being written.
	captureTemp = ".tmp-"
)

// ErrCaptureID is returned for an id that cannot name a capture file.
var ErrCaptureID = errors.New("capture id: want 1-128 characters of A-Z a-z 0-9 _ - . not starting with a dot")

// CaptureOptions configure a Captures store.
type CaptureOptions struct {
	// MaxAge is how long a capture is kept; 0 means DefaultCaptureMaxAge.
	MaxAge time.Duration
	// MaxBytes bounds the total size of the captures kept: the oldest go first;
	// 0 means DefaultCaptureMaxBytes.
	MaxBytes int64
	// Now returns the time; nil means time.Now. For tests.
	Now func() time.Time
}

// CaptureInfo describes one capture.
type CaptureInfo struct {
	ID   string    `json:"id"`
	Time time.Time `json:"time"` // when it was put
	Size int64     `json:"size"`
}

// Captures keeps request bodies as they went upstream, after redaction (so they
// hold tokens, never secrets), one file per request id in a directory (mode 0700,
// files 0600), within an age and a total size: every Put deletes what is older
// than the age limit, then the oldest until the total fits. Get and List never
// return a capture past its age. It is safe for concurrent use, by one process
// per directory.
type Captures struct {
	dir      string
	maxAge   time.Duration
	maxBytes int64
	now      func() time.Time

	mu    sync.Mutex
	items map[string]capture
	order []capture // oldest first; entries whose gen no longer matches items are stale
	gen   uint64
	total int64
}

type capture struct {
	CaptureInfo
	gen uint64
}

// OpenCaptures opens (creating it, mode 0700) the capture directory dir and
// indexes the captures in it.
func OpenCaptures(dir string, o CaptureOptions) (*Captures, error) {
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultCaptureMaxAge
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultCaptureMaxBytes
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open captures: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil { // an older directory may be wider
		return nil, fmt.Errorf("open captures: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open captures: %w", err)
	}
	c := &Captures{dir: dir, maxAge: o.MaxAge, maxBytes: o.MaxBytes, now: o.Now, items: map[string]capture{}}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, captureTemp) {
			_ = os.Remove(filepath.Join(dir, name)) // left by a crash
			continue
		}
		if !e.Type().IsRegular() || validCaptureID(name) != nil {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		c.order = append(c.order, capture{CaptureInfo: CaptureInfo{ID: name, Time: fi.ModTime(), Size: fi.Size()}})
	}
	slices.SortFunc(c.order, func(a, b capture) int { return a.Time.Compare(b.Time) })
	for i := range c.order {
		c.gen++
		c.order[i].gen = c.gen
		c.items[c.order[i].ID] = c.order[i]
		c.total += c.order[i].Size
	}
	c.mu.Lock()
	c.pruneLocked("")
	c.mu.Unlock()
	return c, nil
}

func validCaptureID(id string) error {
	if id == "" || len(id) > maxCaptureID || id[0] == '.' {
		return ErrCaptureID
	}
	for i := range len(id) {
		c := id[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' && c != '-' && c != '.' {
			return ErrCaptureID
		}
	}
	return nil
}

// Put stores body as the capture of id (replacing one with the same id), then
// deletes captures past the limits. A body larger than the size limit is refused.
func (c *Captures) Put(id string, body []byte) error {
	if err := validCaptureID(id); err != nil {
		return err
	}
	if int64(len(body)) > c.maxBytes {
		return fmt.Errorf("capture %s: %d bytes, more than the %d bytes kept in all", id, len(body), c.maxBytes)
	}
	tmp, err := os.CreateTemp(c.dir, captureTemp+"*")
	if err != nil {
		return fmt.Errorf("capture %s: %w", id, err)
	}
	_, err = tmp.Write(body)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	c.mu.Lock() // the rename too, so that no prune deletes the new file
	defer c.mu.Unlock()
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(c.dir, id))
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("capture %s: %w", id, err)
	}
	if old, ok := c.items[id]; ok {
		c.total -= old.Size
	}
	c.gen++
	it := capture{CaptureInfo: CaptureInfo{ID: id, Time: c.now(), Size: int64(len(body))}, gen: c.gen}
	c.items[id] = it
	c.order = append(c.order, it)
	c.total += it.Size
	c.pruneLocked(id)
	return nil
}

// pruneLocked deletes captures past the age limit, then the oldest until the total
// fits, sparing keep (the one just put).
func (c *Captures) pruneLocked(keep string) {
	cutoff := c.now().Add(-c.maxAge)
	var spared []capture
	head := 0
	for ; head < len(c.order); head++ {
		it := c.order[head]
		if cur, ok := c.items[it.ID]; !ok || cur.gen != it.gen {
			continue // stale: replaced or removed
		}
		if !it.Time.Before(cutoff) && c.total <= c.maxBytes {
			break
		}
		if it.ID == keep {
			spared = append(spared, it)
			continue
		}
		// A file that cannot be removed is forgotten all the same: the next
		// open finds it again.
		_ = os.Remove(filepath.Join(c.dir, it.ID))
		delete(c.items, it.ID)
		c.total -= it.Size
	}
	c.order = c.order[head:]
	if spared != nil {
		c.order = append(spared, c.order...)
	}
}

// Get returns the capture of id, if there is one within the age limit.
func (c *Captures) Get(id string) ([]byte, bool) {
	if validCaptureID(id) != nil {
		return nil, false
	}
	c.mu.Lock()
	it, ok := c.items[id]
	c.mu.Unlock()
	if !ok || it.Time.Before(c.now().Add(-c.maxAge)) {
		return nil, false
	}
	b, err := os.ReadFile(filepath.Join(c.dir, id))
	if err != nil {
		return nil, false
	}
	return b, true
}

// List returns the captures within the age limit, newest first.
func (c *Captures) List() []CaptureInfo {
	cutoff := c.now().Add(-c.maxAge)
	c.mu.Lock()
	out := make([]CaptureInfo, 0, len(c.items))
	for _, it := range c.items {
		if !it.Time.Before(cutoff) {
			out = append(out, it.CaptureInfo)
		}
	}
	c.mu.Unlock()
	slices.SortFunc(out, func(a, b CaptureInfo) int {
		if d := b.Time.Compare(a.Time); d != 0 {
			return d
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// Size returns the total bytes of the captures kept.
func (c *Captures) Size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}
