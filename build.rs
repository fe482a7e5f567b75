//! Compiles `proto/` without a system `protoc`: protox parses the files, and
//! the same descriptor set feeds both code generation and the reflection
//! service (written to `OUT_DIR/errmap_descriptor.bin`).

use prost::Message;
use std::{env, fs, path::PathBuf};

const PROTOS: &[&str] = &[
    "proto/errmap/v1/catalog.proto",
    "proto/errmap/v1/error_map_service.proto",
    "proto/google/rpc/code.proto",
    "proto/google/rpc/status.proto",
    "proto/google/rpc/error_details.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(PROTOS, ["proto"])?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(out.join("errmap_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        // Sorted metadata encodes the same bytes every time, so a status's
        // grpc-status-details-bin is stable for equal answers.
        .btree_map(".google.rpc.ErrorInfo.metadata")
        // Encoded by hand, for speed; same wire format (src/wire.rs).
        .extern_path(
            ".errmap.v1.ResolveGatewayErrorResponse",
            "crate::wire::ResolveGatewayErrorResponse",
        )
        .extern_path(
            ".errmap.v1.ResolveGrpcStatusResponse",
            "crate::wire::ResolveGrpcStatusResponse",
        )
        .extern_path(
            ".errmap.v1.BatchResolveRequest",
            "crate::wire::BatchResolveRequest",
        )
        .extern_path(
            ".errmap.v1.BatchResolveResponse",
            "crate::wire::BatchResolveResponse",
        )
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
