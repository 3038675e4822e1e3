# Sourced by harness/go/node/build.sh with MOD_DIR set: the CNI plugins the node uses,
# into .cache/bin/cni/ (the node's CNI bin dir: a plugin's file name is its type).
CNI_VERSION="$(modver "$MOD_DIR" github.com/containernetworking/plugins)"
mkdir -p "$BIN/cni"
for p in main/bridge ipam/host-local main/loopback meta/portmap; do
  node_progress "cni/${p#*/}"
  build "cni/${p#*/}" "github.com/containernetworking/plugins/plugins/$p" \
    "-s -w -X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=$CNI_VERSION" \
    "$CNI_VERSION" "" CGO_ENABLED=0
done
