# cloakroom's default policy.
#
# cloakroom asks this policy whether a token may become its secret value again.
# The input document (see the README, "Policy") names the token, the requester,
# the direction and the destination:
#
#   restore  the value goes back into a model response for the agent
#   egress   the value is injected into a request to another host
#   api      the value is asked for through the resolve API
#
# The answer is `decision`, an object {"effect": ..., "reason": ...} whose effect
# is "allow", "deny" or "approve" (release only after a human approval: cloakroom
# uses a matching grant if there is one, else files an approval request). Anything
# else, including no answer, is a deny.
#
# This policy:
#   - restores a value only to a principal that submitted it itself;
#   - sends a value to another host (egress, api) only where an egress rule names
#     the token's class and the destination host, and then only after approval,
#     unless the rule says "approval": false.
package cloakroom

# egress_rules is the table of where values may go. Each rule names a token class
# (the <class> in cloak_<class>_<id>) and the hosts it may be sent to; a host is a
# name ("api.github.com") or a wildcard for every subdomain ("*.example.com", which
# does not match example.com itself). A rule requires approval unless it says
# "approval": false.
#
# The default lets a GitHub token go to api.github.com once a human approves.
egress_rules := [{"class": "github", "hosts": ["api.github.com"], "approval": true}]

# egress_hosts are the hosts cloakroom intercepts to inject values and to guard
# against leaks: every host an egress rule names. cloakroom reads it once per load.
egress_hosts contains lower(name) if {
	some rule in egress_rules
	some name in rule.hosts
}

# A request whose direction is none of the three is denied.
default decision := {"effect": "deny", "reason": "unknown direction"}

decision := restore_decision if input.direction == "restore"

decision := egress_decision if input.direction == "egress"

decision := egress_decision if input.direction == "api"

# Restore: only to a principal that submitted the value.
restore_decision := {"effect": "allow", "reason": "the requester submitted this value"} if {
	input.requester.principal != ""
	input.requester.principal in input.token.submitted_by
} else := {"effect": "deny", "reason": "the value is restored only to a principal that submitted it"}

# Egress and api: deny without a rule, allow when a rule waives approval, else ask.
egress_decision := {
	"effect": "deny",
	"reason": sprintf("no egress rule lets class %q go to host %q", [class, host]),
} if {
	count(matching_rules) == 0
} else := {
	"effect": "allow",
	"reason": sprintf("an egress rule lets class %q go to host %q without approval", [class, host]),
} if {
	some rule in matching_rules
	object.get(rule, "approval", true) == false
} else := {
	"effect": "approve",
	"reason": sprintf("class %q may go to host %q after approval", [class, host]),
}

# matching_rules are the egress rules that name the token's class and the
# destination host, exactly or by a wildcard.
matching_rules contains rule if {
	some rule in egress_rules
	rule.class == class
	some pattern in rule.hosts
	lower(pattern) == host
}

matching_rules contains rule if {
	some rule in egress_rules
	rule.class == class
	some pattern in rule.hosts
	startswith(pattern, "*.")
	endswith(host, lower(substring(pattern, 1, -1)))
}

# class and host default to "" so that a request without them is denied with a
# reason rather than left undefined.
default class := ""

class := input.token.class

default host := ""

host := lower(input.destination.host)
