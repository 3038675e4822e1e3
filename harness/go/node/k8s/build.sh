# Sourced by harness/go/node/build.sh with MOD_DIR set: kubelet, kube-controller-manager,
# kube-scheduler, kube-proxy from the same k8s.io/kubernetes pin as kube-apiserver.
K8S_VERSION="$(modver "$MOD_DIR" k8s.io/kubernetes)"
# The version the binaries report (the same for every binary of this pin).
K8S_LDFLAGS="$(k8s_ldflags "$K8S_VERSION")"
for b in kubelet kube-scheduler kube-controller-manager kube-proxy; do
  node_progress "$b"
  build "$b" "k8s.io/kubernetes/cmd/$b" "$K8S_LDFLAGS" "$K8S_VERSION" "Kubernetes $K8S_VERSION\$"
done
