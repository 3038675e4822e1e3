# Sourced by harness/build.sh with MOD_DIR set: the nuclei engine (projectdiscovery/nuclei/v3).
# Pure Go (CGO_ENABLED=0), no replace directives; about 6 min cold on 2 cores, ~136 MB.
NUCLEI_VERSION="$(modver "$MOD_DIR" github.com/projectdiscovery/nuclei/v3)"
build nuclei github.com/projectdiscovery/nuclei/v3/cmd/nuclei "-s -w" "$NUCLEI_VERSION" "" CGO_ENABLED=0
