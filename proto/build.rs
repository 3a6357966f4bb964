//! Compiles `apprentice/v1/*.proto` in pure Rust (no `protoc`): protox parses,
//! tonic-prost-build generates messages and the service, pbjson-build generates
//! the proto3 JSON mapping.
use std::{env, fs, path::PathBuf};

use prost::Message;

const PROTOS: &[&str] =
    &["apprentice/v1/ops.proto", "apprentice/v1/history.proto", "apprentice/v1/service.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for p in PROTOS {
        println!("cargo:rerun-if-changed={p}");
    }
    let out = PathBuf::from(env::var("OUT_DIR")?);
    let fds = protox::compile(PROTOS, ["."])?;
    let descriptor_bytes = fds.encode_to_vec();
    // Kept for gRPC server reflection.
    fs::write(out.join("apprentice_descriptor.bin"), &descriptor_bytes)?;

    tonic_prost_build::configure().build_server(true).build_client(true).compile_fds(fds)?;

    pbjson_build::Builder::new().register_descriptors(&descriptor_bytes)?.build(&[".apprentice.v1"])?;
    Ok(())
}
