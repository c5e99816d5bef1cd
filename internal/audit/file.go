package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxTail bounds how far back OpenFile reads to find a file's last line.
const maxTail = 64 << 20

// OpenFile appends to the file at path, creating it with mode 0600, and continues
// the chain of its last line (or, when the file is empty or missing, of the last
// line of path.1). A last line without its newline is handled like this: if it is
// a complete line of the chain it only gets its newline; otherwise it is torn (a
// crash cut it short), so it gets a newline and a "torn" chain event naming it
// follows, which takes it out of the chain. A last line that is no chain line at
// all (a log from an older version, or damage) starts a new chain.
func OpenFile(path string, o Options) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	fail := func(err error) (*Writer, error) {
		_ = f.Close()
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	if err := f.Chmod(0o600); err != nil { // an older file may be wider
		return fail(err)
	}
	fi, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	rf := &rotatingFile{path: path, f: f, size: fi.Size(), maxBytes: o.MaxBytes, keep: max(o.Keep, 0)}
	w := &Writer{out: rf, file: rf, closer: rf, stream: o.Stream, onError: o.OnError}

	src := path
	if fi.Size() == 0 {
		src = path + ".1" // a crash between rotation's rename and the new file
	}
	last, frag, err := readTail(src)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fail(err)
	}
	w.resume(last)
	if len(frag) > 0 {
		if h, ok := parseHeader(frag); ok && w.continues(h, frag) {
			w.advanceQuiet(frag)
			w.needNewline = src == path
		} else {
			w.torn = frag
			w.needNewline = false
			if src == path {
				if _, err := rf.Write([]byte{'\n'}); err != nil {
					return fail(err)
				}
			}
			if err := w.ackTornLocked(); err != nil {
				return fail(err)
			}
		}
	}
	if err := w.repairLocked(); err != nil {
		return fail(err)
	}
	return w, nil
}

// resume takes the chain state from a file's last complete line; a line that is
// no chain line starts a new chain.
func (w *Writer) resume(last []byte) {
	h, ok := parseHeader(last)
	if !ok {
		w.chain = newChainID()
		return
	}
	w.chain, w.seq, w.prev = h.Chain, h.Seq, sha256.Sum256(last)
}

// continues reports whether h (of line) is the next line of w's chain.
func (w *Writer) continues(h header, line []byte) bool {
	return h.Chain == w.chain && h.Seq == w.seq+1 && h.Prev == w.prevHex() && len(line) > 0
}

// advanceQuiet is advance without the stream: the line was written before.
func (w *Writer) advanceQuiet(line []byte) {
	w.seq++
	w.prev = sha256.Sum256(line)
}

// header is the part of a line that verification and resuming read.
type header struct {
	Seq           uint64 `json:"seq"`
	Chain         string `json:"chain"`
	Prev          string `json:"prev"`
	Type          string `json:"type"`
	Event         string `json:"event"`
	PrunedThrough uint64 `json:"pruned_through"`
	PrunedHash    string `json:"pruned_hash"`
	TornSHA256    string `json:"torn_sha256"`
}

// parseHeader parses a line; ok says it is a JSON object with valid chain fields.
func parseHeader(line []byte) (h header, ok bool) {
	if err := json.Unmarshal(line, &h); err != nil {
		return header{}, false
	}
	return h, h.Seq > 0 && h.Chain != "" && isHash(h.Prev)
}

