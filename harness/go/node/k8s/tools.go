//go:build tools

// Package tools pins the real node binaries of the local cluster's optional real node:
// kubelet, kube-controller-manager, kube-scheduler and kube-proxy, from the same
// k8s.io/kubernetes pin (and replace lines) as kube-apiserver in harness/go/controlplane.
// Built by harness/build.sh node; never imported.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
