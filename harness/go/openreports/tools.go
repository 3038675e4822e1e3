//go:build tools

// Package tools pins github.com/openreports/reports-api, whose config/crd/*.yaml are the
// OpenReports CRDs (Report, ClusterReport) the test control plane and the demo install.
// Nothing is compiled from it: build.sh downloads the module and copies those files.
// Never imported.
package tools
