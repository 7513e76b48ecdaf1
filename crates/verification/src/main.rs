//! Runs the verification service alone.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    mi_platform::service::run_single::<mi_verification::VerificationService>().await
}
