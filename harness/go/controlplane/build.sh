# Sourced by harness/build.sh with MOD_DIR set: kube-apiserver and etcd.
K8S_VERSION="$(modver "$MOD_DIR" k8s.io/kubernetes)"
ETCD_VERSION="$(modver "$MOD_DIR" go.etcd.io/etcd/server/v3)"
# The version the binaries report (the same for every binary of this pin).
K8S_LDFLAGS="$(k8s_ldflags "$K8S_VERSION")"
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$K8S_LDFLAGS" "$K8S_VERSION" "Kubernetes $K8S_VERSION\$"
build etcd go.etcd.io/etcd/server/v3 "-s -w" "$ETCD_VERSION" "etcd Version: ${ETCD_VERSION#v}\$"
