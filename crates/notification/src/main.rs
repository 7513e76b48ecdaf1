//! Runs the notification service alone.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    mi_platform::service::run_single::<mi_notification::NotificationService>().await
}
