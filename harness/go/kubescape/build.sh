# Sourced by harness/build.sh with MOD_DIR set: the kubescape CLI.
# go.mod repeats upstream's three replace directives (stereoscope and
# go-containerregistry forks, docker/cli pin) and go.sum is upstream's own go.sum
# (+ kubescape's module hash): the forks are not in the checksum database, so a
# plain `go mod tidy` without these hashes fails with a sumdb 404.
# CGO_ENABLED=0: a static binary; about 9 min cold on 2 cores, ~170 MB.
KS_VERSION="$(modver "$MOD_DIR" github.com/kubescape/kubescape/v3)"
# The main module is ours, so Go's build info says "(devel)": set the version
# kubescape reports (`kubescape version`) explicitly.
build kubescape github.com/kubescape/kubescape/v3 \
  "-s -w -X github.com/kubescape/backend/pkg/versioncheck.BuildNumber=$KS_VERSION" "$KS_VERSION" "" CGO_ENABLED=0
