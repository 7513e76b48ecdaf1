//! Runs identity, verification, notification and the device registry in one process.
//!
//! With no configuration this is embedded mode: SQLite under `./data`, the embedded bus, the
//! in-memory limiter and the dev inbox. `MI_POSTGRES__URL`, `MI_KAFKA__BROKERS` and
//! `MI_REDIS__URL` switch it to the real servers.

fn main() -> std::process::ExitCode {
    // Before any thread starts: this process may be one of identity's hashing workers.
    mi_workers::worker::serve_if_worker(&[mi_identity::domain::ARGON2_WORKER]);
    run()
}

#[tokio::main]
async fn run() -> std::process::ExitCode {
    mi_platform::service::run_process("mi-account", |loader, platform, shutdown| async move {
        let services = mi_account::BoundServices::bind(&loader).await?;
        services.run(platform, shutdown).await
    })
    .await
}
