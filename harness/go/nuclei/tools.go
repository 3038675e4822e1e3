//go:build tools

// Package tools pins the real nuclei engine (github.com/projectdiscovery/nuclei/v3)
// that stack-scan's nuclei scan, its tests, bench and demo run. Built by
// harness/build.sh; never imported.
package tools

import (
	_ "github.com/projectdiscovery/nuclei/v3/cmd/nuclei"
)
