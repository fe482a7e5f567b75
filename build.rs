//! Generates the gRPC service stubs from `proto/` without a system
//! `protoc`. The messages are errmap-core's (`extern_path`), but for the
//! few encoded by hand for speed (src/pb/wire.rs), so this crate holds no
//! second copy of any message type.

use std::error::Error;

const PROTOS: &[&str] = &["proto/errmap/v1/error_map_service.proto"];

/// What reflection tells of the ext_proc listener: the part of Envoy's API
/// it reads and writes (src/server/ext_proc/proto/README.md).
const EXT_PROC_ROOT: &str = "src/server/ext_proc/proto";
const EXT_PROC_PROTOS: &[&str] = &["envoy/service/ext_proc/v3/external_processor.proto"];

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo:rerun-if-changed=proto");
    if std::env::var_os("CARGO_FEATURE_EXT_PROC").is_some() {
        println!("cargo:rerun-if-changed={EXT_PROC_ROOT}");
        let fds = protox::compile(EXT_PROC_PROTOS, [EXT_PROC_ROOT])?;
        let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
        std::fs::write(
            out.join("ext_proc_descriptor.bin"),
            prost::Message::encode_to_vec(&fds),
        )?;
    }
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
