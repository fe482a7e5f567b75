#!/usr/bin/env bash
# Builds errmap's container image with podman from a static binary built on
# this machine (deploy/container/Containerfile.local), runs it with its ports
# published, checks that it answers (grpcurl: list, a ResolveGatewayError
# call, grpc.health.v1.Health/Check), stops it with SIGTERM, checks that it
# exits 0 within its grace period, and prints the image size.
#
#   scripts/container.sh
#
# Environment:
#   IMAGE          the tag to build (default localhost/errmap:dev); the image
#                  is kept, the container removed.
#   ERRMAP_BINARY  a static errmap binary to put in the image instead of
#                  building one with RUSTFLAGS="-C target-feature=+crt-static"
#                  cargo build --release --target x86_64-unknown-linux-gnu
#   MAX_IMAGE_MB   fail when the image is larger (default 15).
#
# Needs podman and runc (apt-get install -y podman buildah runc), grpcurl and
# python3; for the default build, glibc's static libraries (Debian: libc6-dev).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

IMAGE="${IMAGE:-localhost/errmap:dev}"
MAX_IMAGE_MB="${MAX_IMAGE_MB:-15}"
GRACE_SECONDS=10 # errmap's default --shutdown-grace
NAME="errmap-check-$$"
# The limits a container runs with here, as in a pod.
RUN_OPTS=(--runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)

