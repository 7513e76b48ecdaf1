//! Messages leave for real: email through an SMTP server, SMS and voice through an HTTP
//! provider, with one delivery per event even when the provider's answer is lost or the event
//! arrives twice, and a recorded failure when the provider never accepts.

use std::time::Duration;

use crate::support::providers::{ProviderBehavior, SmsProvider, SmtpServer};
use crate::support::{Backends, TestConfig, TestPlatform, unique_email, unique_phone_number};
use mi_platform::events;
use mi_proto::common::v1::Channel;
use mi_proto::events::v1::{NotificationDelivered, NotificationFailed};
use mi_proto::verification::v1::SendCodeRequest;
use prost::Message;

fn six_digits_after(text: &str, marker: &str) -> String {
    let rest = text
        .split(marker)
        .nth(1)
        .unwrap_or_else(|| panic!("no {marker:?} in {text}"));
    rest.chars().filter(char::is_ascii_digit).take(6).collect()
}

/// A provider with `behavior`, and a platform whose SMS and voice go through it.
async fn platform_with_provider(
    behavior: ProviderBehavior,
    backends: Backends,
) -> (SmsProvider, TestPlatform) {
    let provider = SmsProvider::start(behavior).await;
    let config = TestConfig::new(backends)
        .with_value("notification.sms_transport", "http")
        .with_value("notification.voice_transport", "http")
        .with_value("notification.http_provider.url", provider.url.clone())
        .with_value("notification.http_provider.api_key", "provider-test-key");
    (provider, TestPlatform::start_with(config).await)
}

async fn delivery_row(platform: &TestPlatform, source_event_id: &str) -> (String, i64) {
    let database = platform.config.database("notification").await;
    sqlx::query_as("SELECT status, attempts FROM deliveries WHERE source_event_id = $1")
        .bind(source_event_id)
        .fetch_one(database.pool())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_leaves_through_smtp() {
    let smtp = SmtpServer::start().await;
    let config = TestConfig::new(Backends::Embedded)
        .with_value("notification.email_transport", "smtp")
        .with_value("notification.smtp.host", "127.0.0.1")
        .with_value("notification.smtp.port", smtp.port)
        .with_value("notification.smtp.tls", "none")
        .with_value("notification.smtp.from", "Mi Account <noreply@example.com>");
    let platform = TestPlatform::start_with(config).await;
    let destination = unique_email();
    let sent = platform.sign_up(&destination, Channel::Email).await;

    let mail = smtp.wait_for_messages().await.remove(0);
    assert!(mail.contains(&format!("To: {destination}")), "{mail}");
    assert!(
        mail.contains("Subject: Your Mi Account verification code"),
        "{mail}"
    );
    assert!(
        mail.contains("From: \"Mi Account\" <noreply@example.com>"),
        "{mail}"
    );
    let code = six_digits_after(&mail, "code is ");
    platform.check(&sent.verification_id, &code).await.unwrap();
    assert!(
        platform.inbox(&destination).await.is_empty(),
        "smtp deliveries skip the dev inbox"
    );
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_provider_answer_or_a_redelivered_event_never_sends_a_second_sms() {
    let (provider, platform) =
        platform_with_provider(ProviderBehavior::FailOnceAfterAccepting, Backends::Servers).await;
    let destination = unique_phone_number();
    let request = SendCodeRequest {
        locale: "zh-CN".into(),
        ..platform.sign_up_request(&destination, Channel::Sms).await
    };
    let sent = platform
        .verification()
        .await
        .send_code(request)
        .await
        .unwrap()
        .into_inner();

    let requests = provider.wait_for(&destination, 2).await;
    assert_eq!(
        requests[0].idempotency_key, requests[1].idempotency_key,
        "the retry reuses the key"
    );
    assert_eq!(
        requests[0].authorization.as_deref(),
        Some("Bearer provider-test-key")
    );
    assert_eq!(requests[0].body["channel"], "sms");
    let text = requests[0].body["text"].as_str().unwrap().to_owned();
    assert!(text.starts_with("【小米账号】"), "zh-CN template: {text}");
    assert_eq!(provider.sent_count(), 1, "one SMS reached the phone");
    let source_event_id = requests[0].idempotency_key.clone();

    let delivered = platform.first_event("notification.events", |_| true).await;
    let delivered: NotificationDelivered = events::payload(&delivered).unwrap().unwrap();
    assert_eq!(
        (
            delivered.source_event_id.as_str(),
            delivered.delivery_channel.as_str()
        ),
        (source_event_id.as_str(), "http")
    );
    assert_eq!(
        delivery_row(&platform, &source_event_id).await,
        ("delivered".to_owned(), 2)
    );

    // The same CodeIssued again (as after a consumer crash): the provider hears nothing new.
    let issued = platform.first_event("verification.events", |_| true).await;
    assert_eq!(issued.event_id, source_event_id);
    let bus = platform.config.bus().await;
    let message = mi_platform::bus::BusMessage {
        topic: platform.config.topic("verification.events"),
        key: issued.aggregate_id.clone(),
        headers: vec![(
            events::EVENT_TYPE_HEADER.to_owned(),
            issued.event_type.clone(),
        )],
        payload: issued.encode_to_vec(),
    };
    bus.publish(&[message]).await.unwrap();
    let marker = unique_phone_number();
    let marker_request = platform.sign_up_request(&marker, Channel::Sms).await;
    platform
        .verification()
        .await
        .send_code(marker_request)
        .await
        .unwrap();
    provider.wait_for(&marker, 1).await;
    assert_eq!(
        provider.wait_for(&destination, 2).await.len(),
        2,
        "no request for the redelivered event"
    );

    let code = six_digits_after(&text, "验证码是");
    platform.check(&sent.verification_id, &code).await.unwrap();
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_calls_read_the_code_out_through_the_provider() {
    let (provider, platform) =
        platform_with_provider(ProviderBehavior::Accept, Backends::Embedded).await;
    let destination = "+861012345678";
    let sent = platform.sign_up(destination, Channel::Voice).await;
    let call = provider.wait_for(destination, 1).await.remove(0);
    assert_eq!(call.body["channel"], "voice");
    let speech = call.body["speech"].as_str().unwrap();
    let code = six_digits_after(speech, "code is ");
    let spoken = code
        .chars()
        .map(String::from)
        .collect::<Vec<_>>()
        .join(", ");
    assert!(speech.contains(&spoken), "{speech}");
    platform.check(&sent.verification_id, &code).await.unwrap();
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_never_accepts_ends_in_a_recorded_failure() {
    let (provider, platform) =
        platform_with_provider(ProviderBehavior::AlwaysFail, Backends::Embedded).await;
    let destination = unique_phone_number();
    let request = platform.sign_up_request(&destination, Channel::Sms).await;
    platform
        .verification()
        .await
        .send_code(request)
        .await
        .unwrap();

    let failed = platform.first_event("notification.events", |_| true).await;
    let failed: NotificationFailed = events::payload(&failed).unwrap().unwrap();
    assert_eq!(
        (failed.destination.as_str(), failed.attempts),
        (destination.as_str(), 3)
    );
    assert!(failed.error.contains("503"), "{}", failed.error);
    assert_eq!(provider.wait_for(&destination, 3).await.len(), 3);
    assert_eq!(
        delivery_row(&platform, &failed.source_event_id).await,
        ("failed".to_owned(), 3)
    );
    let dead = platform
        .first_event("notification.dead-letter", |_| true)
        .await;
    assert_eq!(dead.event_id, failed.source_event_id);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(provider.requests().len(), 3, "no attempts after giving up");
    platform.stop().await;
}
