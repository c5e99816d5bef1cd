// Package resolver decides whether a token may be turned back into its secret value.
//
// It knows nothing of HTTP or detection: the proxy describes the request (who asks,
// for which token, in which direction, toward which destination) and the resolver
// answers allow, deny or approve (a human approval is required). This first version
// ships one built-in policy, SubmitterOnly; policy as code (Rego) plugs in behind the
// same Policy interface.
package resolver

import (
	"context"
	"slices"
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
	ID         string
	Class      string
	Rule       string
	Submitters []string
}

// Request is the input to a decision.
type Request struct {
	Principal string
	Direction Direction
	Host      string
	Method    string
	Path      string
	Token     TokenInfo
}

// Decision is a policy's answer.
type Decision struct {
	Effect Effect
	Reason string
}

// Policy decides requests. Implementations are safe for concurrent use.
type Policy interface {
	Decide(ctx context.Context, req Request) (Decision, error)
}

// PolicyFunc adapts a function to Policy.
type PolicyFunc func(ctx context.Context, req Request) (Decision, error)

// Decide calls f.
func (f PolicyFunc) Decide(ctx context.Context, req Request) (Decision, error) { return f(ctx, req) }

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