for tool in podman grpcurl python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "error: $tool is missing" >&2
        exit 1
    fi
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/errmap-container.XXXXXX")"
cleanup() {
    podman rm --force --ignore "$NAME" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

header() {
    printf '\n==> %s\n' "$*"
}

fail() {
    echo "error: $*" >&2
    if podman container exists "$NAME" 2>/dev/null; then
        echo "--- container log:" >&2
        podman logs "$NAME" >&2 || true
    fi
    exit 1
}

# A TCP port free on 127.0.0.1 right now.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# json_get PATH: reads JSON on stdin and prints the value at PATH, such as
# resolution.httpStatus ("" when missing).
json_get() {
    python3 -c '
import json, sys
value = json.load(sys.stdin)
for key in sys.argv[1].split("."):
    value = value.get(key, "") if isinstance(value, dict) else ""
print(value)' "$1"
}

# expect WHAT GOT WANT
expect() {
    if [[ "$2" != "$3" ]]; then
        fail "$1: got '$2', want '$3'"
    fi
    echo "ok   $1 = $2"
}

if [[ -n "${ERRMAP_BINARY:-}" ]]; then
    BINARY="$ERRMAP_BINARY"
else
    header "cargo build --release (glibc, statically linked)"
    RUSTFLAGS="-C target-feature=+crt-static" \
        cargo build --release --locked --bin errmap --target x86_64-unknown-linux-gnu
    BINARY="${CARGO_TARGET_DIR:-target}/x86_64-unknown-linux-gnu/release/errmap"
fi
[[ -x "$BINARY" ]] || fail "$BINARY is not an executable file"
# A binary on an empty base must not need a dynamic loader.
if command -v readelf >/dev/null 2>&1 && [[ "$(readelf -l "$BINARY")" == *"program interpreter"* ]]; then
    fail "$BINARY is dynamically linked; build it with RUSTFLAGS=\"-C target-feature=+crt-static\""
fi

header "podman build $IMAGE (deploy/container/Containerfile.local)"
# The build context holds the binary alone.
cp "$BINARY" "$WORK/errmap"
podman build --quiet --file deploy/container/Containerfile.local --tag "$IMAGE" "$WORK"
expect "image user" "$(podman image inspect --format '{{.Config.User}}' "$IMAGE")" "65532:65532"
# The image's files: the binary alone (no shell, no package manager).
podman create --name "$NAME" "$IMAGE" >/dev/null
podman export "$NAME" | tar -t | { grep -v '/$' || true; } | sort >"$WORK/files"
podman rm "$NAME" >/dev/null
expect "files in the image" "$(paste -sd ' ' "$WORK/files")" "errmap"

# The admin listener (and so health on port 9090) comes with newer builds;
# without it, health is checked on the API port.
HAS_ADMIN=false
if [[ "$(podman run --rm "${RUN_OPTS[@]}" "$IMAGE" --help)" == *--admin-listen* ]]; then
    HAS_ADMIN=true
fi

header "podman run with the image's defaults: the API stays on 127.0.0.1"
API_PORT="$(free_port)"
podman run --detach --name "$NAME" "${RUN_OPTS[@]}" --publish "127.0.0.1:$API_PORT:50051" "$IMAGE" >/dev/null
listening=false
for _ in $(seq 100); do
    if [[ "$(podman logs "$NAME" 2>&1)" == *"127.0.0.1:50051"* ]]; then
        listening=true
        break
    fi
    [[ "$(podman inspect --format '{{.State.Running}}' "$NAME")" == true ]] ||
        fail "the container stopped during start-up"
    sleep 0.2
done
$listening || fail "errmap did not report listening on 127.0.0.1:50051"
if grpcurl -plaintext -max-time 2 "127.0.0.1:$API_PORT" list >/dev/null 2>&1; then
    fail "the API answers through a published port with the image's defaults"
fi
echo "ok   the API is not reachable from outside the container"
podman rm --force "$NAME" >/dev/null

header "podman run as in deploy/kubernetes: read-only, no capabilities, the example catalog"
# The catalog of deploy/kubernetes/configmap.yaml, mounted as a directory.
mkdir -m 0755 "$WORK/catalog"
awk '/^  catalog.textproto: [|]/ { on = 1; next } on && /^    / { print substr($0, 5); next } on && NF { exit } on { print "" }' \
    deploy/kubernetes/configmap.yaml >"$WORK/catalog/catalog.textproto"
chmod 0644 "$WORK/catalog/catalog.textproto"
API_PORT="$(free_port)"
ADMIN_PORT="$(free_port)"
# The image keeps the API on 127.0.0.1, as a sidecar wants; a published port
# reaches the container's own interface, so here the API listens on all.
podman run --detach --name "$NAME" "${RUN_OPTS[@]}" \
    --read-only --cap-drop ALL --security-opt no-new-privileges \
    --volume "$WORK/catalog:/etc/errmap:ro" \
    --env ERRMAP_CATALOG=/etc/errmap/catalog.textproto --env ERRMAP_LOG_FORMAT=json \
    --publish "127.0.0.1:$API_PORT:50051" --publish "127.0.0.1:$ADMIN_PORT:9090" \
    "$IMAGE" --listen 0.0.0.0:50051 >/dev/null
API="127.0.0.1:$API_PORT"
HEALTH="$API"
if $HAS_ADMIN; then
    HEALTH="127.0.0.1:$ADMIN_PORT"
fi

for _ in $(seq 100); do
    [[ "$(podman inspect --format '{{.State.Running}}' "$NAME")" == true ]] ||
        fail "the container stopped during start-up"
    if grpcurl -plaintext -max-time 1 "$API" list >"$WORK/list" 2>/dev/null; then
        break
    fi
    sleep 0.2
done
grep -qx 'errmap.v1.ErrorMapService' "$WORK/list" || fail "grpcurl list does not show errmap.v1.ErrorMapService: $(cat "$WORK/list")"
echo "ok   grpcurl list shows errmap.v1.ErrorMapService"

reply="$(grpcurl -plaintext -d '{"code": "APIGW_NONCE_CONFLICT"}' "$API" errmap.v1.ErrorMapService/ResolveGatewayError)" ||
    fail "ResolveGatewayError failed"
expect "ResolveGatewayError(APIGW_NONCE_CONFLICT) grpcCode" "$(json_get resolution.grpcCode <<<"$reply")" PERMISSION_DENIED
expect "ResolveGatewayError(APIGW_NONCE_CONFLICT) httpStatus" "$(json_get resolution.httpStatus <<<"$reply")" 403

# The admin listener has no reflection service: take the health service's
# descriptors from the API listener's.
grpcurl -plaintext -protoset-out "$WORK/health.protoset" "$API" describe grpc.health.v1.Health >/dev/null ||
    fail "cannot describe grpc.health.v1.Health"
reply="$(grpcurl -plaintext -d '{"code": "ORDER_LOCKED"}' "$API" errmap.v1.ErrorMapService/ResolveGatewayError)" ||
    fail "ResolveGatewayError(ORDER_LOCKED) failed: the example catalog was not loaded"
expect "ResolveGatewayError(ORDER_LOCKED) from the example catalog" \
    "$(json_get resolution.grpcCode <<<"$reply") $(json_get resolution.httpStatus <<<"$reply")" "ABORTED 409"
podman logs "$NAME" 2>&1 | python3 -c '
import json, sys
lines = [line for line in sys.stdin if line.strip()]
for line in lines:
    json.loads(line)
print(f"ok   {len(lines)} log lines, each a JSON object")' || fail "the logs are not JSON lines"
for service in "" errmap.v1.ErrorMapService; do
    reply="$(grpcurl -plaintext -protoset "$WORK/health.protoset" -d "{\"service\": \"$service\"}" "$HEALTH" grpc.health.v1.Health/Check)" ||
        fail "Health/Check at $HEALTH failed"
    expect "Health/Check(\"$service\") at $HEALTH" "$(json_get status <<<"$reply")" SERVING
done
if $HAS_ADMIN; then
    for path in /livez /readyz /metrics; do
        code="$(python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).status)' "http://$HEALTH$path" 2>/dev/null || echo failed)"
        expect "GET $path" "$code" 200
    done
fi

header "podman stop (SIGTERM; errmap's grace is ${GRACE_SECONDS}s)"
start=$(date +%s.%N)
podman stop --time $((GRACE_SECONDS + 5)) "$NAME" >/dev/null
elapsed="$(python3 -c 'import sys; print(f"{float(sys.argv[2]) - float(sys.argv[1]):.1f}")' "$start" "$(date +%s.%N)")"
expect "exit code after SIGTERM" "$(podman inspect --format '{{.State.ExitCode}}' "$NAME")" 0
python3 -c 'import sys; sys.exit(float(sys.argv[1]) > float(sys.argv[2]))' "$elapsed" "$GRACE_SECONDS" ||
    fail "the container took ${elapsed}s to stop, more than the ${GRACE_SECONDS}s grace"
echo "ok   stopped in ${elapsed}s"

header "image size"
bytes="$(podman image inspect --format '{{.Size}}' "$IMAGE")"
compressed="$(podman save --format oci-archive "$IMAGE" 2>/dev/null | gzip -9 | wc -c)"
python3 - "$bytes" "$compressed" "$MAX_IMAGE_MB" "$IMAGE" <<'PY'
import sys
size, compressed, limit, image = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
mb = lambda n: n / 1_000_000
print(f"{image}: {mb(size):.1f} MB ({size} bytes), {mb(compressed):.1f} MB gzipped")
if mb(size) > limit:
    sys.exit(f"error: the image is larger than {limit:g} MB")
PY
echo "container: all checks passed"
