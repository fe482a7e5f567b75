//! Code generated from `proto/` by `build.rs`: plain prost messages.

/// The `errmap.v1` API and catalog schema.
pub mod errmap {
    /// Version 1.
    pub mod v1 {
        // Generated oneofs hold messages inline; boxing them would make every
        // client write Box::new for little gain.
        #![allow(clippy::large_enum_variant)]
        include!(concat!(env!("OUT_DIR"), "/errmap.v1.rs"));
    }
}

/// The `google.rpc` types errmap speaks: codes, statuses and error details.
pub mod google {
    /// `google.rpc`.
    pub mod rpc {
        include!(concat!(env!("OUT_DIR"), "/google.rpc.rs"));
    }
}

/// The encoded descriptors of every file above and of the well-known types
/// they import, for the reflection service and for parsing the catalog.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/errmap_descriptor.bin"));

/// The descriptors above, decoded once: for the catalog's text format and
/// for proto3 JSON. `None` only if the build produced a broken set.
pub fn descriptor_pool() -> Option<&'static prost_reflect::DescriptorPool> {
    static POOL: std::sync::OnceLock<Option<prost_reflect::DescriptorPool>> =
        std::sync::OnceLock::new();
    POOL.get_or_init(|| prost_reflect::DescriptorPool::decode(FILE_DESCRIPTOR_SET).ok())
        .as_ref()
}
