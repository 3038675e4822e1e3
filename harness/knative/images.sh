#!/usr/bin/env bash
# Local images of the optional Knative on the real node, built from files on this machine (no
# registry, nothing pulled): docker-archive tarballs in .cache/images/ that harness/knative imports
# with `ctr -n k8s.io images import --local`, as harness/node does for its own (same format and
# helpers: harness/node/images.sh). One archive holds several images sharing layers: containerd
# stores a shared layer once.
#
#   knative-serving.tar   localhost/stackscan/knative-serving-<cmd>:v0.50.0 (controller, activator,
#                         autoscaler, webhook, queue): one layer with every binary under /ko-app/,
#                         one config per image (Entrypoint /ko-app/<cmd>, numeric USER 65532: the
#                         upstream Deployments set runAsNonRoot)
#   knative-eventing.tar  localhost/stackscan/knative-eventing-<cmd>:v0.50.0, the same way
#   functions.tar         dev.local/stackscan/stack-scan-<function>:local, one per function: a base
#                         layer (Node from this machine + its libraries, busybox-static) and a
#                         layer with the function's bundle (dist/<function>.mjs and its chunks,
#                         dist/<function>.chunks/, from `npm run build`) and what its scan needs:
#                         nmap + /usr/share/nmap (network),
#                         kubescape + its artifacts (kubescape), nuclei + the project's templates
#                         (nuclei; the Containerfile bakes the community templates instead)
#
# Cached: an archive is rebuilt only when its inputs' stamp changes (this script included: names, layout).
# Usage: harness/knative/images.sh [serving] [eventing] [functions]   (default: all it can build)
set -euo pipefail
KROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../node/images.sh
source "$KROOT/harness/node/images.sh"
ROOT="$KROOT"
OUT="$ROOT/.cache/images"
KBIN="$ROOT/.cache/bin/knative"
KVERSION=v0.50.0
SERVING_CMDS=(controller activator autoscaler webhook queue)
EVENTING_CMDS=(controller webhook mtping broker-ingress broker-filter mtchannel-broker in-memory-channel-controller in-memory-channel-dispatcher)
FUNCTIONS=(network-scan opa-scan kubescape-scan nuclei-scan)
mkdir -p "$OUT"

# pack_multi <archive short name> <entries file> <layer rootfs...>
# entries file: one line per image, "<ref> <layer indexes, comma-separated> <config json>".
pack_multi() {
  local short="$1" entries="$2"; shift 2
  local work; work="$(mktemp -d)"
  local -a diffs=()
  local rootfs diff
  for rootfs in "$@"; do
    tar --sort=name --mtime='2000-01-01 00:00Z' --owner=0 --group=0 --numeric-owner -C "$rootfs" -cf "$work/layer.tar" .
    diff="$(sha256sum "$work/layer.tar" | cut -d' ' -f1)"
    mkdir -p "$work/$diff"
    mv "$work/layer.tar" "$work/$diff/layer.tar"
    diffs+=("$diff")
  done
  local manifest="[" sep="" ref idx cfg ids layers cfgsha i
  while read -r ref idx cfg; do
    ids=""; layers=""
    for i in ${idx//,/ }; do
      ids+="${ids:+,}\"sha256:${diffs[$i]}\""
      layers+="${layers:+,}\"${diffs[$i]}/layer.tar\""
    done
    printf '{"architecture":"amd64","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":[%s]},"history":[{"created_by":"harness/knative/images.sh"}]}' "$cfg" "$ids" >"$work/config.json"
    cfgsha="$(sha256sum "$work/config.json" | cut -d' ' -f1)"
    mv "$work/config.json" "$work/$cfgsha.json"
    manifest+="$sep{\"Config\":\"$cfgsha.json\",\"RepoTags\":[\"$ref\"],\"Layers\":[$layers]}"
    sep=","
  done <"$entries"
  echo "$manifest]" >"$work/manifest.json"
  local -a names
  mapfile -t names < <(ls -A "$work")
  tar -C "$work" -cf "$OUT/$short.tar.tmp" "${names[@]}"
  mv -f "$OUT/$short.tar.tmp" "$OUT/$short.tar"
  rm -rf "$work"
}

fresh() { [[ -f "$OUT/$1.tar" && -f "$OUT/$1.stamp" && "$(cat "$OUT/$1.stamp")" == "$2" ]]; }

# knative <serving|eventing>: every binary of that part in one layer.
knative_archive() {
  local part="$1"; shift
  local -a cmds=("$@") files=()
  local c
  for c in "${cmds[@]}"; do
    [[ -x "$KBIN/$part-$c" ]] || { echo "error: $KBIN/$part-$c missing: run harness/build.sh knative-$part" >&2; return 1; }
    files+=("$KBIN/$part-$c")
  done
  local stamp; stamp="$(stamp_of "${BASH_SOURCE[0]}" "${files[@]}")"
  if fresh "knative-$part" "$stamp"; then echo "ok: image archive knative-$part.tar is up to date"; return 0; fi
  local rootfs entries; rootfs="$(mktemp -d)"; entries="$(mktemp)"
  base_files "$rootfs"
  mkdir -p "$rootfs/ko-app" "$rootfs/var/run/ko"
  for c in "${cmds[@]}"; do
    install -m 0755 "$KBIN/$part-$c" "$rootfs/ko-app/$c"
    printf 'localhost/stackscan/knative-%s-%s:%s 0 {"Entrypoint":["/ko-app/%s"],"Env":["KO_DATA_PATH=/var/run/ko","PATH=/ko-app"],"User":"65532:65532"}\n' "$part" "$c" "$KVERSION" "$c" >>"$entries"
  done
  pack_multi "knative-$part" "$entries" "$rootfs"
  rm -rf "$rootfs" "$entries"
  echo "$stamp" >"$OUT/knative-$part.stamp"
  echo "built image archive knative-$part.tar (${#cmds[@]} images, $(du -h "$OUT/knative-$part.tar" | cut -f1))"
}

fn_layer() {
  local fn="$1" rootfs="$2"
  mkdir -p "$rootfs/app"
  cp "$ROOT/dist/$fn.mjs" "$rootfs/app/"
  cp -r "$ROOT/dist/$fn.chunks" "$rootfs/app/"
  case "$fn" in
    network-scan)
      mkdir -p "$rootfs/usr/share"
      add_bin "$rootfs" /usr/bin/nmap
      cp -a /usr/share/nmap "$rootfs/usr/share/nmap" ;;
    kubescape-scan)
      install -D -m 0755 "$ROOT/.cache/bin/kubescape" "$rootfs/usr/local/bin/kubescape"
      mkdir -p "$rootfs/opt/stack-scan"
      cp -a "$ROOT/functions/kubescape-scan/artifacts" "$rootfs/opt/stack-scan/kubescape-artifacts" ;;
    nuclei-scan)
      install -D -m 0755 "$ROOT/.cache/bin/nuclei" "$rootfs/usr/local/bin/nuclei"
      mkdir -p "$rootfs/opt/stack-scan"
      cp -a "$ROOT/test/fixtures/nuclei/templates" "$rootfs/opt/stack-scan/nuclei-templates" ;;
  esac
}

