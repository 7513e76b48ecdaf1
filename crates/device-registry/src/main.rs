//! Runs the device registry alone.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    mi_platform::host::run_single::<mi_device_registry::DeviceRegistryService>().await
}
