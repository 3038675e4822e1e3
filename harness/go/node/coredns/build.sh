# Sourced by harness/go/node/build.sh with MOD_DIR set: CoreDNS (its default plugin set,
# which includes the kubernetes plugin that serves <svc>.<ns>.svc.cluster.local).
COREDNS_VERSION="$(modver "$MOD_DIR" github.com/coredns/coredns)"
node_progress coredns
build coredns github.com/coredns/coredns "-s -w" "$COREDNS_VERSION" "CoreDNS-${COREDNS_VERSION#v}\$" CGO_ENABLED=0
