//! Code generated from `proto/` by `build.rs`.

/// The `errmap.v1` API and catalog schema.
pub mod errmap {
    pub mod v1 {
        // Generated oneofs hold messages inline; boxing them would make every
        // client write Box::new for little gain.
        #![allow(clippy::large_enum_variant)]
        tonic::include_proto!("errmap.v1");
    }
}

/// The `google.rpc` types errmap speaks: codes, statuses and error details.
pub mod google {
    pub mod rpc {
        tonic::include_proto!("google.rpc");
    }
}

/// The encoded descriptors of every file above and of the well-known types
/// they import, for the reflection service and for parsing the catalog.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/errmap_descriptor.bin"));