// isHash reports whether s is 64 lowercase hex digits.
func isHash(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func hashHex(line []byte) string {
	sum := sha256.Sum256(line)
	return hex.EncodeToString(sum[:])
}

// readTail returns the last complete line of the file at path (without its
// newline) and the bytes after it when the file does not end with a newline.
func readTail(path string) (last, frag []byte, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	const chunk = 64 << 10
	var buf []byte // the file's bytes from off to the end
	for off := fi.Size(); ; {
		if last, frag, ok := splitTail(buf, off == 0); ok {
			return last, frag, nil
		}
		if off == 0 {
			return nil, nil, nil
		}
		if len(buf) >= maxTail {
			return nil, nil, fmt.Errorf("%s: last line longer than %d bytes", path, maxTail)
		}
		n := min(off, chunk)
		off -= n
		b := make([]byte, int(n)+len(buf))
		if _, err := f.ReadAt(b[:n], off); err != nil && !errors.Is(err, io.EOF) {
			return nil, nil, err
		}
		copy(b[n:], buf)
		buf = b
	}
}

// splitTail finds the last complete line and the fragment after it in buf, the end
// of a file; atStart says buf starts the file. ok is false when more is needed.
func splitTail(buf []byte, atStart bool) (last, frag []byte, ok bool) {
	end := len(buf)
	if end > 0 && buf[end-1] != '\n' {
		i := bytes.LastIndexByte(buf, '\n')
		if i < 0 {
			if !atStart {
				return nil, nil, false
			}
			return nil, buf, true
		}
		frag, end = buf[i+1:], i+1
	}
	if end == 0 {
		return nil, frag, atStart
	}
	i := bytes.LastIndexByte(buf[:end-1], '\n')
	if i < 0 && !atStart {
		return nil, nil, false
	}
	return buf[i+1 : end-1], frag, true
}

// rotatingFile is an append-only file that rotates by size.
type rotatingFile struct {
	path     string
	f        *os.File
	size     int64
	maxBytes int64
	keep     int
	retryAt  time.Time
}

func (r *rotatingFile) Write(p []byte) (int, error) {
	n, err := r.f.Write(p)
	r.size += int64(n)
	return n, err
}

func (r *rotatingFile) Close() error { return r.f.Close() }

// full reports whether n more bytes would take a non-empty file past its limit.
func (r *rotatingFile) full(n int64) bool {
	return r.maxBytes > 0 && r.size > 0 && r.size+n > r.maxBytes
}

// pruned names the last line that retention deleted (seq 0: none).
type pruned struct {
	seq  uint64
	hash string
}

// rotate renames path.N to path.N+1 (deleting those past keep) and path to path.1,
// and opens a new path. headSeq and headHash are the chain's last line, which is
// what retention deletes when keep is 0.
func (r *rotatingFile) rotate(headSeq uint64, headHash string) (pruned, error) {
	var p pruned
	old, err := rotatedFiles(r.path)
	if err != nil {
		return p, err
	}
	// old holds path.N in descending N. Delete those that would pass keep.
	for _, rf := range old {
		if rf.n < r.keep {
			break
		}
		if p.seq == 0 {
			if last, _, err := readTail(rf.name); err == nil {
				if h, ok := parseHeader(last); ok {
					p = pruned{seq: h.Seq, hash: hashHex(last)}
				}
			}
		}
		if err := os.Remove(rf.name); err != nil {
			return p, err
		}
	}
	for _, rf := range old {
		if rf.n < r.keep {
			if err := os.Rename(rf.name, numbered(r.path, rf.n+1)); err != nil {
				return p, err
			}
		}
	}
	if r.keep == 0 {
		if err := os.Remove(r.path); err != nil {
			return p, err
		}
		p = pruned{seq: headSeq, hash: headHash}
	} else if err := os.Rename(r.path, numbered(r.path, 1)); err != nil {
		return p, err
	}
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		// Keep writing to the renamed file rather than lose lines.
		return p, err
	}
	_ = r.f.Close()
	r.f, r.size = f, 0
	return p, nil
}

func numbered(path string, n int) string { return path + "." + strconv.Itoa(n) }

type rotated struct {
	name string
	n    int
}

// rotatedFiles lists the path.N files in descending N (oldest first).
func rotatedFiles(path string) ([]rotated, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []rotated
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), base+".")
		if !ok || e.IsDir() {
			continue
		}
		n, err := strconv.Atoi(rest)
		if err != nil || n < 1 || strconv.Itoa(n) != rest {
			continue
		}
		out = append(out, rotated{name: filepath.Join(dir, e.Name()), n: n})
	}
	slices.SortFunc(out, func(a, b rotated) int { return b.n - a.n })
	return out, nil
}

// Files returns the audit log at path and its rotated files that exist, oldest
// first (path.N ... path.1, then path): the order Verify reads them in.
func Files(path string) ([]string, error) {
	old, err := rotatedFiles(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range old {
		out = append(out, r.name)
	}
	if _, err := os.Stat(path); err == nil {
		out = append(out, path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return out, nil
}

// SortFiles puts rotated files of one log in rotation order (path.N ... path.1,
// path) whatever order they were given in, as a shell glob gives audit.jsonl*;
// files of different logs keep the order of their first appearance.
func SortFiles(paths []string) []string {
	type key struct {
		base, rank int
	}
	bases := map[string]int{}
	keys := make(map[string]key, len(paths))
	for _, p := range paths {
		base, rank := p, 0 // the live file sorts after its rotated ones
		if i := strings.LastIndexByte(p, '.'); i > 0 {
			if n, err := strconv.Atoi(p[i+1:]); err == nil && n > 0 {
				base, rank = p[:i], -n
			}
		}
		if _, ok := bases[base]; !ok {
			bases[base] = len(bases)
		}
		keys[p] = key{bases[base], rank}
	}
	out := slices.Clone(paths)
	slices.SortStableFunc(out, func(a, b string) int {
		ka, kb := keys[a], keys[b]
		if ka.base != kb.base {
			return ka.base - kb.base
		}
		return ka.rank - kb.rank
	})
	return out
}
