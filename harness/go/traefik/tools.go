//go:build tools

// Package tools pins Traefik v3.6.12 (github.com/traefik/traefik/v3/cmd/traefik), the ingress of
// the optional Knative on the real node (harness/knative/): its Knative provider
// (--experimental.knative --providers.knative) serves KIngress objects of class
// traefik.ingress.networking.knative.dev. Envoy-based ingresses (Kourier, Contour, Istio) cannot
// be built here. Built by harness/build.sh traefik; never imported.
package tools

import (
	_ "github.com/traefik/traefik/v3/cmd/traefik"
)
