#!/usr/bin/env sh
# Generates the Go stubs of errmap's API (errmapv1/) from ../../proto with
# protoc, protoc-gen-go and protoc-gen-go-grpc. Only errmap's own files are
# generated: the google/rpc types they import are the ones grpc-go itself
# uses (google.golang.org/genproto/googleapis/rpc/...), so no proto file is
# registered twice. OUT (default: this directory) receives errmapv1/.
set -eu
HERE="$(cd "$(dirname "$0")" && pwd)"
PROTO="$HERE/../../proto"
OUT="${1:-$HERE}"
MODULE=github.com/errmap/errmap/clients/go
PKG="$MODULE/errmapv1"
MAP="Merrmap/v1/catalog.proto=$PKG,Merrmap/v1/error_map_service.proto=$PKG"
mkdir -p "$OUT/errmapv1"
protoc -I "$PROTO" \
    --go_out="$OUT" --go_opt="module=$MODULE,$MAP" \
    --go-grpc_out="$OUT" --go-grpc_opt="module=$MODULE,$MAP" \
    errmap/v1/catalog.proto errmap/v1/error_map_service.proto
