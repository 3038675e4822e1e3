//go:build tools

// Package tools pins github.com/opencontainers/runc v1.5.3 for the optional real node (harness/node/).
// Built by harness/build.sh node; never imported.
package tools

import (
	_ "github.com/opencontainers/runc"
)
