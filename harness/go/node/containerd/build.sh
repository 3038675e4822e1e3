# Sourced by harness/go/node/build.sh with MOD_DIR set: containerd 2.x, its runc shim, ctr.
CTRD_VERSION="$(modver "$MOD_DIR" github.com/containerd/containerd/v2)"
CTRD_LDFLAGS="-s -w -X github.com/containerd/containerd/v2/version.Version=$CTRD_VERSION"
for b in containerd containerd-shim-runc-v2 ctr; do
  node_progress "$b"
  build "$b" "github.com/containerd/containerd/v2/cmd/$b" "$CTRD_LDFLAGS" "$CTRD_VERSION" "" \
    CGO_ENABLED=0 "GOFLAGS=-buildvcs=false -tags=no_btrfs"
done
