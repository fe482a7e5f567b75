#!/usr/bin/env bash
# Soak test: millions of ResolveGatewayError calls over loopback with h2load,
# then checks that every call answered OK (the server's own call counters)
# and reports memory over the run.
#
#   scripts/soak.sh [BINARY] [CALLS] [CONNECTIONS] [STREAMS_PER_CONNECTION]
#
# Defaults: target/release/errmap, 2000000 calls, 8 connections, 32 streams.
# Needs h2load (Debian: apt-get install nghttp2-client) and python3.
set -euo pipefail

BINARY=${1:-target/release/errmap}
CALLS=${2:-2000000}
CONNECTIONS=${3:-8}
STREAMS=${4:-32}

command -v h2load >/dev/null || { echo "h2load is missing (apt-get install nghttp2-client)" >&2; exit 1; }
[[ -x $BINARY ]] || { echo "no binary at $BINARY (cargo build --release)" >&2; exit 1; }

work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
grpc_port=$(free_port)
admin_port=$(free_port)

# A gRPC message: flag byte 0, 4-byte big-endian length, then the protobuf
# ResolveGatewayErrorRequest{code: "APIGW_NONCE_CONFLICT", http_status: 403}.
python3 - "$work/request.bin" <<'PY'
import struct, sys
code = b"APIGW_NONCE_CONFLICT"
message = b"\x0a" + bytes([len(code)]) + code + b"\x10\x93\x03"
open(sys.argv[1], "wb").write(b"\x00" + struct.pack(">I", len(message)) + message)
PY

"$BINARY" --listen "127.0.0.1:$grpc_port" --admin-listen "127.0.0.1:$admin_port" \
    --http-listen off --log warn &
pid=$!
get() { python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1"; }
for _ in $(seq 100); do
    get "http://127.0.0.1:$admin_port/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done

rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
echo "rss before: $(rss) KiB"
( while kill -0 "$pid" 2>/dev/null; do rss; sleep 1; done ) > "$work/rss.txt" &
sampler=$!

h2load -n "$CALLS" -c "$CONNECTIONS" -m "$STREAMS" --data="$work/request.bin" \
    -H 'content-type: application/grpc' -H 'te: trailers' \
    "http://127.0.0.1:$grpc_port/errmap.v1.ErrorMapService/ResolveGatewayError" | tee "$work/h2load.txt"

kill "$sampler" 2>/dev/null || true
metrics=$(get "http://127.0.0.1:$admin_port/metrics")
calls='^errmap_calls_total\{.*method="ResolveGatewayError"'
ok=$(awk -v re="$calls" '$0 ~ re && /code="OK"/ {s+=$2} END {print s+0}' <<<"$metrics")
not_ok=$(awk -v re="$calls" '$0 ~ re && !/code="OK"/ {s+=$2} END {print s+0}' <<<"$metrics")
echo "rss after: $(rss) KiB"
python3 - "$work/rss.txt" <<'PY'
import sys
samples = [int(l) for l in open(sys.argv[1]) if l.strip().isdigit()]
if samples:
    half = samples[len(samples) // 2:]
    print(f"rss samples: {len(samples)}; min {min(samples)} KiB, max {max(samples)} KiB, "
          f"second half {min(half)}-{max(half)} KiB")
PY
echo "server-side ResolveGatewayError calls: OK ${ok:-0}, other ${not_ok}"

kill -TERM "$pid"
status=0
wait "$pid" || status=$?
echo "exit status after SIGTERM: $status"

succeeded=$(awk '/^requests:/ {print $8}' "$work/h2load.txt")
[[ "${ok:-0}" == "$CALLS" && "$not_ok" == 0 && "$succeeded" == "$CALLS" && $status == 0 ]] || {
    echo "FAIL: expected $CALLS OK calls" >&2
    exit 1
}
echo "PASS: $CALLS calls, all OK"
