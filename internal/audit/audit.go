package audit

import "time"

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
	// TypeChain marks a ChainEvent: a record the Writer writes about the trail itself.
	TypeChain = "chain"
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
	// Timings in milliseconds. VaultMS is the part of ScanMS spent in vault calls
	// (storing the secrets found, checking that reused tokens are still held).
	ScanMS     float64 `json:"scan_ms"`
	VaultMS    float64 `json:"vault_ms,omitempty"`
	UpstreamMS float64 `json:"upstream_ms"`
	TotalMS    float64 `json:"total_ms"`
}

// Outcome is what the request came to, as the proxy's request metrics and the console
// count it: "upstream_error" when the upstream failed (Error "upstream"), else the
// Decision, "forwarded" when none is recorded.
func (r Record) Outcome() string {
	switch {
	case r.Error == "upstream":
		return "upstream_error"
	case r.Decision == "":
		return "forwarded"
	}
	return r.Decision
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

// Chain events, in a ChainEvent's "event".
const (
	// EventRotated is the first line of a file the Writer started by rotation.
	EventRotated = "rotated"
	// EventTorn follows an incomplete line (a crash or a failed write cut it short):
	// that line is not part of the chain, and this record names it by its hash.
	EventTorn = "torn"
)

// ChainEvent is a record the Writer writes about the trail itself, not about a
// request: a rotation (naming what retention deleted) or a torn line.
type ChainEvent struct {
	Type  string    `json:"type"` // TypeChain
	Time  time.Time `json:"time"`
	Event string    `json:"event"` // EventRotated or EventTorn
	// PrunedThrough and PrunedHash, on a rotation that deleted old files, are the
	// seq and hash of the last line deleted: the oldest kept line follows it.
	PrunedThrough uint64 `json:"pruned_through,omitempty"`
	PrunedHash    string `json:"pruned_hash,omitempty"`
	// TornBytes and TornSHA256 describe the incomplete line just before this one.
	TornBytes  int    `json:"torn_bytes,omitempty"`
	TornSHA256 string `json:"torn_sha256,omitempty"`
}
