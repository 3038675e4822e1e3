//go:build tools

// Package tools pins github.com/containerd/containerd/v2 v2.4.2 for the optional real node (harness/node/).
// Built by harness/build.sh node; never imported.
package tools

import (
	_ "github.com/containerd/containerd/v2/cmd/containerd"
	_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"
	_ "github.com/containerd/containerd/v2/cmd/ctr"
)
