#!/usr/bin/env bash
# Runs the Python and Node.js clients (clients/) against a real errmap:
# installs their dependencies, starts the binary given as $1 on free loopback
# ports, runs clients/python/check.py and clients/node/check.js, then stops
# the server with SIGTERM and expects it to exit 0 within its grace period.
#
#   scripts/polyglot.sh target/release/errmap
#
# The Python packages go to a virtual environment, target/polyglot-venv
# unless POLYGLOT_VENV names another; the Node packages to
# clients/node/node_modules (npm ci). Needs python3 (with venv), node and npm.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if (($# != 1)); then
    echo "usage: $0 PATH/TO/errmap" >&2
    exit 64
fi
if [[ ! -x "$1" ]]; then
    echo "error: $1 is not an executable file" >&2
    exit 64
fi
BINARY="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
cd "$ROOT"

for tool in python3 node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "error: $tool is missing" >&2
        exit 1
    fi
done

GRACE_SECONDS=5
VENV="${POLYGLOT_VENV:-$ROOT/target/polyglot-venv}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/errmap-polyglot.XXXXXX")"
SERVER_LOG="$WORK/server.log"
SERVER_PID=""

cleanup() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

header() {
    printf '\n==> %s\n' "$*"
}

server_log() {
    echo "--- server log:" >&2
    cat "$SERVER_LOG" >&2 || true
}

# A TCP port free on 127.0.0.1 right now.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

header "python client dependencies ($VENV)"
if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r clients/python/requirements.txt
"$VENV/bin/python" -m pip list --disable-pip-version-check 2>/dev/null | grep -E '^(grpcio|protobuf|googleapis)' || true

header "node client dependencies (npm ci)"
(cd clients/node && npm ci --no-audit --no-fund --loglevel=error)
node --version

header "start $BINARY"
API_ADDR="127.0.0.1:$(free_port)"
ARGS=(--listen "$API_ADDR" --shutdown-grace "${GRACE_SECONDS}s")
HEALTH_ADDR="$API_ADDR"
# Builds with the admin and HTTP listeners get free ports for them too (and
# the health check goes to the admin listener, where probes go).
HELP="$("$BINARY" --help 2>&1 || true)"
if grep -q -- '--admin-listen' <<<"$HELP"; then
    HEALTH_ADDR="127.0.0.1:$(free_port)"
    ARGS+=(--admin-listen "$HEALTH_ADDR")
fi
if grep -q -- '--http-listen' <<<"$HELP"; then
    ARGS+=(--http-listen "127.0.0.1:$(free_port)")
fi
echo "errmap ${ARGS[*]}"
"$BINARY" "${ARGS[@]}" >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!

# Wait until the API port accepts connections (or the server dies).
for _ in $(seq 100); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "error: errmap exited during start-up" >&2
        server_log
        exit 1
    fi
    if python3 -c 'import socket, sys; h, p = sys.argv[1].rsplit(":", 1); socket.create_connection((h, int(p)), 0.2).close()' "$API_ADDR" 2>/dev/null; then
        break
    fi
    sleep 0.1
done

PASSED=0
FAILED=0
run_client() {
    local name=$1
    shift
    header "$name client"
    if "$@"; then
        PASSED=$((PASSED + 1))
    else
        FAILED=$((FAILED + 1))
        echo "--- $name client FAILED" >&2
    fi
}
run_client python "$VENV/bin/python" clients/python/check.py "$API_ADDR" "$HEALTH_ADDR"
run_client node node clients/node/check.js "$API_ADDR"

header "stop errmap (SIGTERM, grace ${GRACE_SECONDS}s)"
kill -TERM "$SERVER_PID"
deadline=$((SECONDS + GRACE_SECONDS + 5))
while kill -0 "$SERVER_PID" 2>/dev/null && ((SECONDS < deadline)); do
    sleep 0.1
done
if kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "error: errmap still runs $((GRACE_SECONDS + 5))s after SIGTERM" >&2
    server_log
    exit 1
fi
status=0
wait "$SERVER_PID" || status=$?
SERVER_PID=""
if ((status != 0)); then
    echo "error: errmap exited with code $status after SIGTERM, want 0" >&2
    server_log
    exit 1
fi
echo "errmap exited 0"

if ((FAILED)); then
    server_log
fi
echo
echo "polyglot: $PASSED passed, $FAILED failed"
((FAILED == 0))
