# Sourced by harness/go/node/build.sh with MOD_DIR set: kube-router, run by the harness in
# firewall-only mode as the node's NetworkPolicy enforcer. v2.1.0 is the only version the
# module proxy serves here and security flaws are reported for it: a test-harness tool only,
# never shipped or run outside the harness's own bridge.
KR_VERSION="$(modver "$MOD_DIR" github.com/cloudnativelabs/kube-router/v2)"
node_progress kube-router
build kube-router github.com/cloudnativelabs/kube-router/v2/cmd/kube-router \
  "-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$KR_VERSION" "$KR_VERSION" "" CGO_ENABLED=0
