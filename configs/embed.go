// Package configs holds cloakroom's default configuration files, embedded in the
// binary so that it runs without any file on disk.
package configs

import _ "embed"

// Policy is the default Rego policy, policy.rego: a value is restored only to a
// principal that submitted it, and goes to another host only where an egress rule
// names its class and the host, after a human approval. cloakroom serve and
// cloakroom policy eval use it when no --policy file is given.
//
//go:embed policy.rego
var Policy []byte
