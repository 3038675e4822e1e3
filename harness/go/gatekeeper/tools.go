//go:build tools

// Package tools pins the real Gatekeeper controller that stack-scan's tests
// and demo run out of cluster. Kept apart from harness/go/controlplane so the two
// Kubernetes library versions never meet. Never imported.
package tools

import _ "github.com/open-policy-agent/gatekeeper/v3"
