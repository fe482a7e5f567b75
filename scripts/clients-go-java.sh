#!/usr/bin/env bash
# Builds and tests the Go and Java client libraries (clients/go, clients/java)
# against a real errmap, and runs the README's Go and Java examples:
#
#   scripts/clients-go-java.sh target/release/errmap
#
# Go: the committed stubs (clients/go/errmapv1) must equal what
# clients/go/generate.sh makes now; gofmt, go vet, then go test with
# ERRMAP_BINARY (the tests start and stop errmap themselves). The build is
# offline, in GOPATH mode over Debian's Go packages in /usr/share/gocode.
# Java: clients/java/build.sh test (stubs generated, javac, the tests' main).
# README: the Go and Java blocks of "## Client libraries" are compiled and run
# against an errmap this script starts, with localhost:50051 replaced by its
# address; each one's output must equal the text block after it.
#
# Installs nothing: .ci/run installs the toolchains (go, protoc and its Go
# and Java plugins, OpenJDK, Debian's Go packages and jars).
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

GOCODE="${GOCODE:-/usr/share/gocode}"
for tool in go gofmt protoc protoc-gen-go protoc-gen-go-grpc javac java jar; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "error: $tool is missing" >&2
        exit 1
    fi
done
for pkg in google.golang.org/grpc google.golang.org/protobuf google.golang.org/genproto/googleapis/rpc/errdetails; do
    if [[ ! -d "$GOCODE/src/$pkg" ]]; then
        echo "error: $GOCODE/src/$pkg is missing (Debian's Go packages)" >&2
        exit 1
    fi
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/errmap-clients-gj.XXXXXX")"
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

header() {
    printf '\n==> %s\n' "$*"
}

PASSED=0
FAILED=0
part() {
    local name=$1
    shift
    header "$name"
    if "$@"; then
        PASSED=$((PASSED + 1))
    else
        FAILED=$((FAILED + 1))
        echo "--- $name FAILED" >&2
    fi
}

# A GOPATH where the Go client is at its import path, over Debian's packages.
MODULE_DIR="$WORK/gopath/src/github.com/errmap/errmap/clients/go"
mkdir -p "$(dirname "$MODULE_DIR")" "$WORK/gocache"
ln -s "$ROOT/clients/go" "$MODULE_DIR"
export GO111MODULE=off GOFLAGS="" GOPATH="$WORK/gopath:$GOCODE" GOCACHE="$WORK/gocache"

go_stubs_current() {
    sh clients/go/generate.sh "$WORK/gen" &&
        diff -r clients/go/errmapv1 "$WORK/gen/errmapv1" &&
        echo "clients/go/errmapv1 matches proto/"
}

go_checks() {
    local unformatted
    unformatted="$(gofmt -l clients/go)"
    if [[ -n "$unformatted" ]]; then
        echo "gofmt would change: $unformatted" >&2
        return 1
    fi
    (cd "$MODULE_DIR" && go vet ./...)
}

go_tests() {
    go version
    (cd "$MODULE_DIR" && ERRMAP_BINARY="$BINARY" go test -count=1 -v ./...)
}

java_tests() {
    java -version 2>&1 | head -1
    ERRMAP_BINARY="$BINARY" bash clients/java/build.sh test
}

# readme_block LANG LANG: the first fenced LANG block under "### Go" (go) or
# "### Java" (java) of README.md's "## Client libraries"; readme_block LANG
# text: the text block that follows it (the expected output).
readme_block() {
    awk -v lang="$1" -v want="$2" '
        /^## / { sec = ($0 == "## Client libraries"); sub_ok = 0 }
        sec && /^### / { sub_ok = (tolower(substr($0, 5)) == lang) }
        !(sec && sub_ok) { next }
        /^```/ {
            if (open) {
                open = 0
                if (kind == lang) { seen_code = 1 }
                if (kind == "text" && seen_code) { seen_text = 1 }
                next
            }
            open = 1
            kind = substr($0, 4)
            printing = (want == lang && kind == lang && !seen_code) ||
                (want == "text" && kind == "text" && seen_code && !seen_text)
            next
        }
        open && printing { print }
    ' README.md
}

start_errmap() {
    local port
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
        echo 50151)"
    API_ADDR="127.0.0.1:$port"
    "$BINARY" --listen "$API_ADDR" --admin-listen off --http-listen off >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 200); do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "error: errmap exited during start-up" >&2
            cat "$WORK/server.log" >&2
            return 1
        fi
        if grep -q "listening on $API_ADDR" "$WORK/server.log"; then
            return 0
        fi
        sleep 0.05
    done
    echo "error: errmap did not start listening on $API_ADDR" >&2
    return 1
}

# check_output NAME WANT_FILE GOT_FILE
check_output() {
    if [[ ! -s "$2" ]]; then
        echo "error: README has no expected output for the $1 example" >&2
        return 1
    fi
    if diff -u "$2" "$3"; then
        echo "the $1 example prints what README.md says"
    else
        echo "error: the $1 example's output differs from README.md (above)" >&2
        return 1
    fi
}

readme_go() {
    local dir="$WORK/gopath/src/errmap-readme-example"
    mkdir -p "$dir"
    readme_block go go | sed "s/localhost:50051/$API_ADDR/g" >"$dir/main.go"
    readme_block go text >"$WORK/go-want.txt"
    if [[ ! -s "$dir/main.go" ]]; then
        echo "error: README.md has no go block under ## Client libraries / ### Go" >&2
        return 1
    fi
    (cd "$dir" && go run .) >"$WORK/go-got.txt"
    cat "$WORK/go-got.txt"
    check_output Go "$WORK/go-want.txt" "$WORK/go-got.txt"
}

readme_java() {
    local dir="$WORK/java-example"
    mkdir -p "$dir"
    readme_block java java | sed "s/localhost:50051/$API_ADDR/g" >"$dir/Example.java"
    readme_block java text >"$WORK/java-want.txt"
    if [[ ! -s "$dir/Example.java" ]]; then
        echo "error: README.md has no java block under ## Client libraries / ### Java" >&2
        return 1
    fi
    java -cp "$(cat clients/java/build/classpath)" "$dir/Example.java" >"$WORK/java-got.txt"
    cat "$WORK/java-got.txt"
    check_output Java "$WORK/java-want.txt" "$WORK/java-got.txt"
}

part "go: stubs match proto/" go_stubs_current
part "go: gofmt, go vet" go_checks
part "go: go test" go_tests
part "java: build and test" java_tests
header "start $BINARY for the README examples"
start_errmap
echo "errmap at $API_ADDR"
part "README: Go example" readme_go
part "README: Java example" readme_java

echo
echo "clients-go-java: $PASSED passed, $FAILED failed"
((FAILED == 0))
