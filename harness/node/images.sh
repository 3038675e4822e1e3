#!/usr/bin/env bash
# Build the real node's local images from files on this machine (no registry, nothing pulled):
# docker-archive tarballs (manifest.json + config + one layer tar) in .cache/images/, imported by
# harness/node with `ctr -n k8s.io images import --local`. Names are under localhost/.
#
#   localhost/stackscan/pause:1     busybox-static `sleep` (the pod sandbox; killed with SIGKILL)
#   localhost/stackscan/nmap:7.93   Debian's nmap + the libraries ldd lists + /usr/share/nmap
#                                   (NETWORK_PROBE_IMAGE for the network scan's cluster runner)
#   localhost/stackscan/listen:1    busybox-static: `httpd -f -p <port>` per port in $PORTS (TCP + HTTP)
#   localhost/stackscan/redis:7     Debian's redis-server (redis-tools' binary) + its libraries
#   localhost/stackscan/coredns:1   .cache/bin/coredns (static) for the cluster DNS pod
#
# Cached: an archive is rebuilt only when its inputs' stamp changes. Needs busybox-static, nmap,
# redis-tools (harness/install-system-deps.sh) and .cache/bin/coredns (harness/build.sh node).
# Usage: harness/node/images.sh [image-short-name ...]     (prints one line per image)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="$ROOT/.cache/images"
mkdir -p "$OUT"
BUSYBOX=/bin/busybox
[[ -x "$BUSYBOX" ]] && file_static=$(ldd "$BUSYBOX" 2>&1 || true)
[[ "${file_static:-}" == *"not a dynamic executable"* ]] || { echo "error: $BUSYBOX is missing or not static: run harness/install-system-deps.sh (busybox-static)" >&2; exit 1; }

# add_bin <rootfs> <binary> [dest]: the binary plus every library ldd lists, at the same paths.
add_bin() {
  local rootfs="$1" bin="$2" dest="${3:-$2}"
  install -D -m 0755 "$bin" "$rootfs$dest"
  ldd "$bin" 2>/dev/null | awk '/=> \// { print $3 } /^[ \t]*\/lib/ { print $1 }' | while read -r lib; do
    [[ -e "$rootfs$lib" ]] || install -D -m 0755 "$(readlink -f "$lib")" "$rootfs$lib"
  done
}

base_files() {
  local rootfs="$1"
  chmod 0755 "$rootfs"
  mkdir -p "$rootfs"/{etc,tmp,bin,proc,sys,dev,var/run}
  chmod 1777 "$rootfs/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\nnobody:x:65534:\n' >"$rootfs/etc/group"
  printf 'hosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
}

# pack <name:tag> <rootfs> <json config object>: writes $OUT/<short>.tar (docker-archive).
pack() {
  local ref="$1" rootfs="$2" cfg="$3" short work layer diff
  short="$(echo "$ref" | sed 's#^localhost/stackscan/##; s#:.*##')"
  work="$(mktemp -d)"
  tar --sort=name --mtime='2000-01-01 00:00Z' --owner=0 --group=0 --numeric-owner -C "$rootfs" -cf "$work/layer.tar" .
  diff="$(sha256sum "$work/layer.tar" | cut -d' ' -f1)"
  mkdir -p "$work/$diff"
  mv "$work/layer.tar" "$work/$diff/layer.tar"
  printf '{"architecture":"amd64","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created_by":"harness/node/images.sh"}]}' "$cfg" "$diff" >"$work/config.json"
  local cfgsha; cfgsha="$(sha256sum "$work/config.json" | cut -d' ' -f1)"
  mv "$work/config.json" "$work/$cfgsha.json"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]' "$cfgsha" "$ref" "$diff" >"$work/manifest.json"
  tar -C "$work" -cf "$OUT/$short.tar.tmp" manifest.json "$cfgsha.json" "$diff"
  mv -f "$OUT/$short.tar.tmp" "$OUT/$short.tar"
  echo "$ref" >"$OUT/$short.ref"
  rm -rf "$work"
}

