//! Compiles `proto/` with protox (a pure-Rust protobuf compiler), so a build needs no system
//! `protoc`, and writes a file descriptor set for gRPC server reflection.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = [
        "proto/rotaledger/v1/types.proto",
        "proto/rotaledger/v1/ledger.proto",
        "proto/rotaledger/v1/audit.proto",
    ];
    for p in protos {
        println!("cargo:rerun-if-changed={p}");
    }
    let fds = protox::compile(protos, ["proto"])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    // compile_fds does not write the descriptor set itself, so reflection's copy is written here.
    std::fs::write(
        out.join("rotaledger_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    tonic_prost_build::configure().compile_fds(fds)?;
    Ok(())
}
