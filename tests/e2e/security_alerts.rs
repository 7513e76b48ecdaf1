//! Security alerts: identity's events, published straight onto the bus, reach every contact
//! of the account in its locale, once per contact however often an event arrives, and a
//! contact that fails is retried without sending to the others again.

use crate::support::providers::{ProviderBehavior, SmsProvider};
use crate::support::{
    Backends, DELIVERY_TIMEOUT, TestConfig, TestPlatform, unique_email, unique_phone_number,
};
use mi_platform::bus::BusMessage;
use mi_proto::EventPayload;
use mi_proto::common::v1::Channel;
use mi_proto::common::v1::DeviceInfo;
use mi_proto::events::v1::{AlertAudience, EventEnvelope, PasswordChanged, SignedIn};
use mi_proto::notification::v1::InboxMessage;

const MI_ID: u64 = 1_234_567_890;

/// An identity event as the identity service would publish it, and the envelope inside.
fn identity_event<P: EventPayload>(
    config: &TestConfig,
    payload: &P,
) -> (BusMessage, EventEnvelope) {
    config.event_message("identity", &MI_ID.to_string(), payload)
}

fn audience(contacts: &[&str], locale: &str) -> Option<AlertAudience> {
    Some(AlertAudience {
        contacts: contacts
            .iter()
            .map(|contact| (*contact).to_owned())
            .collect(),
        locale: locale.to_owned(),
    })
}

fn password_changed(contacts: &[&str], locale: &str) -> PasswordChanged {
    PasswordChanged {
        mi_id: MI_ID,
        reset: false,
        audience: audience(contacts, locale),
    }
}

fn signed_in(model: &str, new_device: bool, contacts: &[&str]) -> SignedIn {
    SignedIn {
        mi_id: MI_ID,
        session_id: uuid::Uuid::now_v7().to_string(),
        device: Some(DeviceInfo {
            device_id: uuid::Uuid::now_v7().to_string(),
            model: model.to_owned(),
            os: "HyperOS 2.0".into(),
            name: "Lei's phone".into(),
            ..DeviceInfo::default()
        }),
        client_address: "203.0.113.7".into(),
        new_device,
        methods: vec!["pwd".into()],
        audience: audience(contacts, "en"),
        has_second_factor: None,
    }
}

