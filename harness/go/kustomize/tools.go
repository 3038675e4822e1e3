//go:build tools

// Package tools pins the real kustomize (sigs.k8s.io/kustomize/kustomize/v5) that
// stack-scan's deploy tests use to render knative/ (base + overlays). Built by
// harness/build.sh; never imported.
package tools

import (
	_ "sigs.k8s.io/kustomize/kustomize/v5"
)
