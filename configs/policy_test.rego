# Tests of the default policy, policy.rego. Run them with
#
#   cloakroom policy test configs
package cloakroom_test

import data.cloakroom

github_token := {
	"id": "abc",
	"token": "cloak_github_abc",
	"class": "github",
	"rule": "github-pat",
	"submitted_by": ["alice", "default"],
}

# req builds an input document for a principal, a direction, a host and a token.
req(principal, direction, host, token) := {
	"token": token,
	"requester": {"principal": principal, "client": "127.0.0.1:5555"},
	"direction": direction,
	"destination": {"host": host, "method": "GET", "path": "/user"},
	"grants": [],
}

# effect is the effect the policy decides for an input document.
effect(doc) := e if {
	e := cloakroom.decision.effect with input as doc
}

# Restore.

test_restore_to_submitter if {
	effect(req("alice", "restore", "api.anthropic.com", github_token)) == "allow"
}

test_restore_to_any_submitter if {
	effect(req("default", "restore", "api.anthropic.com", github_token)) == "allow"
}

test_restore_to_other_principal_denied if {
	effect(req("bob", "restore", "api.anthropic.com", github_token)) == "deny"
}

test_restore_to_empty_principal_denied if {
	token := object.union(github_token, {"submitted_by": [""]})
	effect(req("", "restore", "api.anthropic.com", token)) == "deny"
}

test_restore_without_submitters_denied if {
	token := object.remove(github_token, ["submitted_by"])
	effect(req("alice", "restore", "api.anthropic.com", token)) == "deny"
}

# Egress and api.

test_egress_github_to_api_github_needs_approval if {
	d := cloakroom.decision with input as req("alice", "egress", "api.github.com", github_token)
	d.effect == "approve"
	contains(d.reason, "after approval")
}

test_egress_host_case_insensitive if {
	effect(req("alice", "egress", "API.GitHub.com", github_token)) == "approve"
	rules := [{"class": "github", "hosts": ["API.GitHub.com"]}]
	effect(req("alice", "egress", "api.github.com", github_token)) == "approve" with cloakroom.egress_rules as rules
}

test_api_github_to_api_github_needs_approval if {
	effect(req("alice", "api", "api.github.com", github_token)) == "approve"
}

test_egress_github_elsewhere_denied if {
	d := cloakroom.decision with input as req("alice", "egress", "evil.example.com", github_token)
	d.effect == "deny"
	contains(d.reason, "no egress rule")
}

test_egress_github_to_subdomain_denied if {
	effect(req("alice", "egress", "x.api.github.com", github_token)) == "deny"
}

test_egress_other_class_denied if {
	token := object.union(github_token, {"class": "aws"})
	effect(req("alice", "egress", "api.github.com", token)) == "deny"
}

test_api_other_class_denied if {
	token := object.union(github_token, {"class": "aws"})
	effect(req("alice", "api", "api.github.com", token)) == "deny"
}

test_egress_without_token_denied if {
	effect(object.remove(req("alice", "egress", "api.github.com", {}), ["token"])) == "deny"
}

# Rules tables other than the default.

test_rule_without_approval_allows if {
	rules := [{"class": "slack", "hosts": ["slack.com"], "approval": false}]
	token := object.union(github_token, {"class": "slack"})
	effect(req("alice", "egress", "slack.com", token)) == "allow" with cloakroom.egress_rules as rules
}

test_rule_approval_omitted_asks if {
	rules := [{"class": "slack", "hosts": ["slack.com"]}]
	token := object.union(github_token, {"class": "slack"})
	effect(req("alice", "egress", "slack.com", token)) == "approve" with cloakroom.egress_rules as rules
}

test_wildcard_rule if {
	rules := [{"class": "aws", "hosts": ["*.amazonaws.com"], "approval": false}]
	token := object.union(github_token, {"class": "aws"})
	effect(req("alice", "egress", "s3.amazonaws.com", token)) == "allow" with cloakroom.egress_rules as rules
	effect(req("alice", "egress", "amazonaws.com", token)) == "deny" with cloakroom.egress_rules as rules
	effect(req("alice", "egress", "evilamazonaws.com", token)) == "deny" with cloakroom.egress_rules as rules
}

test_egress_hosts_from_rules if {
	cloakroom.egress_hosts == {"api.github.com"}
	rules := [{"class": "a", "hosts": ["A.example.com", "*.b.example.com"]}, {"class": "c", "hosts": ["a.example.com"]}]
	cloakroom.egress_hosts == {"a.example.com", "*.b.example.com"} with cloakroom.egress_rules as rules
}

# Anything else.

test_unknown_direction_denied if {
	effect(req("alice", "sideways", "api.github.com", github_token)) == "deny"
}

test_no_input_denied if {
	cloakroom.decision.effect == "deny"
}

test_every_decision_has_effect_and_reason if {
	every direction in ["restore", "egress", "api", "other"] {
		every principal in ["alice", "bob"] {
			d := cloakroom.decision with input as req(principal, direction, "api.github.com", github_token)
			d.effect in {"allow", "deny", "approve"}
			is_string(d.reason)
			d.reason != ""
		}
	}
}
