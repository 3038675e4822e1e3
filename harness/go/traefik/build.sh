# Sourced by harness/build.sh with MOD_DIR set: Traefik v3.6.12 into .cache/bin/knative/traefik,
# the ingress of the optional Knative on the real node (its Knative provider reads KIngress
# objects of class traefik.ingress.networking.knative.dev). go.mod carries Traefik's own replace
# lines (containous forks) and its exclude. Pure Go; about 5 min cold on 2 cores, ~180 MB.
# Optional: built by default only with STACKSCAN_KNATIVE=1, or by name: harness/build.sh traefik.
TRAEFIK_VERSION="$(modver "$MOD_DIR" github.com/traefik/traefik/v3)"
mkdir -p "$BIN/knative"
build knative/traefik github.com/traefik/traefik/v3/cmd/traefik \
  "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION" "$TRAEFIK_VERSION" "" CGO_ENABLED=0
