//go:build tools

// Package tools pins knative.dev/serving v0.50.0 (controller, activator, autoscaler, webhook,
// queue) for the optional Knative on the real node (harness/knative/). Its YAML comes from the
// same module zip (config/core/**) plus knative.dev/networking and knative.dev/caching at the
// versions serving pins. Built by harness/build.sh knative-serving; never imported.
package tools

import (
	_ "knative.dev/serving/cmd/activator"
	_ "knative.dev/serving/cmd/autoscaler"
	_ "knative.dev/serving/cmd/controller"
	_ "knative.dev/serving/cmd/queue"
	_ "knative.dev/serving/cmd/webhook"
)
