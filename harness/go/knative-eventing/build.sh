# Sourced by harness/build.sh with MOD_DIR set: Knative Eventing v0.50.0 into .cache/bin/knative/:
# controller, webhook, mtping (PingSource), the MT channel-based Broker (broker ingress, broker
# filter, mtchannel_broker) and the InMemoryChannel (controller, dispatcher), for the optional
# Knative on the real node (harness/knative/). Pure Go (CGO_ENABLED=0), no replace directive.
# Optional: built by default only with STACKSCAN_KNATIVE=1, or by name.
KEVENTING_VERSION="$(modver "$MOD_DIR" knative.dev/eventing)"
mkdir -p "$BIN/knative"
for c in controller webhook mtping broker/ingress broker/filter mtchannel_broker in_memory/channel_controller in_memory/channel_dispatcher; do
  n="${c//\//-}"; n="${n//_/-}"
  build "knative/eventing-$n" "knative.dev/eventing/cmd/$c" "-s -w" "$KEVENTING_VERSION" "" CGO_ENABLED=0
done
