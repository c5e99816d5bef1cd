// Package audit writes one record per intercepted request as JSON lines. Records name
// rules, classes, tokens and JSON paths; they never carry a secret value.
package audit

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Detection is one secret replaced in a request.
type Detection struct {
	Rule  string `json:"rule"`
	Class string `json:"class"`
	Token string `json:"token"`
	Path  string `json:"path,omitempty"`
}

// Record describes one intercepted request from start to end.
type Record struct {
	Time       time.Time   `json:"time"`
	ID         string      `json:"id"`
	Principal  string      `json:"principal"`
	Client     string      `json:"client,omitempty"`
	Host       string      `json:"host"`
	Method     string      `json:"method"`
	Path       string      `json:"path"`
	API        string      `json:"api"`
	Model      string      `json:"model,omitempty"`
	BodyBytes  int         `json:"body_bytes"`
	Detections []Detection `json:"detections"`
	// Decision is "forwarded" (sent upstream, secrets replaced) or "refused".
	Decision string `json:"decision"`
	// Error is the class of the failure that refused or broke the request, if any.
	Error    string `json:"error,omitempty"`
	Status   int    `json:"status"`
	Restored int    `json:"restored"`
	Withheld int    `json:"withheld"`
	// Timings in milliseconds.
	ScanMS     float64 `json:"scan_ms"`
	UpstreamMS float64 `json:"upstream_ms"`
	TotalMS    float64 `json:"total_ms"`
}

// Writer appends records as JSON lines. It is safe for concurrent use.
type Writer struct {
	mu     sync.Mutex
	w      io.Writer
	closer io.Closer
}

// New returns a Writer that writes to w.
func New(w io.Writer) *Writer { return &Writer{w: w} }

// Discard is a Writer that drops every record.
func Discard() *Writer { return New(io.Discard) }

// Open appends to the file at path, creating it with mode 0600.
func Open(path string) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	if err := f.Chmod(0o600); err != nil { // an older file may be wider
		_ = f.Close()
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	return &Writer{w: f, closer: f}, nil
}

// Write appends one record as a single line.
func (w *Writer) Write(rec Record) error {
	if rec.Detections == nil {
		rec.Detections = []Detection{}
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode audit record: %w", err)
	}
	b = append(b, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.w.Write(b); err != nil {
		return fmt.Errorf("write audit record: %w", err)
	}
	return nil
}

// Close closes the underlying file, if Open made one.
func (w *Writer) Close() error {
	if w.closer == nil {
		return nil
	}
	return w.closer.Close()
}
