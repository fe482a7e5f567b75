//! Compiles `proto/` without a system `protoc`: protox parses the files,
//! prost generates the messages (no service code: servers generate their
//! own stubs and point them at these types), and the same descriptor set is
//! kept for parsing the catalog's text format and for reflection
//! (`OUT_DIR/errmap_descriptor.bin`).

use prost::Message;
use std::{env, fs, path::PathBuf};

const PROTOS: &[&str] = &[
    "errmap/v1/catalog.proto",
    "errmap/v1/error_map_service.proto",
    "google/rpc/code.proto",
    "google/rpc/status.proto",
    "google/rpc/error_details.proto",
];

/// The API's files live at the workspace root, shared with every client.
const PROTO_ROOT: &str = "../proto";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed={PROTO_ROOT}");
    let fds = protox::compile(PROTOS, [PROTO_ROOT])?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(out.join("errmap_descriptor.bin"), fds.encode_to_vec())?;
    prost_build::Config::new()
        // Sorted metadata encodes the same bytes every time, so a status's
        // grpc-status-details-bin is stable for equal answers.
        .btree_map([".google.rpc.ErrorInfo.metadata"])
        .compile_fds(fds)?;
    Ok(())
}
