# Sourced by harness/build.sh with MOD_DIR set: kustomize (sigs.k8s.io/kustomize/kustomize/v5),
# which renders knative/ (base + overlays) in the deploy tests, as `kubectl apply -k` does.
# Pure Go (CGO_ENABLED=0); about 1 min cold on 2 cores.
KUSTOMIZE_VERSION="$(modver "$MOD_DIR" sigs.k8s.io/kustomize/kustomize/v5)"
build kustomize sigs.k8s.io/kustomize/kustomize/v5 "-s -w -X sigs.k8s.io/kustomize/api/provenance.version=$KUSTOMIZE_VERSION" "$KUSTOMIZE_VERSION" "" CGO_ENABLED=0
