# Sourced by harness/build.sh with MOD_DIR set: kube-apiserver and etcd.
K8S_VERSION="$(modver "$MOD_DIR" k8s.io/kubernetes)"
ETCD_VERSION="$(modver "$MOD_DIR" go.etcd.io/etcd/server/v3)"
[[ -n "$K8S_VERSION" && -n "$ETCD_VERSION" ]] || { echo "error: cannot read pins from $MOD_DIR/go.mod" >&2; exit 1; }
K8S_MAJOR="$(echo "${K8S_VERSION#v}" | cut -d. -f1)"
K8S_MINOR="$(echo "${K8S_VERSION#v}" | cut -d. -f2)"
# The version kube-apiserver reports (and kubelet etc., built from the same pin).
K8S_LDFLAGS="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  K8S_LDFLAGS+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=$K8S_MAJOR -X $p.gitMinor=$K8S_MINOR"
  if [[ $p == k8s.io/component-base/version ]]; then K8S_LDFLAGS+=" -X $p.gitTreeState=clean"; fi
done
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$K8S_LDFLAGS" "$K8S_VERSION" "Kubernetes $K8S_VERSION\$"
build etcd go.etcd.io/etcd/server/v3 "-s -w" "$ETCD_VERSION" "etcd Version: ${ETCD_VERSION#v}\$"
