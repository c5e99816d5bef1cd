// Package resolver decides whether a token may be turned back into its secret value.
//
// It knows nothing of HTTP or detection: the proxy describes the request (who asks,
// for which token, in which direction, toward which destination) and the resolver
// answers allow, deny or approve (a human approval is required). Policies are Rego
// (Rego, loaded from a file or the embedded default) or Go (SubmitterOnly); approvals
// and grants live in an ApprovalStore shared by every replica, and Resolver ties
// policy, grants, approvals and waiting together.
package resolver

import (
	"context"
	"slices"
	"time"
)

// Direction says where a restored value would go.
type Direction string

// Directions a value can travel.
const (
	// Restore puts a value back into a model response for the agent.
	Restore Direction = "restore"
	// Egress injects a value into a request to a non-model host.
	Egress Direction = "egress"
	// API resolves a value through the resolve API.
	API Direction = "api"
)

// Effect is the outcome of a decision.
type Effect int

// Effects a policy can return.
const (
	// Deny keeps the token a token. It is the zero Effect, so a forgotten decision
	// fails closed.
	Deny Effect = iota
	// Allow releases the value.
	Allow
	// Approve asks for a human approval before the value is released.
	Approve
)

// String names the effect as audit records and metrics print it.
func (e Effect) String() string {
	switch e {
	case Allow:
		return "allow"
	case Approve:
		return "approve"
	default:
		return "deny"
	}
}

// TokenInfo describes the token in question. It never carries the value.
type TokenInfo struct {
	// ID is the token's id (the HMAC part); Token is the whole token as it appears
	// in text (cloak_<class>_<id>).
	ID    string
	Token string
	Class string
	Rule  string
	// Submitters are the principals that sent the value in a request, sorted.
	Submitters []string
	// FirstSeen is when the value was first stored; zero when unknown.
	FirstSeen time.Time
}

// Request is the input to a decision.
type Request struct {
	// Principal is the agent identity asking; Client its network address.
	Principal string
	Client    string
	Direction Direction
	// Host, Method and Path name the destination: the model API for Restore, the
	// egress host for Egress, the resolve API for API.
	Host   string
	Method string
	Path   string
	Token  TokenInfo
	// Grants are the current grants for this token, principal and host.
	Grants []Grant
	// RequestID names the intercepted request that asks, for audit records, and
	// Description says in a line what it is, for an approver. Neither is part of
	// the policy's input.
	RequestID   string
	Description string
}

// Decision is a policy's answer.
type Decision struct {
	Effect Effect
	Reason string
	// Policy identifies the policy version that decided (for Rego, the SHA-256 of its
	// modules); empty for built-in Go policies.
	Policy string
}

// Policy decides requests. Implementations are safe for concurrent use.
type Policy interface {
	Decide(ctx context.Context, req Request) (Decision, error)
}

// PolicyFunc adapts a function to Policy.
type PolicyFunc func(ctx context.Context, req Request) (Decision, error)

// Decide calls f.
func (f PolicyFunc) Decide(ctx context.Context, req Request) (Decision, error) { return f(ctx, req) }

// ParseEffect reads an effect as policies and audit records spell it.
func ParseEffect(s string) (Effect, bool) {
	switch s {
	case "allow":
		return Allow, true
	case "deny":
		return Deny, true
	case "approve":
		return Approve, true
	}
	return Deny, false
}

// SubmitterOnly is the built-in policy: a value is restored into a model response only
// for a principal that submitted it itself; every other direction is denied.
var SubmitterOnly Policy = PolicyFunc(func(_ context.Context, req Request) (Decision, error) {
	if req.Direction != Restore {
		return Decision{Effect: Deny, Reason: "only restore into responses is enabled"}, nil
	}
	if req.Principal != "" && slices.Contains(req.Token.Submitters, req.Principal) {
		return Decision{Effect: Allow, Reason: "principal submitted this value"}, nil
	}
	return Decision{Effect: Deny, Reason: "principal did not submit this value"}, nil
})

var _ Policy = PolicyFunc(nil)
