//go:build tools

// Package tools pins the real control-plane binaries that stack-scan's tests
// and demo run: kube-apiserver (k8s.io/kubernetes) and etcd. Built by
// harness/build.sh; never imported.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
