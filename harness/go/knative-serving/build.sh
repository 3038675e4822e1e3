# Sourced by harness/build.sh with MOD_DIR set: Knative Serving v0.50.0 (controller, activator,
# autoscaler, webhook, queue-proxy) into .cache/bin/knative/, for the optional Knative on the
# real node (harness/knative/). Pure Go (CGO_ENABLED=0), no replace directive (v0.51.0 would need
# three: some of its pinned zips are refused by the module proxy). Optional: built by default
# only with STACKSCAN_KNATIVE=1 (harness/build.sh), or by name: harness/build.sh knative-serving.
KSERVING_VERSION="$(modver "$MOD_DIR" knative.dev/serving)"
mkdir -p "$BIN/knative"
for c in controller activator autoscaler webhook queue; do
  build "knative/serving-$c" "knative.dev/serving/cmd/$c" "-s -w" "$KSERVING_VERSION" "" CGO_ENABLED=0
done
