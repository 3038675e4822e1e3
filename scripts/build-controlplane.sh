#!/usr/bin/env bash
# Build the real control-plane binaries that stack-scan's integration tests and
# demo run as local processes (envtest-style, no container runtime, no kubelet):
#
#   .cache/bin/kube-apiserver   k8s.io/kubernetes/cmd/kube-apiserver  (tools/controlplane/go.mod)
#   .cache/bin/etcd             go.etcd.io/etcd/server/v3             (tools/controlplane/go.mod)
#   .cache/bin/gatekeeper       github.com/open-policy-agent/gatekeeper/v3 (tools/gatekeeper/go.mod)
#   .cache/gatekeeper/crds.yaml the CustomResourceDefinitions of the pinned Gatekeeper's
#                               deploy/gatekeeper.yaml (installed by test/controlplane)
#
# Idempotent and cached: each binary has a stamp file .cache/bin/<name>.stamp holding
# the sha256 of its go.mod + go.sum + package + ldflags; a binary is rebuilt only when
# that changes (i.e. when a pin changes) or the binary is missing. Builds run one after
# the other (they are CPU- and memory-hungry). A first build takes several minutes per
# binary; later builds reuse Go's build cache.
#
# Usage: scripts/build-controlplane.sh [--force]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/.cache/bin"
CP_MOD="$ROOT/tools/controlplane"
GK_MOD="$ROOT/tools/gatekeeper"
FORCE=0
if [[ "${1:-}" == "--force" ]]; then FORCE=1; fi

if ! command -v go >/dev/null 2>&1; then
  echo "error: 'go' was not found on PATH. Install Go (>= the version in tools/*/go.mod, https://go.dev/dl/)" >&2
  echo "       and re-run scripts/build-controlplane.sh to build kube-apiserver, etcd and gatekeeper." >&2
  exit 1
fi
mkdir -p "$BIN" "$ROOT/.cache/gatekeeper"

# The version a go.mod requires for a module (first "require" match).
modver() { awk -v m="$2" '($1 == m || ($1 == "require" && $2 == m)) { print ($1 == m ? $2 : $3); exit }' "$1/go.mod"; }

sha() { sha256sum | cut -d' ' -f1; }
now() { date +%s; }

# build <name> <module dir> <package> <ldflags> <label> <version-probe-regex>
build() {
  local name="$1" dir="$2" pkg="$3" ldflags="$4" label="$5" probe="$6"
  local out="$BIN/$name" stampf="$BIN/$name.stamp" stamp
  stamp="$( { cat "$dir/go.mod" "$dir/go.sum"; printf '%s\n%s\n' "$pkg" "$ldflags"; } | sha)"
  if [[ $FORCE == 0 && -x "$out" ]]; then
    if [[ -f "$stampf" && "$(cat "$stampf")" == "$stamp" ]]; then
      echo "ok: $name $label is up to date ($out)"
      return 0
    fi
    # A binary without a stamp (e.g. built by hand with the same flags): adopt it when it
    # reports the pinned version, instead of relinking a multi-hundred-MB binary.
    if [[ ! -f "$stampf" && -n "$probe" ]] && "$out" --version 2>/dev/null | grep -Eq "$probe"; then
      echo "ok: adopting existing $name ($label, no stamp yet; it reports the pinned version)"
      echo "$stamp" >"$stampf"
      return 0
    fi
  fi
  echo "building $name $label (first build takes several minutes)…"
  local t0; t0=$(now)
  rm -f "$stampf"
  (cd "$dir" && go build -trimpath -ldflags "$ldflags" -o "$out.tmp" "$pkg")
  mv -f "$out.tmp" "$out"
  echo "$stamp" >"$stampf"
  echo "built $name $label in $(( $(now) - t0 ))s ($(du -h "$out" | cut -f1))"
}

T0=$(now)

K8S_VERSION="$(modver "$CP_MOD" k8s.io/kubernetes)"
ETCD_VERSION="$(modver "$CP_MOD" go.etcd.io/etcd/server/v3)"
GK_VERSION="$(modver "$GK_MOD" github.com/open-policy-agent/gatekeeper/v3)"
if [[ -z "$K8S_VERSION" || -z "$ETCD_VERSION" || -z "$GK_VERSION" ]]; then
  echo "error: could not read the pinned versions from tools/controlplane/go.mod and tools/gatekeeper/go.mod" >&2
  exit 1
fi
K8S_MAJOR="$(echo "${K8S_VERSION#v}" | cut -d. -f1)"
K8S_MINOR="$(echo "${K8S_VERSION#v}" | cut -d. -f2)"

APISERVER_LDFLAGS="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  APISERVER_LDFLAGS+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=$K8S_MAJOR -X $p.gitMinor=$K8S_MINOR"
  if [[ $p == k8s.io/component-base/version ]]; then APISERVER_LDFLAGS+=" -X $p.gitTreeState=clean"; fi
done

build kube-apiserver "$CP_MOD" k8s.io/kubernetes/cmd/kube-apiserver "$APISERVER_LDFLAGS" \
  "$K8S_VERSION" "Kubernetes $K8S_VERSION\$"
build etcd "$CP_MOD" go.etcd.io/etcd/server/v3 "-s -w" \
  "$ETCD_VERSION" "etcd Version: ${ETCD_VERSION#v}\$"
build gatekeeper "$GK_MOD" github.com/open-policy-agent/gatekeeper/v3 \
  "-s -w -X github.com/open-policy-agent/gatekeeper/v3/pkg/version.Version=$GK_VERSION" \
  "$GK_VERSION" ""

# Gatekeeper's CRDs, from the pinned module's own deploy manifest.
GK_DIR="$(cd "$GK_MOD" && go list -m -f '{{.Dir}}' github.com/open-policy-agent/gatekeeper/v3)"
MANIFEST="$GK_DIR/deploy/gatekeeper.yaml"
if [[ ! -f "$MANIFEST" ]]; then
  echo "error: $MANIFEST not found (is the Gatekeeper module downloaded? try: cd tools/gatekeeper && go mod download)" >&2
  exit 1
fi
CRDS="$ROOT/.cache/gatekeeper/crds.yaml"
awk '
  function flush() { if (doc ~ /(^|\n)kind: CustomResourceDefinition\n/) { printf "%s", (n++ ? "---\n" : "") doc } doc = "" }
  /^---[[:space:]]*$/ { flush(); next }
  { doc = doc $0 "\n" }
  END { flush() }
' "$MANIFEST" >"$CRDS.tmp"
mv -f "$CRDS.tmp" "$CRDS"
cp -f "$MANIFEST" "$ROOT/.cache/gatekeeper/gatekeeper.yaml" && chmod u+w "$ROOT/.cache/gatekeeper/gatekeeper.yaml"
echo "$GK_VERSION" >"$ROOT/.cache/gatekeeper/VERSION"
echo "ok: $(grep -c '^kind: CustomResourceDefinition' "$CRDS") Gatekeeper $GK_VERSION CRDs -> ${CRDS#"$ROOT"/}"

echo "done in $(( $(now) - T0 ))s: $(ls "$BIN" | grep -v '\.stamp$' | tr '\n' ' ')"
