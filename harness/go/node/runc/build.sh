# Sourced by harness/go/node/build.sh with MOD_DIR set: runc, with cgo and seccomp
# (Debian libseccomp-dev + pkg-config; harness/install-system-deps.sh installs them).
RUNC_VERSION="$(modver "$MOD_DIR" github.com/opencontainers/runc)"
node_progress runc
build runc github.com/opencontainers/runc "-s -w" "$RUNC_VERSION" "^runc version ${RUNC_VERSION#v}\$" \
  CGO_ENABLED=1 "GOFLAGS=-buildvcs=false -tags=seccomp,urfave_cli_no_docs"
