//! Generates the gRPC service stubs from `proto/` without a system
//! `protoc`. The messages are errmap-core's (`extern_path`), but for the
//! few encoded by hand for speed (src/pb/wire.rs), so this crate holds no
//! second copy of any message type.

use std::error::Error;

const PROTOS: &[&str] = &["proto/errmap/v1/error_map_service.proto"];

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(PROTOS, ["proto"])?;
    tonic_prost_build::configure()
        .extern_path(".errmap.v1", "::errmap_core::pb::errmap::v1")
        .extern_path(".google.rpc", "::errmap_core::pb::google::rpc")
        // Encoded by hand, for speed; same wire format (src/pb/wire.rs).
        .extern_path(
            ".errmap.v1.ResolveGatewayErrorResponse",
            "crate::pb::wire::ResolveGatewayErrorResponse",
        )
        .extern_path(
            ".errmap.v1.ResolveGrpcStatusResponse",
            "crate::pb::wire::ResolveGrpcStatusResponse",
        )
        .extern_path(
            ".errmap.v1.BatchResolveRequest",
            "crate::pb::wire::BatchResolveRequest",
        )
        .extern_path(
            ".errmap.v1.BatchResolveResponse",
            "crate::pb::wire::BatchResolveResponse",
        )
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
