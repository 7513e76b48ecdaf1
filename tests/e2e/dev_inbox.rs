//! The dev inbox shows every code to anyone who reaches the notification service: with
//! PostgreSQL it is refused at start unless `dev.allow_dev_inbox` is set, which is logged.

use crate::support::{Backends, TestConfig, TestPlatform};
use mi_account::BoundServices;
use mi_platform::Platform;
use mi_proto::notification::v1::ListInboxMessagesRequest;
use mi_test_support::capture_logs;

#[tokio::test]
async fn server_mode_refuses_the_dev_inbox_without_the_switch() {
    let config = TestConfig::new(Backends::Servers).with_value("dev.allow_dev_inbox", false);
    let platform = Platform::connect(config.loader.infra().unwrap())
        .await
        .unwrap();
    let services = BoundServices::bind(&config.loader).await.unwrap();
    let error = services
        .run(platform, tokio_util::sync::CancellationToken::new())
        .await
        .expect_err("the dev inbox must be refused with PostgreSQL");
    let message = format!("{error:#}");
    assert!(
        message.contains("notification.email_transport")
            && message.contains("MI_DEV__ALLOW_DEV_INBOX=true"),
        "{message}"
    );
}

#[tokio::test]
async fn with_the_switch_server_mode_serves_the_inbox_and_warns() {
    let ((), logs) = capture_logs(async {
        let platform = TestPlatform::start(Backends::Servers).await;
        // Served: an empty inbox, not an error.
        assert!(platform.inbox("+8613800138000").await.is_empty());
        platform.stop().await;
    })
    .await;
    assert!(
        logs.lines()
            .any(|line| line.contains("WARN")
                && line.contains("DEVELOPMENT ONLY: the dev inbox is on")),
        "{logs}"
    );
}

#[tokio::test]
async fn server_mode_with_real_transports_does_not_serve_the_inbox() {
    let config = TestConfig::new(Backends::Servers)
        .with_value("dev.allow_dev_inbox", false)
        .with_value("notification.email_transport", "smtp")
        .with_value("notification.smtp.host", "127.0.0.1")
        .with_value("notification.sms_transport", "http")
        .with_value("notification.voice_transport", "http")
        .with_value(
            "notification.http_provider.url",
            "http://127.0.0.1:9/messages",
        );
    let platform = TestPlatform::start_with(config).await;
    let refused = platform
        .notification()
        .await
        .list_inbox_messages(ListInboxMessagesRequest::default())
        .await
        .expect_err("no inbox in server mode");
    assert_eq!(refused.code(), tonic::Code::Unimplemented);
    platform.stop().await;
}
