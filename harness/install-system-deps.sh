#!/usr/bin/env bash
# Install the Debian packages stack-scan needs on a developer machine or in CI,
# only those missing: nmap (network scan, full mode), nftables and iproute2
# (network-namespace tests), openssl; for the optional real node (harness/node/):
# iptables, ipset, conntrack (kube-proxy, kube-router, kubelet), libseccomp-dev
# (runc's cgo seccomp build), busybox-static and redis-tools (files of the local images:
# redis-tools ships the redis-server program without starting a service); redis-server (the
# nuclei scan's integration tests start it on loopback, no password); postgresql (the nuclei
# scan's community-template tests run a throwaway cluster as nobody on loopback); chromium (the
# HTML report's test drives Debian's headless Chromium with playwright-core). Idempotent: does nothing (not even
# apt-get update) when everything is installed.
#
# Usage: harness/install-system-deps.sh          (as root, or with sudo available)
set -euo pipefail

packages=(nmap nftables iproute2 openssl iptables ipset conntrack libseccomp-dev pkg-config busybox-static redis-tools redis-server postgresql chromium)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-system-deps: all present (${packages[*]})"
  exit 0
fi

if [ "$(id -u)" = 0 ]; then
  sudo=()
elif command -v sudo >/dev/null; then
  sudo=(sudo)
else
  echo "install-system-deps: missing ${missing[*]} and not root (no sudo): run as root" >&2
  exit 1
fi

command -v apt-get >/dev/null || { echo "install-system-deps: missing ${missing[*]}, and apt-get is not available: install them with your package manager" >&2; exit 1; }

echo "install-system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"

for p in "${missing[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || { echo "install-system-deps: $p did not install" >&2; exit 1; }
done
echo "install-system-deps: installed ${missing[*]}"
