package audit

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
)

// ZeroHash is the prev of the first line of a chain.
const ZeroHash = "0000000000000000000000000000000000000000000000000000000000000000"

// chainIDBytes is the size of a chain id (hex-encoded in lines).
const chainIDBytes = 8

// errClosed is returned by writes after Close.
var errClosed = errors.New("audit log is closed")

// Options configure a Writer's sinks.
type Options struct {
	// MaxBytes rotates a file sink before a line would take it past this size:
	// the file becomes path.1 (path.1 becomes path.2, and so on) and a new file
	// continues the chain. 0 never rotates. Ignored by NewWriter.
	MaxBytes int64
	// Keep is how many rotated files are kept (path.1 ... path.Keep); older ones
	// are deleted at rotation. 0 keeps none. Ignored by NewWriter.
	Keep int
	// Stream, if not nil, also receives every line (after the primary sink took
	// it). The Writer owns it from then on: Close closes it.
	Stream *Stream
	// OnError, if not nil, is told of problems that do not fail a write: a
	// rotation that failed (retried a minute later). It is called with the
	// Writer's lock held, so it must not write to the Writer.
	OnError func(error)
}

// Writer appends records as hash-chained JSON lines (see the package comment). It
// is safe for concurrent use: lines are written whole and in seq order.
type Writer struct {
	discard bool
	stream  *Stream
	onError func(error)

	mu     sync.Mutex
	out    io.Writer
	file   *rotatingFile // out, when the sink is a file
	closer io.Closer
	closed bool
	chain  string
	seq    uint64
	prev   [sha256.Size]byte
	// After a failed write: torn holds the bytes of a line written in part, and
	// needNewline says a complete line still lacks its newline.
	torn        []byte
	needNewline bool
}

// New returns a Writer that writes to w, starting a new chain.
func New(w io.Writer) *Writer { return NewWriter(w, Options{}) }

// NewWriter returns a Writer that writes to w (and o.Stream), starting a new chain.
func NewWriter(w io.Writer, o Options) *Writer {
	if w == io.Discard && o.Stream == nil {
		return Discard()
	}
	return &Writer{out: w, chain: newChainID(), stream: o.Stream, onError: o.OnError}
}

// Discard is a Writer that drops every record.
func Discard() *Writer { return &Writer{discard: true} }

// Open appends to the file at path, creating it with mode 0600, and continues the
// chain of its last line. It never rotates.
func Open(path string) (*Writer, error) { return OpenFile(path, Options{}) }

func newChainID() string {
	var b [chainIDBytes]byte
	_, _ = rand.Read(b[:]) // never fails
	return hex.EncodeToString(b[:])
}

// Head returns the chain id, the seq of the last line written (0 before the first)
// and that line's hash: the values to keep elsewhere to detect a cut.
func (w *Writer) Head() (chain string, seq uint64, hash string) {
	if w.discard {
		return "", 0, ""
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.chain, w.seq, w.prevHex()
}

func (w *Writer) prevHex() string {
	if w.seq == 0 {
		return ZeroHash
	}
	return hex.EncodeToString(w.prev[:])
}

// Write appends one request record as a single line.
func (w *Writer) Write(rec Record) error {
	if w.discard {
		return nil
	}
	if rec.Detections == nil {
		rec.Detections = []Detection{}
	}
	rec.Type = TypeRequest
	return w.line(rec)
}

// WriteDecision appends one decision record as a single line.
func (w *Writer) WriteDecision(d Decision) error {
	if w.discard {
		return nil
	}
	d.Type = TypeDecision
	if d.Time.IsZero() {
		d.Time = time.Now().UTC()
	}
	return w.line(d)
}

// WriteEvent appends any other record: v must encode as a JSON object with a
// "type" field and no "seq", "chain" or "prev" field.
func (w *Writer) WriteEvent(v any) error {
	if w.discard {
		return nil
	}
	return w.line(v)
}

func (w *Writer) line(v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode audit record: %w", err)
	}
	if len(body) < 2 || body[0] != '{' {
		return errors.New("encode audit record: not a JSON object")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errClosed
	}
	if err := w.repairLocked(); err != nil {
		return err
	}
	w.maybeRotateLocked(len(body))
	return w.emitLocked(body)
}

