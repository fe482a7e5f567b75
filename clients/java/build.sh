#!/usr/bin/env bash
# Builds the Java client with protoc, the grpc-java protoc plugin and javac
# against Debian's jars (no Maven repository is needed), and runs its tests.
#
#   clients/java/build.sh            # stubs, classes, build/errmap-client.jar
#   clients/java/build.sh test       # the same, then the tests (see below)
#
# The stubs of errmap's API are generated from ../../proto into build/gen on
# every build and never committed. The google.rpc.Status and Code classes
# errmap's protos use come from proto-google-common-protos, the ones
# grpc-protobuf's StatusProto works with. That jar (1.16 in Debian 12) has no
# ErrorInfo, so google/rpc/error_details.proto is generated too, into the
# package io.errmap.client.rpc so that it cannot shadow the jar's classes;
# its messages keep their proto names (google.rpc.ErrorInfo...), so packed
# details read the same either way.
#
# The tests start ERRMAP_BINARY on a free loopback port (or use ERRMAP_ADDR);
# with CI=true a missing binary fails them.
#
# Needs: protoc, grpc_java_plugin (Debian protobuf-compiler-grpc-java-plugin),
# javac/java 17, and in JAVA_LIB (default /usr/share/java) the jars of
# libgrpc-java, libprotobuf-java, libgoogle-common-protos-java, libguava-java,
# libnetty-java, libperfmark-java and libgoogle-gson-java (and to compile,
# libgeronimo-annotation-1.3-spec-java).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROTO="$HERE/../../proto"
BUILD="$HERE/build"
JAVA_LIB="${JAVA_LIB:-/usr/share/java}"
PLUGIN="${GRPC_JAVA_PLUGIN:-$(command -v grpc_java_plugin || command -v protoc-gen-grpc-java || true)}"

# What the library needs at compile and run time.
LIB_JARS=(grpc-api grpc-core grpc-stub grpc-protobuf grpc-protobuf-lite grpc-context grpc-netty
    protobuf protobuf-util proto-google-common-protos guava jsr305
    error_prone_annotations perfmark-api gson opencensus-api
    netty-buffer netty-codec netty-codec-http netty-codec-http2 netty-common netty-handler
    netty-handler-proxy netty-codec-socks netty-resolver netty-transport)

# Only to compile the generated stub, which is annotated @javax.annotation.Generated
# (source retention, so not needed at run time).
COMPILE_JARS=(geronimo-annotation-1.3-spec)

# classpath JAR...: the jars' paths in JAVA_LIB, joined with ':'.
classpath() {
    local cp="" jar path
    for jar; do
        path="$JAVA_LIB/$jar.jar"
        if [[ ! -f "$path" ]]; then
            echo "error: $path is missing" >&2
            return 1
        fi
        cp="$cp${cp:+:}$path"
    done
    printf '%s' "$cp"
}

for tool in protoc javac java jar; do
    command -v "$tool" >/dev/null || { echo "error: $tool is missing" >&2; exit 1; }
done
if [[ -z "$PLUGIN" ]]; then
    echo "error: grpc_java_plugin is missing (Debian: protobuf-compiler-grpc-java-plugin)" >&2
    exit 1
fi
CP="$(classpath "${LIB_JARS[@]}")"
COMPILE_CP="$CP:$(classpath "${COMPILE_JARS[@]}")"

rm -rf "$BUILD"
mkdir -p "$BUILD/gen" "$BUILD/classes" "$BUILD/test-classes"
# error_details.proto with its Java package moved (see above).
mkdir -p "$BUILD/proto/google/rpc"
sed 's/^option java_package = "com.google.rpc";/option java_package = "io.errmap.client.rpc";/' \
    "$PROTO/google/rpc/error_details.proto" >"$BUILD/proto/google/rpc/error_details.proto"
grep -q 'io.errmap.client.rpc' "$BUILD/proto/google/rpc/error_details.proto" || {
    echo "error: could not move error_details.proto's java_package" >&2
    exit 1
}
protoc -I "$BUILD/proto" --java_out="$BUILD/gen" google/rpc/error_details.proto
protoc -I "$PROTO" \
    --java_out="$BUILD/gen" \
    --plugin=protoc-gen-grpc-java="$PLUGIN" --grpc-java_out="$BUILD/gen" \
    errmap/v1/catalog.proto errmap/v1/error_map_service.proto
# The generated code first (its warnings are protoc's), then the library
# with every lint as an error.
find "$BUILD/gen" -name '*.java' >"$BUILD/gen-sources"
javac --release 17 -nowarn -encoding UTF-8 -d "$BUILD/classes" -cp "$COMPILE_CP" @"$BUILD/gen-sources"
find "$HERE/src/main/java" -name '*.java' >"$BUILD/main-sources"
javac --release 17 -Xlint:all -Werror -encoding UTF-8 -d "$BUILD/classes" \
    -cp "$BUILD/classes:$CP" @"$BUILD/main-sources"
jar --create --file "$BUILD/errmap-client.jar" -C "$BUILD/classes" .
echo "built $BUILD/errmap-client.jar"
printf '%s\n' "$BUILD/errmap-client.jar:$CP" >"$BUILD/classpath"

if [[ "${1:-}" == test ]]; then
    find "$HERE/src/test/java" -name '*.java' >"$BUILD/test-sources"
    javac --release 17 -Xlint:all -Werror -encoding UTF-8 -d "$BUILD/test-classes" \
        -cp "$BUILD/errmap-client.jar:$CP" @"$BUILD/test-sources"
    java -cp "$BUILD/test-classes:$BUILD/errmap-client.jar:$CP" io.errmap.client.ClientTest
fi
