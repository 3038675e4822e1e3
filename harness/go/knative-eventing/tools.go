//go:build tools

// Package tools pins knative.dev/eventing v0.50.0 for the optional Knative Eventing on the real
// node (harness/knative/): controller, webhook, mtping (PingSource), the MT channel-based Broker
// (ingress, filter, mtchannel_broker) and the InMemoryChannel (controller, dispatcher). Its YAML
// comes from the same module zip (config/core, config/brokers/mt-channel-broker,
// config/channels/in-memory-channel). Built by harness/build.sh knative-eventing; never imported.
package tools

import (
	_ "knative.dev/eventing/cmd/broker/filter"
	_ "knative.dev/eventing/cmd/broker/ingress"
	_ "knative.dev/eventing/cmd/controller"
	_ "knative.dev/eventing/cmd/in_memory/channel_controller"
	_ "knative.dev/eventing/cmd/in_memory/channel_dispatcher"
	_ "knative.dev/eventing/cmd/mtchannel_broker"
	_ "knative.dev/eventing/cmd/mtping"
	_ "knative.dev/eventing/cmd/webhook"
)