# image <short> <stamp inputs...> -- builder: skips when the stamp matches.
build_image() {
  local short="$1" ref="$2" stamp="$3" fn="$4"
  if [[ -f "$OUT/$short.tar" && -f "$OUT/$short.stamp" && "$(cat "$OUT/$short.stamp")" == "$stamp" ]]; then
    echo "ok: image $ref is up to date"; return 0
  fi
  local rootfs; rootfs="$(mktemp -d)"
  "$fn" "$rootfs"
  local cfg; cfg="$(cfg_$short)"
  pack "$ref" "$rootfs" "$cfg"
  rm -rf "$rootfs"
  echo "$stamp" >"$OUT/$short.stamp"
  echo "built image $ref ($(du -h "$OUT/$short.tar" | cut -f1))"
}

stamp_of() { { cat "${BASH_SOURCE[0]}"; for f in "$@"; do sha256sum "$f"; done; } | sha256sum | cut -d' ' -f1; }

fs_pause() { base_files "$1"; install -m 0755 "$BUSYBOX" "$1/bin/busybox"; }
cfg_pause() { echo '{"Entrypoint":["/bin/busybox","sleep","2147483647"],"User":"65535:65535"}'; }

fs_nmap() {
  base_files "$1"
  add_bin "$1" /usr/bin/nmap
  mkdir -p "$1/usr/share"; cp -a /usr/share/nmap "$1/usr/share/nmap"
  install -m 0755 "$BUSYBOX" "$1/bin/busybox"; ln -s busybox "$1/bin/sh"
}
cfg_nmap() { echo '{"Entrypoint":["/usr/bin/nmap"],"Env":["PATH=/usr/bin:/bin"],"User":"65532:65532"}'; }

fs_listen() { base_files "$1"; install -m 0755 "$BUSYBOX" "$1/bin/busybox"; ln -s busybox "$1/bin/sh"; mkdir -p "$1/www"; echo ok >"$1/www/index.html"; }
cfg_listen() {
  echo '{"Entrypoint":["/bin/busybox","sh","-c","for p in ${PORTS:-8080}; do /bin/busybox httpd -f -p $p -h /www & done; wait"],"Env":["PATH=/bin","PORTS=8080"],"User":"65532:65532"}'
}

fs_redis() { base_files "$1"; add_bin "$1" /usr/bin/redis-check-rdb /usr/bin/redis-server; }
cfg_redis() { echo '{"Entrypoint":["/usr/bin/redis-server","--port","6379","--bind","0.0.0.0","--protected-mode","no","--save","","--appendonly","no","--dir","/tmp"],"User":"65532:65532"}'; }

fs_coredns() { base_files "$1"; install -D -m 0755 "$ROOT/.cache/bin/coredns" "$1/coredns"; }
cfg_coredns() { echo '{"Entrypoint":["/coredns"],"User":"65532:65532"}'; }

# Sourced (harness/knative/images.sh reuses base_files, add_bin and the docker-archive format):
# the helpers only, no image built.
[[ "${BASH_SOURCE[0]}" == "$0" ]] || return 0
want=("$@")
[[ ${#want[@]} -gt 0 ]] || want=(pause nmap listen redis coredns)
for w in "${want[@]}"; do
  case "$w" in
    pause) build_image pause localhost/stackscan/pause:1 "$(stamp_of "$BUSYBOX")" fs_pause ;;
    nmap) command -v nmap >/dev/null || { echo "error: nmap missing: run harness/install-system-deps.sh" >&2; exit 1; }
      build_image nmap localhost/stackscan/nmap:7.93 "$(stamp_of /usr/bin/nmap "$BUSYBOX")" fs_nmap ;;
    listen) build_image listen localhost/stackscan/listen:1 "$(stamp_of "$BUSYBOX")" fs_listen ;;
    redis) [[ -x /usr/bin/redis-check-rdb ]] || { echo "error: redis-server missing: run harness/install-system-deps.sh (redis-tools)" >&2; exit 1; }
      build_image redis localhost/stackscan/redis:7 "$(stamp_of /usr/bin/redis-check-rdb)" fs_redis ;;
    coredns) [[ -x "$ROOT/.cache/bin/coredns" ]] || { echo "error: .cache/bin/coredns missing: run harness/build.sh node" >&2; exit 1; }
      build_image coredns localhost/stackscan/coredns:1 "$(stamp_of "$ROOT/.cache/bin/coredns")" fs_coredns ;;
    *) echo "error: unknown image $w (pause nmap listen redis coredns)" >&2; exit 2 ;;
  esac
done
