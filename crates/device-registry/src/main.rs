//! Runs the device registry alone.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    mi_platform::service::run_single::<mi_device_registry::DeviceRegistryService>().await
}
