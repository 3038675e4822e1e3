//go:build tools

// Package tools pins the real kubescape CLI (v3.0.48) that stack-scan's
// kubescape scan, tests and demo run. Upstream's go.mod has three replace
// directives (forks of stereoscope, go-containerregistry and a docker/cli pin);
// a replace only applies in the main module, so they are repeated in go.mod
// here, and go.sum carries upstream's own hashes (the forks are not in the
// checksum database). Never imported.
package tools

import _ "github.com/kubescape/kubescape/v3"
