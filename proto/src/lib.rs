//! The Apprentice contract, generated from `proto/apprentice/v1/*.proto`.
//!
//! Messages are prost types with the proto3 canonical JSON mapping (pbjson),
//! so `serde_json` reads and writes them exactly as other protobuf runtimes do.

pub mod v1 {
    #![allow(clippy::all, clippy::pedantic)]
    include!(concat!(env!("OUT_DIR"), "/apprentice.v1.rs"));
    include!(concat!(env!("OUT_DIR"), "/apprentice.v1.serde.rs"));
}

/// Encoded `FileDescriptorSet` of the contract, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/apprentice_descriptor.bin"));
