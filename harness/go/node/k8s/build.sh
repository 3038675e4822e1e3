# Sourced by harness/go/node/build.sh with MOD_DIR set: kubelet, kube-controller-manager,
# kube-scheduler, kube-proxy from the same k8s.io/kubernetes pin as kube-apiserver.
K8S_VERSION="$(modver "$MOD_DIR" k8s.io/kubernetes)"
[[ -n "$K8S_VERSION" ]] || { echo "error: cannot read the k8s.io/kubernetes pin from $MOD_DIR/go.mod" >&2; exit 1; }
K8S_MAJOR="$(echo "${K8S_VERSION#v}" | cut -d. -f1)"
K8S_MINOR="$(echo "${K8S_VERSION#v}" | cut -d. -f2)"
K8S_LDFLAGS="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  K8S_LDFLAGS+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=$K8S_MAJOR -X $p.gitMinor=$K8S_MINOR"
  if [[ $p == k8s.io/component-base/version ]]; then K8S_LDFLAGS+=" -X $p.gitTreeState=clean"; fi
done
for b in kubelet kube-scheduler kube-controller-manager kube-proxy; do
  node_progress "$b"
  build "$b" "k8s.io/kubernetes/cmd/$b" "$K8S_LDFLAGS" "$K8S_VERSION" "Kubernetes $K8S_VERSION\$"
done