/// Waits until a message for `destination` contains `text`; returns all of its messages.
async fn wait_for_text(
    platform: &TestPlatform,
    destination: &str,
    text: &str,
) -> Vec<InboxMessage> {
    let deadline = tokio::time::Instant::now() + DELIVERY_TIMEOUT;
    loop {
        let messages = platform.inbox(destination).await;
        if messages.iter().any(|message| message.body.contains(text)) {
            return messages;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no message with {text:?} for {destination}; got {messages:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A password change reaches the phone (SMS) and the email address (email) in Chinese, once
/// each although the event arrives twice; a sign-in on a known device tells nobody, one on a
/// new device names the device and address.
async fn alerts_reach_every_contact_once(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    let config = &platform.config;
    let bus = config.bus().await;
    bus.create_topics(&[config.topic("identity.events")])
        .await
        .unwrap();
    let phone = unique_phone_number();
    let email = unique_email();

    let (changed, changed_envelope) =
        identity_event(config, &password_changed(&[&phone, &email], "zh-CN"));
    bus.publish(std::slice::from_ref(&changed)).await.unwrap();
    bus.publish(&[changed]).await.unwrap();
    let (known_device, _) = identity_event(config, &signed_in("Xiaomi 14", false, &[&phone]));
    let (new_device, _) = identity_event(config, &signed_in("Redmi Note 13", true, &[&phone]));
    bus.publish(&[known_device, new_device]).await.unwrap();

    // With one partition, events are handled in order: once the new-device alert is in, the
    // copy of the password change and the known-device sign-in have been handled too.
    let phone_messages = wait_for_text(&platform, &phone, "Redmi Note 13").await;
    assert_eq!(
        phone_messages.len(),
        2,
        "one password alert and one new-device alert: {phone_messages:?}"
    );
    let sms = &phone_messages[0];
    assert_eq!(sms.channel, i32::from(Channel::Sms));
    assert_eq!(sms.source_event_id, changed_envelope.event_id);
    assert!(sms.body.starts_with("【小米账号】"), "{}", sms.body);
    assert!(sms.body.contains("密码刚刚被修改"), "{}", sms.body);
    assert!(
        sms.body.contains("如非本人操作，请立即重置密码"),
        "{}",
        sms.body
    );

    let new_device_alert = &phone_messages[1];
    assert_eq!(new_device_alert.subject, "New sign-in to your Mi Account");
    assert!(
        new_device_alert
            .body
            .contains("Lei's phone (Redmi Note 13)")
            && new_device_alert.body.contains("203.0.113.7"),
        "{}",
        new_device_alert.body
    );
    assert!(
        new_device_alert.body.contains("Reset your password"),
        "{}",
        new_device_alert.body
    );

    let email_messages = platform.inbox(&email).await;
    assert_eq!(email_messages.len(), 1, "{email_messages:?}");
    let mail = &email_messages[0];
    assert_eq!(mail.channel, i32::from(Channel::Email));
    assert_eq!(mail.source_event_id, changed_envelope.event_id);
    assert_eq!(mail.subject, "小米账号密码已修改");
    assert!(mail.body.contains("请立即重置密码"), "{}", mail.body);
    platform.stop().await;
}

/// The SMS provider loses its first answer, so the event fails once and comes again: the phone
/// gets its SMS exactly once (the retry reuses the key), and the email already in the inbox is
/// not written a second time.
async fn a_failing_contact_is_retried_without_resending_the_others(backends: Backends) {
    let provider = SmsProvider::start(ProviderBehavior::FailOnceAfterAccepting).await;
    let config = TestConfig::new(backends)
        .with_value("notification.sms_transport", "http")
        .with_value("notification.http_provider.url", provider.url.clone());
    let platform = TestPlatform::start_with(config).await;
    let config = &platform.config;
    let bus = config.bus().await;
    bus.create_topics(&[config.topic("identity.events")])
        .await
        .unwrap();
    let phone = unique_phone_number();
    let email = unique_email();

    let (changed, envelope) = identity_event(config, &password_changed(&[&phone, &email], "en"));
    bus.publish(&[changed]).await.unwrap();
    let requests = provider.wait_for(&phone, 2).await;
    assert_eq!(requests[0].idempotency_key, requests[1].idempotency_key);
    assert_eq!(
        requests[0].idempotency_key,
        format!("{}-1", envelope.event_id)
    );
    assert!(
        requests[0].body["text"]
            .as_str()
            .unwrap()
            .starts_with("[Mi Account] The password of Mi Account 1234567890"),
        "{}",
        requests[0].body
    );

    // A later event through the same partition proves the retry has finished.
    let marker = unique_email();
    let (marker_event, _) = identity_event(config, &password_changed(&[&marker], "en"));
    bus.publish(&[marker_event]).await.unwrap();
    platform.wait_for_inbox(&marker, 1).await;

    assert_eq!(
        platform.inbox(&email).await.len(),
        1,
        "the email is not sent again"
    );
    assert_eq!(provider.requests().len(), 2);
    assert_eq!(provider.sent_count(), 1, "one SMS reached the phone");
    let database = platform.config.database("notification").await;
    let mut rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT destination, status, attempts FROM deliveries WHERE source_event_id = $1",
    )
    .bind(&envelope.event_id)
    .fetch_all(database.pool())
    .await
    .unwrap();
    rows.sort();
    let mut expected = vec![
        (phone, "delivered".to_owned(), 2),
        (email, "delivered".to_owned(), 1),
    ];
    expected.sort();
    assert_eq!(rows, expected);
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_reach_every_contact_once_in_embedded_mode() {
    alerts_reach_every_contact_once(Backends::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_reach_every_contact_once_on_servers() {
    alerts_reach_every_contact_once(Backends::Servers).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_contact_is_retried_without_resending_the_others_in_embedded_mode() {
    a_failing_contact_is_retried_without_resending_the_others(Backends::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_contact_is_retried_without_resending_the_others_on_servers() {
    a_failing_contact_is_retried_without_resending_the_others(Backends::Servers).await;
}
