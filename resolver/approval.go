package resolver

import (
	"context"
	"errors"
	"time"
)

// Status is where an approval request stands.
type Status string

// Approval statuses. Only a pending request can be decided.
const (
	Pending Status = "pending"
	Granted Status = "granted"
	Denied  Status = "denied"
	Expired Status = "expired"
)

// Approval is a request for a human to release a token's value. It names the token,
// never the value.
type Approval struct {
	// ID is "apr_" and 16 hex digits.
	ID string `json:"id"`
	// Token is the whole token (cloak_<class>_<id>); TokenID, Class and Rule describe it.
	Token   string `json:"token"`
	TokenID string `json:"token_id"`
	Class   string `json:"class"`
	Rule    string `json:"rule,omitempty"`
	// Principal and Client name the requester.
	Principal string `json:"principal"`
	Client    string `json:"client,omitempty"`
	// Direction, Host, Method and Path name where the value would go.
	Direction Direction `json:"direction"`
	Host      string    `json:"host"`
	Method    string    `json:"method,omitempty"`
	Path      string    `json:"path,omitempty"`
	// Description says in a line what the request is (method, host, path, where the
	// token sits), for the approver. It never holds a value.
	Description string `json:"description"`
	// Reason is the policy's reason for asking.
	Reason string `json:"reason,omitempty"`
	// Policy is the version of the policy that asked.
	Policy  string    `json:"policy,omitempty"`
	Status  Status    `json:"status"`
	Created time.Time `json:"created"`
	// Expires is when a pending request lapses (then Expired).
	Expires time.Time `json:"expires"`
	// DecidedBy and Note record the approver's decision; DecidedAt is when it was
	// granted, denied or marked expired (zero for one past Expires not yet marked).
	DecidedBy string    `json:"decided_by,omitempty"`
	DecidedAt time.Time `json:"decided_at,omitzero"`
	Note      string    `json:"note,omitempty"`
	// Grant is set once the request is granted.
	Grant *Grant `json:"grant,omitempty"`
}

// Grant lets one principal have one token's value at one host: once (spent by its
// first use) or until Expires.
type Grant struct {
	// ID is the id of the approval that made the grant.
	ID        string    `json:"id"`
	TokenID   string    `json:"token_id"`
	Principal string    `json:"principal"`
	Direction Direction `json:"direction"`
	Host      string    `json:"host"`
	Once      bool      `json:"once"`
	// Expires bounds every grant; a one-shot grant unused by then lapses too.
	Expires time.Time `json:"expires"`
	// Used is set when a one-shot grant has been spent.
	Used bool `json:"used,omitempty"`
}

// MaxGrant bounds a time-bound grant: the approvals API and the console refuse a
// longer one.
const MaxGrant = 30 * 24 * time.Hour

// Scope names what a grant covers.
type Scope struct {
	TokenID   string
	Principal string
	Direction Direction
	Host      string
}

// Scope returns the scope of a.
func (a Approval) Scope() Scope {
	return Scope{TokenID: a.TokenID, Principal: a.Principal, Direction: a.Direction, Host: a.Host}
}

// Errors of an ApprovalStore.
var (
	// ErrApprovalNotFound: no approval has that id.
	ErrApprovalNotFound = errors.New("approval not found")
	// ErrNotPending: the approval was already decided or has expired.
	ErrNotPending = errors.New("approval is no longer pending")
)

// ApprovalStore keeps approval requests and grants where every replica sees them.
// Implementations are safe for concurrent use.
type ApprovalStore interface {
	// Request stores a as a new pending approval, unless a pending, unexpired
	// approval for the same scope exists: then it returns that one and created false.
	Request(ctx context.Context, a Approval) (stored Approval, created bool, err error)
	// Get returns the approval with id, or ErrApprovalNotFound.
	Get(ctx context.Context, id string) (Approval, error)
	// List returns approvals newest first; a non-empty status keeps only those.
	List(ctx context.Context, status Status) ([]Approval, error)
	// Decide grants or denies a pending approval. A grant is one-shot when dur is 0,
	// else it lasts dur. ErrNotPending if it was decided or has expired.
	Decide(ctx context.Context, id string, grant bool, dur time.Duration, by, note string) (Approval, error)
	// Expire marks a pending approval whose Expires has passed as Expired. It
	// reports whether this call made the change (one caller on one replica does).
	Expire(ctx context.Context, id string) (bool, error)
	// Grants returns the usable grants (unexpired, unspent) for a scope.
	Grants(ctx context.Context, s Scope) ([]Grant, error)
	// Use takes one usable grant for s: it spends a one-shot grant (exactly one
	// caller, on any replica, gets it) or returns a time-bound one. ok is false when
	// there is none.
	Use(ctx context.Context, s Scope) (g Grant, ok bool, err error)
	// Watch calls fn with the id of every approval decided or expired from now on,
	// on any replica, until ctx ends.
	Watch(ctx context.Context, fn func(id string)) error
}
