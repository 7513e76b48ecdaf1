//! Compiles `proto/` with protox, a pure-Rust compiler, so no protoc is needed to build.

use std::path::PathBuf;

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let files: Vec<PathBuf> = [
        "mi/common/v1/common.proto",
        "mi/common/v1/device.proto",
        "mi/verification/v1/verification.proto",
        "mi/notification/v1/notification.proto",
        "mi/identity/v1/identity.proto",
        "mi/device/v1/device.proto",
        "mi/events/v1/envelope.proto",
        "mi/events/v1/verification_events.proto",
        "mi/events/v1/notification_events.proto",
        "mi/events/v1/identity_events.proto",
        "mi/events/v1/device_events.proto",
    ]
    .iter()
    .map(|file| proto_root.join(file))
    .collect();
    println!("cargo:rerun-if-changed={}", proto_root.display());

    let descriptors = protox::compile(&files, [&proto_root])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("mi_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    tonic_prost_build::configure()
        .emit_rerun_if_changed(false)
        // Prost's codec but for a request that does not decode: INVALID_ARGUMENT, not INTERNAL.
        .codec_path("crate::codec::WireCodec")
        .compile_fds(descriptors)?;
    Ok(())
}
