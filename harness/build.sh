#!/usr/bin/env bash
# Build the real Go programs that stack-scan's tests and demo run, from pinned tool
# modules under harness/go/<module>/ (go.mod + go.sum + tools.go + build.sh):
#
#   controlplane  kube-apiserver, etcd               (k8s.io/kubernetes, go.etcd.io/etcd)
#   gatekeeper    gatekeeper + its CRDs               (github.com/open-policy-agent/gatekeeper/v3)
#   …             any other harness/go/<module>/build.sh (kubescape, nuclei, node, …)
#
# Each module's build.sh is sourced here and calls `build <name> <package> <ldflags> <label>
# [version-probe-regex] [env...]` once per binary, plus any post-step of its own.
#
# Cached and stamped: .cache/bin/<name>.stamp holds the sha256 of the module's go.mod +
# go.sum + package + ldflags + env; a binary is rebuilt only when that changes or it is
# missing. Builds run one after the other (CPU- and memory-hungry), also across
# concurrent invocations (one lock, .cache/bin/.build.lock). `go install pkg@version`
# cannot be used here: the module proxy refuses version listing.
#
# Usage: harness/build.sh [--force | --check] [module ...]   (default: every module, in ORDER)
#   --check  build no Go binary: exit 0 when every one is built and up to date, 1 otherwise (a
#            module's own post-steps, e.g. gatekeeper's CRD extraction, still run)
#
# OPTIONAL modules (the Knative on the real node: knative-serving, knative-eventing, traefik;
# about 10 min cold) are part of the default set only with STACKSCAN_KNATIVE=1; name them to
# build them anyway (docs/knative.md).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/.cache/bin"
GO_DIR="$ROOT/harness/go"
ORDER=(controlplane gatekeeper kubescape nuclei node)
OPTIONAL=(knative-serving knative-eventing traefik)
FORCE=0
CHECK=0
STALE=()
MODULES=()
for a in "$@"; do
  case "$a" in
    --force) FORCE=1 ;;
    --check) CHECK=1 ;;
    -*) echo "usage: harness/build.sh [--force | --check] [module ...]" >&2; exit 2 ;;
    *) MODULES+=("$a") ;;
  esac
done
if [[ ${#MODULES[@]} -eq 0 ]]; then
  for m in "${ORDER[@]}"; do [[ -f "$GO_DIR/$m/build.sh" ]] && MODULES+=("$m"); done
  for d in "$GO_DIR"/*/; do
    m="$(basename "$d")"
    [[ " ${OPTIONAL[*]} " == *" $m "* && "${STACKSCAN_KNATIVE:-}" != 1 ]] && continue
    [[ -f "$d/build.sh" && ! " ${MODULES[*]} " == *" $m "* ]] && MODULES+=("$m")
  done
fi

if ! command -v go >/dev/null 2>&1; then
  echo "error: 'go' was not found on PATH. Install Go (>= the version in harness/go/*/go.mod)" >&2
  echo "       and re-run harness/build.sh" >&2
  exit 1
fi
mkdir -p "$BIN"

# The version a go.mod requires for a module (first "require" match).
# Fails (and, under set -e, stops the build) when the go.mod does not pin the module.
modver() {
  local v
  v="$(awk -v m="$2" '($1 == m || ($1 == "require" && $2 == m)) { print ($1 == m ? $2 : $3); exit }' "$1/go.mod")"
  [[ -n "$v" ]] || { echo "error: $1/go.mod does not pin $2" >&2; return 1; }
  echo "$v"
}
sha() { sha256sum | cut -d' ' -f1; }

# The ldflags that make a k8s.io/kubernetes binary report its version (kube-apiserver, kubelet, …).
k8s_ldflags() {
  local v="$1" major minor flags="-s -w" p
  major="$(echo "${v#v}" | cut -d. -f1)"
  minor="$(echo "${v#v}" | cut -d. -f2)"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $p.gitVersion=$v -X $p.gitMajor=$major -X $p.gitMinor=$minor"
    if [[ $p == k8s.io/component-base/version ]]; then flags+=" -X $p.gitTreeState=clean"; fi
  done
  echo "$flags"
}
now() { date +%s; }

# build <name> <package> <ldflags> <label> [version-probe-regex] [VAR=value ...]
# Builds in $MOD_DIR (the module being processed).
build() {
  local name="$1" pkg="$2" ldflags="$3" label="$4" probe="${5:-}"
  shift 5 2>/dev/null || shift $#
  local envs=("$@")
  local dir="$MOD_DIR" out="$BIN/$name" stampf="$BIN/$name.stamp" stamp
  stamp="$( { cat "$dir/go.mod" "$dir/go.sum"; printf '%s\n%s\n%s\n' "$pkg" "$ldflags" "${envs[*]:-}"; } | sha)"
  if [[ $CHECK == 1 ]]; then
    if [[ -x "$out" && -f "$stampf" && "$(cat "$stampf")" == "$stamp" ]]; then echo "ok: $name $label is up to date"
    else echo "stale: $name $label would be built"; STALE+=("$name"); fi
    return 0
  fi
  # Up to date: nothing to wait for (the lock is only for building).
  if [[ $FORCE == 0 && -x "$out" && -f "$stampf" && "$(cat "$stampf")" == "$stamp" ]]; then
    echo "ok: $name $label is up to date"
    return 0
  fi
  # One Go build at a time on this machine (they are CPU- and memory-hungry), also across
  # concurrent invocations; the stamp is checked again once the lock is held.
  exec 9>"$BIN/.build.lock"
  if ! flock -n 9; then echo "waiting for another Go build to finish (lock .cache/bin/.build.lock)…"; flock 9; fi
  if [[ $FORCE == 0 && -x "$out" ]]; then
    if [[ -f "$stampf" && "$(cat "$stampf")" == "$stamp" ]]; then
      echo "ok: $name $label is up to date"
      exec 9>&-
      return 0
    fi
    if [[ ! -f "$stampf" && -n "$probe" ]] && "$out" --version 2>/dev/null | grep -Eq "$probe"; then
      echo "ok: adopting existing $name ($label, no stamp yet; it reports the pinned version)"
      echo "$stamp" >"$stampf"
      exec 9>&-
      return 0
    fi
  fi
  echo "building $name $label (a first build takes minutes; progress: go's own lines)…"
  local t0; t0=$(now)
  rm -f "$stampf"
  (cd "$dir" && env ${envs[@]+"${envs[@]}"} go build -trimpath -ldflags "$ldflags" -o "$out.tmp" "$pkg")
  mv -f "$out.tmp" "$out"
  echo "$stamp" >"$stampf"
  echo "built $name $label in $(( $(now) - t0 ))s ($(du -h "$out" | cut -f1))"
  exec 9>&-
}

T0=$(now)
for m in "${MODULES[@]}"; do
  MOD_DIR="$GO_DIR/$m"
  if [[ ! -f "$MOD_DIR/build.sh" ]]; then echo "error: no module harness/go/$m (have: $(ls "$GO_DIR" | tr '\n' ' '))" >&2; exit 2; fi
  echo "== $m"
  # shellcheck source=/dev/null
  source "$MOD_DIR/build.sh"
done
if [[ $CHECK == 1 ]]; then
  if [[ ${#STALE[@]} -gt 0 ]]; then echo "not built or stale: ${STALE[*]}"; exit 1; fi
  echo "every binary is built and up to date"; exit 0
fi
echo "done in $(( $(now) - T0 ))s: $(ls "$BIN" | grep -Ev '\.(stamp|lock)$' | tr '\n' ' ')"