functions_archive() {
  local node; node="$(readlink -f "$(command -v node)")"
  local f missing=()
  for f in "${FUNCTIONS[@]}"; do [[ -f "$ROOT/dist/$f.mjs" && -d "$ROOT/dist/$f.chunks" ]] || missing+=("dist/$f.mjs (and dist/$f.chunks/)"); done
  [[ -x "$ROOT/.cache/bin/kubescape" ]] || missing+=(".cache/bin/kubescape (harness/build.sh kubescape)")
  [[ -x "$ROOT/.cache/bin/nuclei" ]] || missing+=(".cache/bin/nuclei (harness/build.sh nuclei)")
  command -v nmap >/dev/null || missing+=("nmap (harness/install-system-deps.sh)")
  if [[ ${#missing[@]} -gt 0 ]]; then echo "error: missing ${missing[*]} (dist/: npm run build)" >&2; return 1; fi
  local stamp bundles=()
  for f in "${FUNCTIONS[@]}"; do bundles+=("$ROOT/dist/$f.mjs" "$ROOT/dist/$f.chunks"/*.mjs); done
  stamp="$( { stamp_of "${BASH_SOURCE[0]}" "$node" /usr/bin/nmap "$ROOT/.cache/bin/kubescape" "$ROOT/.cache/bin/nuclei" "${bundles[@]}"; \
    find "$ROOT/functions/kubescape-scan/artifacts" "$ROOT/test/fixtures/nuclei/templates" -type f -print0 | sort -z | xargs -0 sha256sum; } | sha256sum | cut -d' ' -f1)"
  if fresh functions "$stamp"; then echo "ok: image archive functions.tar is up to date"; return 0; fi
  local base entries; base="$(mktemp -d)"; entries="$(mktemp)"
  base_files "$base"
  add_bin "$base" "$node" /usr/bin/node
  install -m 0755 "$BUSYBOX" "$base/bin/busybox"; ln -s busybox "$base/bin/sh"
  local -a layers=("$base")
  local i=1 env
  for f in "${FUNCTIONS[@]}"; do
    local l; l="$(mktemp -d)"; chmod 0755 "$l"
    fn_layer "$f" "$l"
    layers+=("$l")
    env='"PATH=/usr/local/bin:/usr/bin:/bin","NODE_ENV=production","PORT=8080","HOME=/tmp"'
    case "$f" in
      kubescape-scan) env+=',"KUBESCAPE_BIN=/usr/local/bin/kubescape","KUBESCAPE_ARTIFACTS_DIR=/opt/stack-scan/kubescape-artifacts"' ;;
      nuclei-scan) env+=',"NUCLEI_BIN=/usr/local/bin/nuclei","NUCLEI_TEMPLATES_DIR=/opt/stack-scan/nuclei-templates"' ;;
    esac
    printf 'dev.local/stackscan/stack-scan-%s:local 0,%d {"Entrypoint":["/usr/bin/node","/app/%s.mjs"],"Env":[%s],"WorkingDir":"/app","User":"65532:65532","ExposedPorts":{"8080/tcp":{}}}\n' "$f" "$i" "$f" "$env" >>"$entries"
    i=$((i + 1))
  done
  pack_multi functions "$entries" "${layers[@]}"
  rm -rf "${layers[@]}" "$entries"
  echo "$stamp" >"$OUT/functions.stamp"
  echo "built image archive functions.tar (${#FUNCTIONS[@]} images, $(du -h "$OUT/functions.tar" | cut -f1))"
}

want=("$@")
[[ ${#want[@]} -gt 0 ]] || want=(serving eventing functions)
for w in "${want[@]}"; do
  case "$w" in
    serving) knative_archive serving "${SERVING_CMDS[@]}" ;;
    eventing) knative_archive eventing "${EVENTING_CMDS[@]}" ;;
    functions) functions_archive ;;
    *) echo "error: unknown archive $w (serving eventing functions)" >&2; exit 2 ;;
  esac
done
