# Sourced by harness/build.sh with MOD_DIR set: Gatekeeper and its CRDs.
GK_VERSION="$(modver "$MOD_DIR" github.com/open-policy-agent/gatekeeper/v3)"
build gatekeeper github.com/open-policy-agent/gatekeeper/v3 \
  "-s -w -X github.com/open-policy-agent/gatekeeper/v3/pkg/version.Version=$GK_VERSION" "$GK_VERSION" ""

# Gatekeeper's CRDs, from the pinned module's own deploy manifest.
mkdir -p "$ROOT/.cache/gatekeeper"
GK_DIR="$(cd "$MOD_DIR" && go list -m -f '{{.Dir}}' github.com/open-policy-agent/gatekeeper/v3)"
MANIFEST="$GK_DIR/deploy/gatekeeper.yaml"
[[ -f "$MANIFEST" ]] || { echo "error: $MANIFEST not found (try: cd harness/go/gatekeeper && go mod download)" >&2; exit 1; }
CRDS="$ROOT/.cache/gatekeeper/crds.yaml"
awk '
  function flush() { if (doc ~ /(^|\n)kind: CustomResourceDefinition\n/) { printf "%s", (n++ ? "---\n" : "") doc } doc = "" }
  /^---[[:space:]]*$/ { flush(); next }
  { doc = doc $0 "\n" }
  END { flush() }
' "$MANIFEST" >"$CRDS.tmp"
mv -f "$CRDS.tmp" "$CRDS"
cp -f "$MANIFEST" "$ROOT/.cache/gatekeeper/gatekeeper.yaml" && chmod u+w "$ROOT/.cache/gatekeeper/gatekeeper.yaml"
echo "$GK_VERSION" >"$ROOT/.cache/gatekeeper/VERSION"
echo "ok: $(grep -c '^kind: CustomResourceDefinition' "$CRDS") Gatekeeper $GK_VERSION CRDs -> .cache/gatekeeper/crds.yaml"