// build returns the line of body (a JSON object) as the next in the chain, with
// its newline.
func (w *Writer) build(body []byte) []byte {
	line := make([]byte, 0, len(body)+len(`{"seq":,"chain":"","prev":"",`)+20+2*chainIDBytes+64+1)
	line = append(line, `{"seq":`...)
	line = strconv.AppendUint(line, w.seq+1, 10)
	line = append(line, `,"chain":"`...)
	line = append(line, w.chain...)
	line = append(line, `","prev":"`...)
	line = append(line, w.prevHex()...)
	line = append(line, '"')
	if len(body) > 2 { // not {}
		line = append(line, ',')
	}
	line = append(line, body[1:]...)
	return append(line, '\n')
}

// emitLocked writes body as the next line of the chain and advances it.
func (w *Writer) emitLocked(body []byte) error {
	line := w.build(body)
	n, err := w.out.Write(line)
	if err != nil || n < len(line) {
		switch {
		case n == len(line)-1: // all but the newline: the line is complete
			w.advance(line[:n])
			w.needNewline = true
		case n > 0:
			w.torn = append([]byte(nil), line[:n]...)
		}
		if err == nil {
			err = io.ErrShortWrite
		}
		return fmt.Errorf("write audit record: %w", err)
	}
	w.advance(line[:len(line)-1])
	return nil
}

// advance makes line (without its newline) the chain's last line.
func (w *Writer) advance(line []byte) {
	w.seq++
	w.prev = sha256.Sum256(line)
	if w.stream != nil {
		w.stream.send(line)
	}
}

// repairLocked ends a line a failed write left without its newline and, if it was
// cut short, writes the torn event that takes it out of the chain.
func (w *Writer) repairLocked() error {
	if w.needNewline || w.torn != nil {
		if _, err := w.out.Write([]byte{'\n'}); err != nil {
			return fmt.Errorf("write audit record: %w", err)
		}
		w.needNewline = false
	}
	if w.torn == nil {
		return nil
	}
	return w.ackTornLocked()
}

// ackTornLocked writes the torn event for w.torn (already ended by a newline).
func (w *Writer) ackTornLocked() error {
	sum := sha256.Sum256(w.torn)
	ev := ChainEvent{Type: TypeChain, Time: time.Now().UTC(), Event: EventTorn,
		TornBytes: len(w.torn), TornSHA256: hex.EncodeToString(sum[:])}
	w.torn = nil
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode audit record: %w", err)
	}
	return w.emitLocked(body)
}

// rotationRetry is how long a Writer waits before retrying a failed rotation.
const rotationRetry = time.Minute

// maybeRotateLocked rotates a file sink when a line of about bodyLen bytes would
// take it past its size limit, and starts the new file with a rotated event.
func (w *Writer) maybeRotateLocked(bodyLen int) {
	f := w.file
	if f == nil || !f.full(int64(bodyLen)+128) || time.Now().Before(f.retryAt) {
		return
	}
	pruned, err := f.rotate(w.seq, w.prevHex())
	if err != nil {
		f.retryAt = time.Now().Add(rotationRetry)
		w.report(fmt.Errorf("rotate audit log (retrying in %s): %w", rotationRetry, err))
		return
	}
	ev := ChainEvent{Type: TypeChain, Time: time.Now().UTC(), Event: EventRotated}
	if pruned.seq > 0 {
		ev.PrunedThrough, ev.PrunedHash = pruned.seq, pruned.hash
	}
	body, _ := json.Marshal(ev)
	if err := w.emitLocked(body); err != nil {
		w.report(err)
	}
}

func (w *Writer) report(err error) {
	if w.onError != nil {
		w.onError(err)
	}
}

// Close closes the file Open made, if any, and the Stream, flushing the lines it
// still holds (for a few seconds at most). Writes after Close fail.
func (w *Writer) Close() error {
	if w.discard {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	var errs []error
	if w.closer != nil {
		errs = append(errs, w.closer.Close())
	}
	if w.stream != nil {
		errs = append(errs, w.stream.Close())
	}
	return errors.Join(errs...)
}
