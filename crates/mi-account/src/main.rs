//! Runs identity, verification, notification and the device registry in one process.
//!
//! With no configuration this is embedded mode: SQLite under `./data`, the embedded bus, the
//! in-memory limiter and the dev inbox. `MI_POSTGRES__URL`, `MI_KAFKA__BROKERS` and
//! `MI_REDIS__URL` switch it to the real servers.

use mi_device_registry::DeviceRegistryService;
use mi_identity::IdentityService;
use mi_notification::NotificationService;
use mi_platform::service::Service;
use mi_verification::VerificationService;

fn main() -> std::process::ExitCode {
    // Before any thread starts: this process may be one of identity's hashing workers.
    mi_workers::worker::serve_if_worker(&[mi_identity::domain::ARGON2_WORKER]);
    run()
}

#[tokio::main]
async fn run() -> std::process::ExitCode {
    let migrations = vec![
        (IdentityService::NAME, IdentityService::MIGRATIONS),
        (VerificationService::NAME, VerificationService::MIGRATIONS),
        (NotificationService::NAME, NotificationService::MIGRATIONS),
        (
            DeviceRegistryService::NAME,
            DeviceRegistryService::MIGRATIONS,
        ),
    ];
    mi_platform::service::run_process(
        "mi-account",
        migrations,
        |loader, platform, shutdown| async move {
            let services = mi_account::BoundServices::bind(&loader).await?;
            services.run(platform, shutdown).await
        },
    )
    .await
}
