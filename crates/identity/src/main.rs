//! Runs the identity service alone.

fn main() -> std::process::ExitCode {
    // Before any thread starts: this process may be one of the service's hashing workers.
    mi_workers::worker::serve_if_worker(&[mi_identity::domain::ARGON2_WORKER]);
    run()
}

#[tokio::main]
async fn run() -> std::process::ExitCode {
    mi_platform::service::run_single::<mi_identity::IdentityService>().await
}
