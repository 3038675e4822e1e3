//go:build tools

// Package tools pins github.com/coredns/coredns v1.15.0 for the optional real node (harness/node/).
// Built by harness/build.sh node; never imported.
package tools

import (
	_ "github.com/coredns/coredns"
)
