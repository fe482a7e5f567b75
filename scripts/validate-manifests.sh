#!/usr/bin/env bash
# Validates every manifest in deploy/kubernetes/*.yaml against the API
# schemas of each Kubernetes version in K8S_VERSIONS (default "1.29.0
# 1.33.0"), in strict mode: an unknown field is an error. Fails on any error,
# on a warning (such as a kind with no schema) and on a version whose
# schemas kubernetes-validate does not bundle.
#
# Needs kubernetes-validate (pip install kubernetes-validate); installs
# nothing itself.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

read -r -a VERSIONS <<<"${K8S_VERSIONS:-1.29.0 1.33.0}"

if ! command -v kubernetes-validate >/dev/null 2>&1; then
    echo "error: kubernetes-validate is missing; install it with: pip install kubernetes-validate" >&2
    exit 1
fi

shopt -s nullglob
MANIFESTS=(deploy/kubernetes/*.yaml)
if ((${#MANIFESTS[@]} == 0)); then
    echo "error: no manifests in deploy/kubernetes" >&2
    exit 1
fi

# The versions whose schemas the installed kubernetes-validate bundles, when
# this python3 can tell (kubernetes-validate may live in another one).
BUNDLED="$(python3 - 2>/dev/null <<'PY' || true
import os, kubernetes_validate
root = os.path.join(os.path.dirname(kubernetes_validate.__file__), "kubernetes-json-schema")
print(" ".join(sorted(d[1:-len("-local-strict")] for d in os.listdir(root) if d.endswith("-local-strict"))))
PY
)"

echo "kubernetes-validate $(kubernetes-validate --version 2>&1 | awk '{print $NF}'), versions: ${VERSIONS[*]}"
FAILED=0
for version in "${VERSIONS[@]}"; do
    if [[ -n "$BUNDLED" && " $BUNDLED " != *" $version "* ]]; then
        echo "FAIL $version: kubernetes-validate bundles no schemas for it (it has: $BUNDLED)" >&2
        FAILED=$((FAILED + 1))
        continue
    fi
    status=0
    output="$(kubernetes-validate --strict --kubernetes-version "$version" "${MANIFESTS[@]}" 2>&1)" || status=$?
    printf '%s\n' "$output"
    if ((status != 0)) || grep -q '^WARN' <<<"$output"; then
        echo "FAIL $version (exit code $status)" >&2
        FAILED=$((FAILED + 1))
    else
        echo "ok   $version: ${#MANIFESTS[@]} manifests"
    fi
done

if ((FAILED)); then
    echo "error: manifests failed validation for $FAILED of ${#VERSIONS[@]} Kubernetes versions" >&2
    exit 1
fi
echo "all manifests valid for Kubernetes ${VERSIONS[*]}"
