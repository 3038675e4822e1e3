# Sourced by harness/build.sh with MOD_DIR set: the OpenReports CRDs (Report, ClusterReport,
# openreports.io/v1alpha1) from the pinned module github.com/openreports/reports-api
# (its config/crd/*.yaml), installed by harness/cluster/openreports.ts into the test
# control plane and the demo. Nothing to compile: the module is downloaded and its CRD
# files are copied to .cache/openreports/, stamped with the go.mod + go.sum they came from.
OR_VERSION="$(modver "$MOD_DIR" github.com/openreports/reports-api)"
OR_OUT="$ROOT/.cache/openreports"
OR_STAMP="$( { cat "$MOD_DIR/go.mod" "$MOD_DIR/go.sum"; } | sha)"
if [[ $FORCE == 0 && -f "$OR_OUT/crds.stamp" && "$(cat "$OR_OUT/crds.stamp")" == "$OR_STAMP" ]] && ls "$OR_OUT"/openreports.io_*.yaml >/dev/null 2>&1; then
  echo "ok: OpenReports $OR_VERSION CRDs are up to date (.cache/openreports)"
else
  (cd "$MOD_DIR" && go mod download github.com/openreports/reports-api)
  OR_DIR="$(cd "$MOD_DIR" && go list -m -f '{{.Dir}}' github.com/openreports/reports-api)"
  [[ -d "$OR_DIR/config/crd" ]] || { echo "error: $OR_DIR/config/crd not found in the downloaded module" >&2; exit 1; }
  mkdir -p "$OR_OUT"
  rm -f "$OR_OUT"/openreports.io_*.yaml "$OR_OUT/crds.stamp"
  for f in "$OR_DIR"/config/crd/*.yaml; do cp -f "$f" "$OR_OUT/" && chmod u+w "$OR_OUT/$(basename "$f")"; done
  echo "$OR_VERSION" >"$OR_OUT/VERSION"
  echo "$OR_STAMP" >"$OR_OUT/crds.stamp"
  echo "ok: $(ls "$OR_OUT"/openreports.io_*.yaml | wc -l) OpenReports $OR_VERSION CRDs -> .cache/openreports/"
fi
