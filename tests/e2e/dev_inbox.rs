//! The dev inbox shows every code to anyone who reaches the notification service: with
//! PostgreSQL it is refused at start unless `dev.allow_dev_inbox` is set, which is logged.
//! Each message says whether it is a one-time code or a security alert, and the inbox lists
//! one kind on request.

use crate::support::{
    Backends, TestConfig, TestPlatform, error_metadata, expect_refusal, in_both_modes,
    strong_password, unique_email,
};
use mi_proto::common::v1::Channel as CodeChannel;
use mi_proto::notification::v1::{ListInboxMessagesRequest, MessageKind};
use mi_test_support::capture_logs;

#[tokio::test]
async fn server_mode_refuses_the_dev_inbox_without_the_switch() {
    let config = TestConfig::new(Backends::Servers).with_value("dev.allow_dev_inbox", false);
    let message =
        TestPlatform::refusal_to_start(config, "the dev inbox must be refused with PostgreSQL")
            .await;
    assert!(
        message.contains("notification.email_transport")
            && message.contains("notification.push_transport")
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
        )
        .with_value("notification.push_transport", "http")
        .with_value(
            "notification.push_provider.url",
            "http://127.0.0.1:9/pushes",
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

in_both_modes!(codes_and_security_alerts_are_told_apart);

/// A sign-up code and the alert of a password change to the same email: each message says
/// which it is, and the inbox lists one kind at a time; a kind the API does not define is
/// INVALID_ARGUMENT.
async fn codes_and_security_alerts_are_told_apart(backends: Backends) {
    let platform = TestPlatform::start_for_identity(backends).await;
    let email = unique_email();
    let (tokens, password) = platform.create_account(&email, CodeChannel::Email).await;
    platform
        .change_password(&tokens.access_token, &password, &strong_password())
        .await
        .expect("password changed");
    let everything = platform.wait_for_inbox(&email, 2).await;
    let kinds: Vec<MessageKind> = everything.iter().map(|message| message.kind()).collect();
    assert_eq!(kinds, [MessageKind::Code, MessageKind::SecurityAlert]);

    let codes = platform.inbox_of_kind(&email, MessageKind::Code).await;
    assert_eq!(codes, everything[..1]);
    let alerts = platform
        .inbox_of_kind(&email, MessageKind::SecurityAlert)
        .await;
    assert_eq!(alerts, everything[1..]);

    let unknown_kind = ListInboxMessagesRequest {
        kind: 99,
        ..ListInboxMessagesRequest::default()
    };
    let refused = expect_refusal(
        platform
            .notification()
            .await
            .list_inbox_messages(unknown_kind)
            .await,
        tonic::Code::InvalidArgument,
        None,
        "an unknown kind",
    );
    assert_eq!(error_metadata(&refused, "field").as_deref(), Some("kind"));
    platform.stop().await;
}
