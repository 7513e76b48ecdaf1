//! Runs the identity service alone.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    mi_platform::host::run_single::<mi_identity::IdentityService>().await
}
