// Package audit writes the audit trail as JSON lines: one "request" record per
// intercepted request and one "decision" record per policy decision or approval
// event. Records name rules, classes, tokens and JSON paths; they never carry a
// secret value.
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

// Record types, in each line's "type".
const (
	TypeRequest  = "request"
	TypeDecision = "decision"
)

// Record describes one intercepted request from start to end.
type Record struct {
	Type       string      `json:"type"` // TypeRequest, set by Write
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
	// Injected counts the token values put into an egress request.
	Injected int `json:"injected,omitempty"`
	// Approval is the id of the approval a refused request waits for.
	Approval string `json:"approval,omitempty"`
	// Timings in milliseconds.
	ScanMS     float64 `json:"scan_ms"`
	UpstreamMS float64 `json:"upstream_ms"`
	TotalMS    float64 `json:"total_ms"`
}

// Decision is one policy decision about a token, or one event in an approval's life.
type Decision struct {
	Type string    `json:"type"` // TypeDecision, set by WriteDecision
	Time time.Time `json:"time"`
	// Event is allow, deny, approval_requested, granted, denied, expired or grant_used.
	Event string `json:"event"`
	// Request is the id of the intercepted request that asked, if any.
	Request   string `json:"request,omitempty"`
	Principal string `json:"principal,omitempty"`
	Client    string `json:"client,omitempty"`
	// Direction is restore, egress or api.
	Direction string `json:"direction,omitempty"`
	Host      string `json:"host,omitempty"`
	Method    string `json:"method,omitempty"`
	Path      string `json:"path,omitempty"`
	Token     string `json:"token,omitempty"`
	Class     string `json:"class,omitempty"`
	Rule      string `json:"rule,omitempty"`
	// Effect is the policy's answer (allow, deny, approve); Reason its reason.
	Effect string `json:"effect,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Policy is the version hash of the policy that decided.
	Policy   string `json:"policy,omitempty"`
	Approval string `json:"approval,omitempty"`
	// By names the approver of a granted or denied approval.
	By string `json:"by,omitempty"`
	// Until is when a time-bound grant ends; Once marks a one-shot grant.
	Until time.Time `json:"until,omitzero"`
	Once  bool      `json:"once,omitempty"`
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

// Write appends one request record as a single line.
func (w *Writer) Write(rec Record) error {
	if rec.Detections == nil {
		rec.Detections = []Detection{}
	}
	rec.Type = TypeRequest
	return w.line(rec)
}

// WriteDecision appends one decision record as a single line.
func (w *Writer) WriteDecision(d Decision) error {
	d.Type = TypeDecision
	if d.Time.IsZero() {
		d.Time = time.Now().UTC()
	}
	return w.line(d)
}

func (w *Writer) line(v any) error {
	b, err := json.Marshal(v)
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
