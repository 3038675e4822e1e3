//go:build tools

// Package tools pins github.com/cloudnativelabs/kube-router/v2 v2.1.0 for the optional real node (harness/node/).
// Built by harness/build.sh node; never imported.
package tools

import (
	_ "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router"
)
