#!/usr/bin/env bash
# Checks `errmap inject` against Kubernetes' own API schemas, and the shipped
# sidecar manifests against `errmap inject`:
#
#   1. Injects the sample manifests of tests/fixtures/inject and
#      deploy/kubernetes/base (natively, plainly, and with the catalog
#      ConfigMap), and validates every input and every output with
#      `kubernetes-validate --strict` for each Kubernetes version in
#      K8S_VERSIONS (default "1.29.0 1.33.0"). The items of a List are
#      validated one by one (kubernetes-validate has no schema for List).
#      Injecting an output again must change nothing, and --uninject must
#      give the input's objects back.
#   2. Checks that deploy/kubernetes/native-sidecar.yaml and
#      plain-sidecar.yaml are, below their leading comment block, exactly
#      the output of `errmap inject` on deploy/kubernetes/base/example-app.yaml.
#      With --update, rewrites them so (keeping their comments).
#
# Usage: scripts/inject-check.sh BINARY [--update]
# Needs kubernetes-validate and python3 with PyYAML (a dependency of
# kubernetes-validate); installs nothing itself.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if (($# < 1)) || [[ ! -x "$1" ]]; then
    echo "usage: $0 BINARY [--update]  (BINARY: the errmap binary)" >&2
    exit 2
fi
BIN="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
UPDATE=false
[[ "${2:-}" == "--update" ]] && UPDATE=true

read -r -a VERSIONS <<<"${K8S_VERSIONS:-1.29.0 1.33.0}"
if ! command -v kubernetes-validate >/dev/null 2>&1; then
    echo "error: kubernetes-validate is missing; install it with: pip install kubernetes-validate" >&2
    exit 1
fi

if ! python3 -c 'import yaml' 2>/dev/null; then
    echo "error: python3 cannot import yaml (PyYAML, which kubernetes-validate installs); install it with: pip install pyyaml" >&2
    exit 1
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
FAILED=0
fail() {
    echo "FAIL $*" >&2
    FAILED=$((FAILED + 1))
}

# The lines from the first one that is not a comment on.
body() {
    awk 'seen || !/^#/ { seen = 1; print }' "$1"
}

# --- 1. Sample manifests, injected, against the API schemas -------------------

INPUTS=(tests/fixtures/inject/*.yaml deploy/kubernetes/base/*.yaml)
declare -A MODES=(
    [native]=""
    [plain]="--plain"
    [catalog]="--catalog-configmap errmap-catalog --set SHUTDOWN_GRACE=15s"
)
mkdir -p "$WORK/input" "$WORK/out"
for input in "${INPUTS[@]}"; do
    name="$(basename "$input" .yaml)"
    cp "$input" "$WORK/input/$name.yaml"
    for mode in "${!MODES[@]}"; do
        out="$WORK/out/$name.$mode.yaml"
        # shellcheck disable=SC2086 # the flags are words
        if ! "$BIN" inject --quiet ${MODES[$mode]} "$input" >"$out"; then
            fail "errmap inject ${MODES[$mode]} $input"
            continue
        fi
        # shellcheck disable=SC2086
        if ! "$BIN" inject --quiet ${MODES[$mode]} "$out" | cmp -s - "$out"; then
            fail "$input ($mode): injecting the output again changed it"
        fi
        if ! "$BIN" inject --quiet --uninject "$out" >"$WORK/un.yaml"; then
            fail "errmap inject --uninject on $input ($mode)"
        elif ! python3 - "$input" "$WORK/un.yaml" <<'PY'; then
import sys, yaml
def load(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]
sys.exit(0 if load(sys.argv[1]) == load(sys.argv[2]) else 1)
PY
            fail "$input ($mode): --uninject did not give the input back"
        fi
    done
done

# kubernetes-validate knows no List: write each item as a document of its own.
expand_lists() {
    python3 - "$@" <<'PY'
import sys, yaml
for path in sys.argv[1:]:
    with open(path) as f:
        documents = [d for d in yaml.safe_load_all(f) if d is not None]
    objects = []
    for d in documents:
        if isinstance(d, dict) and str(d.get("kind", "")).endswith("List") and "items" in d:
            objects.extend(d["items"])
        else:
            objects.append(d)
    with open(path, "w") as f:
        yaml.safe_dump_all(objects, f, sort_keys=False)
PY
}
expand_lists "$WORK"/input/*.yaml "$WORK"/out/*.yaml

FILES=("$WORK"/input/*.yaml "$WORK"/out/*.yaml)
echo "kubernetes-validate $(kubernetes-validate --version 2>&1 | awk '{print $NF}'): ${#FILES[@]} files (${#INPUTS[@]} inputs, each injected ${#MODES[@]} ways), versions ${VERSIONS[*]}"
for version in "${VERSIONS[@]}"; do
    status=0
    output="$(kubernetes-validate --strict --quiet --kubernetes-version "$version" "${FILES[@]}" 2>&1)" || status=$?
    if ((status != 0)) || [[ -n "$output" ]]; then
        printf '%s\n' "$output" | sed "s|$WORK/||g" >&2
        fail "kubernetes-validate $version (exit code $status)"
    else
        echo "ok   $version: every input and output valid (strict)"
    fi
done

# --- 2. The shipped manifests are errmap inject's output --------------------

BASE=deploy/kubernetes/base/example-app.yaml
for pair in "native-sidecar.yaml:" "plain-sidecar.yaml:--plain"; do
    shipped="deploy/kubernetes/${pair%%:*}"
    flags="${pair#*:}"
    # shellcheck disable=SC2086
    "$BIN" inject --quiet --catalog-configmap errmap-catalog $flags "$BASE" >"$WORK/made.yaml"
    body "$WORK/made.yaml" >"$WORK/made.body"
    if $UPDATE; then
        { awk '!/^#/ { exit } { print }' "$shipped"; cat "$WORK/made.body"; } >"$WORK/new.yaml"
        mv "$WORK/new.yaml" "$shipped"
        echo "updated $shipped"
    elif diff -u <(body "$shipped") "$WORK/made.body" >"$WORK/diff"; then
        echo "ok   $shipped = errmap inject --catalog-configmap errmap-catalog${flags:+ $flags} $BASE"
    else
        cat "$WORK/diff" >&2
        fail "$shipped is not the output of: errmap inject --catalog-configmap errmap-catalog${flags:+ $flags} $BASE (regenerate: $0 BINARY --update)"
    fi
done

if ((FAILED)); then
    echo "error: $FAILED check(s) failed" >&2
    exit 1
fi
echo "errmap inject: all checks passed"
