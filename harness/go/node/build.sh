# Sourced by harness/build.sh: the optional real node of the local cluster (harness/node/).
# Several pinned tool modules, because their library versions clash (Kubernetes 1.36 vs
# containerd 2.x vs kube-router 2.1 vs CoreDNS): each sub-folder is one module
# (go.mod + go.sum + tools.go + build.sh), built one binary after the other.
#
#   k8s          kubelet, kube-scheduler, kube-controller-manager, kube-proxy (k8s.io/kubernetes)
#   runc         runc (cgo + libseccomp: Debian libseccomp-dev)
#   cni          CNI plugins bridge, host-local, loopback, portmap
#   containerd   containerd, containerd-shim-runc-v2, ctr
#   coredns      coredns (with its kubernetes plugin)
#   kube-router  kube-router v2.1.0 (NetworkPolicy enforcer, firewall only; test harness only)
#
# A cold build of all of these takes about 15-25 minutes on 2 cores (kube-apiserver's Go
# build cache helps the k8s ones); progress is printed per binary.
# Only some parts: NODE_PARTS="k8s runc" harness/build.sh node
NODE_ROOT="$MOD_DIR"
NODE_ALL=(runc cni k8s containerd coredns kube-router)
read -r -a NODE_SEL <<<"${NODE_PARTS:-${NODE_ALL[*]}}"
NODE_T0=$(now)
NODE_I=0
node_progress() { echo "[node part $NODE_I/${#NODE_SEL[@]}, $(( $(now) - NODE_T0 ))s elapsed] $1"; }
for part in "${NODE_SEL[@]}"; do
  [[ -f "$NODE_ROOT/$part/build.sh" ]] || { echo "error: no node part harness/go/node/$part (have: ${NODE_ALL[*]})" >&2; exit 2; }
done
for part in "${NODE_SEL[@]}"; do
  MOD_DIR="$NODE_ROOT/$part"
  NODE_I=$((NODE_I + 1))
  echo "== node/$part"
  # shellcheck source=/dev/null
  source "$MOD_DIR/build.sh"
done
MOD_DIR="$NODE_ROOT"
# The node's local images (pause, nmap probe, listen, redis, coredns): docker-archive tarballs made
# from local files, cached by their own stamps (harness/node/images.sh); needs .cache/bin/coredns.
if [[ -x "$BIN/coredns" ]]; then
  echo "== node/images"
  bash "$ROOT/harness/node/images.sh"
fi
echo "node: built/checked ${NODE_SEL[*]} in $(( $(now) - NODE_T0 ))s"
