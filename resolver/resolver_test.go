package resolver

import (
	"context"
	"testing"
)

func TestSubmitterOnly(t *testing.T) {
	tok := TokenInfo{ID: "x", Class: "aws", Submitters: []string{"alice", "default"}}
	tests := []struct {
		name string
		req  Request
		want Effect
	}{
		{name: "submitter restores", req: Request{Principal: "alice", Direction: Restore, Token: tok}, want: Allow},
		{name: "default submitter", req: Request{Principal: "default", Direction: Restore, Token: tok}, want: Allow},
		{name: "other principal", req: Request{Principal: "bob", Direction: Restore, Token: tok}, want: Deny},
		{name: "empty principal", req: Request{Direction: Restore, Token: TokenInfo{Submitters: []string{""}}}, want: Deny},
		{name: "egress denied", req: Request{Principal: "alice", Direction: Egress, Token: tok}, want: Deny},
		{name: "api denied", req: Request{Principal: "alice", Direction: API, Token: tok}, want: Deny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := SubmitterOnly.Decide(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if d.Effect != tt.want || d.Reason == "" {
				t.Fatalf("got %v (%q), want %v with a reason", d.Effect, d.Reason, tt.want)
			}
		})
	}
	if Effect(0) != Deny || Deny.String() != "deny" || Allow.String() != "allow" || Approve.String() != "approve" {
		t.Fatal("zero Effect must be deny and names must match")
	}
}
