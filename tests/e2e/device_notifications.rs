//! Find Device's side of the notification service: the device registry's events, published
//! straight onto the device topic (as the registry's outbox relay does), wake offline devices
//! with one push per command however often the event arrives, through the dev inbox or an HTTP
//! push provider shaped like FCM's, and alert the owner's contacts about remote actions in
//! their locale. A push token is never a channel for codes.

use mi_platform::events;
use mi_proto::EventPayload;
use mi_proto::common::v1::{Channel, Purpose};
use mi_proto::device::v1::RemoveDeviceRequest;
use mi_proto::device::v1::device_registry_service_client::DeviceRegistryServiceClient;
use mi_proto::events::v1::{
    AlertAudience, DeviceCommandIssued, DeviceRemoved, FindDeviceDisabled, LostModeChanged,
};
use mi_proto::notification::v1::MessageKind;
use mi_proto::verification::v1::ResendCodeRequest;
use serde_json::json;
use tonic::Code;

use crate::codes::request as code_request;
use crate::device_linking::wait_for_devices;
use crate::support::providers::{ProviderBehavior, ProviderRequest, SmsProvider};
use crate::support::{
    Backends, TestConfig, TestPlatform, authed, expect_refusal, field_violations, in_both_modes,
    test_device, unique_email, unique_phone_number,
};

const MI_ID: u64 = 1_234_567_890;
const DEVICE_ID: &str = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
const DEVICE_NAME: &str = "Lei's phone";

in_both_modes!(
    wake_ups_and_device_alerts_reach_the_dev_inbox,
    a_push_leaves_once_through_the_provider_in_fcm_shape,
    a_lost_push_answer_is_retried_under_the_same_key,
    push_is_no_channel_for_codes,
    a_real_removal_alerts_the_owners_contacts_naming_the_device,
);

/// A device event as the registry publishes it (keyed `<mi_id>/<device_id>`), published now;
/// returns its event id.
async fn publish<P: EventPayload>(platform: &TestPlatform, payload: &P) -> String {
    let config = &platform.config;
    let (message, envelope) =
        config.event_message("device", &format!("{MI_ID}/{DEVICE_ID}"), payload);
    config.bus().await.publish(&[message]).await.unwrap();
    envelope.event_id
}

/// Publishes the same event twice, as after a consumer crash; returns its event id.
async fn publish_twice<P: EventPayload>(platform: &TestPlatform, payload: &P) -> String {
    let config = &platform.config;
    let (message, envelope) =
        config.event_message("device", &format!("{MI_ID}/{DEVICE_ID}"), payload);
    let bus = config.bus().await;
    bus.publish(std::slice::from_ref(&message)).await.unwrap();
    bus.publish(&[message]).await.unwrap();
    envelope.event_id
}

async fn create_device_topic(config: &TestConfig) {
    let bus = config.bus().await;
    bus.create_topics(&[config.topic("device.events")])
        .await
        .unwrap();
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

/// A command the owner issued; `push_token` empty when the device has its channel open.
fn command_issued(
    action: &str,
    push_token: &str,
    audience: Option<AlertAudience>,
) -> DeviceCommandIssued {
    DeviceCommandIssued {
        mi_id: MI_ID,
        device_id: DEVICE_ID.into(),
        device_name: DEVICE_NAME.into(),
        command_id: uuid::Uuid::now_v7().to_string(),
        action: action.into(),
        push_token: push_token.into(),
        session_id: uuid::Uuid::now_v7().to_string(),
        audience,
    }
}

/// A push token no other test uses.
fn unique_push_token() -> String {
    format!("fcm-token-{}", uuid::Uuid::now_v7().simple())
}

/// The data a wake-up for `issued` carries to the device app.
fn wake_data(issued: &DeviceCommandIssued) -> serde_json::Value {
    json!({
        "kind": "wake",
        "mi_id": MI_ID.to_string(),
        "device_id": DEVICE_ID,
        "command_id": issued.command_id,
    })
}

/// A platform whose pushes leave through a provider with `behavior`.
async fn platform_with_push_provider(
    behavior: ProviderBehavior,
    backends: Backends,
) -> (SmsProvider, TestPlatform) {
    let provider = SmsProvider::start(behavior).await;
    let config = TestConfig::new(backends)
        .with_value("notification.push_transport", "http")
        .with_value("notification.push_provider.url", provider.url.clone())
        .with_value("notification.push_provider.api_key", "push-test-key");
    let platform = TestPlatform::start_with(config).await;
    create_device_topic(&platform.config).await;
    (provider, platform)
}

fn to_token(token: &str) -> impl Fn(&ProviderRequest) -> bool + '_ {
    move |request| request.body["message"]["token"] == token
}

/// A locate for an offline device, delivered twice, wakes it once (and alerts nobody); an erase
/// issued to a connected device, Lost Mode on and Find Device off alert the account's contacts
/// in their locale, naming the device; a removal whose event names nobody (as RemoveDevice's
/// does until the registry learns the account's contacts) sends nothing.
async fn wake_ups_and_device_alerts_reach_the_dev_inbox(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    create_device_topic(&platform.config).await;
    let phone = unique_phone_number();
    let email = unique_email();
    let token = unique_push_token();

    let locate = command_issued("locate", &token, audience(&[&phone], "en"));
    let locate_event = publish_twice(&platform, &locate).await;
    let erase = command_issued("erase", "", audience(&[&phone, &email], "zh-CN"));
    let erase_event = publish(&platform, &erase).await;
    let lost_mode = LostModeChanged {
        mi_id: MI_ID,
        device_id: DEVICE_ID.into(),
        device_name: DEVICE_NAME.into(),
        enabled: true,
        audience: audience(&[&phone], "en"),
    };
    publish(&platform, &lost_mode).await;
    let removed = DeviceRemoved {
        mi_id: MI_ID,
        device_id: DEVICE_ID.into(),
        removed_by_session_id: uuid::Uuid::now_v7().to_string(),
        hardware_id: String::new(),
        audience: Some(AlertAudience::default()),
        device_name: DEVICE_NAME.into(),
    };
    let removed_event = publish(&platform, &removed).await;
    let disabled = FindDeviceDisabled {
        mi_id: MI_ID,
        device_id: DEVICE_ID.into(),
        device_name: DEVICE_NAME.into(),
        audience: audience(&[&phone], "en"),
    };
    publish(&platform, &disabled).await;

    // With one partition, events are handled in order: once the last alert is in, every
    // earlier event (the repeated locate, the unaddressed removal) has been handled too.
    platform
        .wait_for_text(&phone, "Find Device was turned off")
        .await;
    let pushes = platform.inbox(&token).await;
    assert_eq!(
        pushes.len(),
        1,
        "one wake-up for the repeated event: {pushes:?}"
    );
    let push = &pushes[0];
    assert_eq!(push.channel, i32::from(Channel::Push));
    assert_eq!(push.kind, i32::from(MessageKind::PushWakeUp));
    assert_eq!(push.source_event_id, locate_event);
    let data: serde_json::Value = serde_json::from_str(&push.body).unwrap();
    assert_eq!(data, wake_data(&locate));
    let listed_pushes = platform
        .inbox_of_kind(&token, MessageKind::PushWakeUp)
        .await;
    assert_eq!(listed_pushes.len(), 1, "the inbox filters on the push kind");

    let to_phone = platform.inbox(&phone).await;
    let subjects: Vec<&str> = to_phone.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "已请求清除您的设备",
            "Your device is in Lost Mode",
            "Find Device was turned off",
        ],
        "no alert for locate, nobody told of the unaddressed removal"
    );
    let erase_sms = &to_phone[0];
    assert_eq!(
        (erase_sms.channel, erase_sms.kind),
        (
            i32::from(Channel::Sms),
            i32::from(MessageKind::SecurityAlert)
        )
    );
    assert_eq!(erase_sms.source_event_id, erase_event);
    assert!(
        erase_sms.body.starts_with("【小米账号】")
            && erase_sms.body.contains("\"Lei's phone\"")
            && erase_sms.body.contains("设备联网后即开始清除"),
        "{}",
        erase_sms.body
    );
    assert!(
        to_phone[1]
            .body
            .contains("\"Lei's phone\", a device of Mi Account 1234567890, is now in Lost Mode"),
        "{}",
        to_phone[1].body
    );
    let to_email = platform.inbox(&email).await;
    assert_eq!(to_email.len(), 1, "{to_email:?}");
    assert_eq!(to_email[0].channel, i32::from(Channel::Email));
    assert!(
        to_email[0].body.contains("请立即重置密码"),
        "{}",
        to_email[0].body
    );

    let database = platform.config.database("notification").await;
    let removal_deliveries: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE source_event_id = $1")
            .bind(&removed_event)
            .fetch_one(database.pool())
            .await
            .unwrap();
    assert_eq!(removal_deliveries, 0);
    platform.stop().await;
}

/// With the http push transport, a wake-up is one POST in FCM's HTTP v1 shape with the event
/// id as idempotency key and the API key as bearer token, sent once although the event comes
/// twice, and kept out of the dev inbox; a command to a connected device (no token) pushes
/// nothing.
async fn a_push_leaves_once_through_the_provider_in_fcm_shape(backends: Backends) {
    let (provider, platform) =
        platform_with_push_provider(ProviderBehavior::Accept, backends).await;
    let token = unique_push_token();
    let ring = command_issued("ring", &token, None);
    let ring_event = publish_twice(&platform, &ring).await;
    publish(&platform, &command_issued("locate", "", None)).await;
    let marker_token = unique_push_token();
    publish(&platform, &command_issued("locate", &marker_token, None)).await;

    provider
        .wait_until(1, "the marker push", to_token(&marker_token))
        .await;
    let requests = provider
        .wait_until(1, "the ring push", to_token(&token))
        .await;
    assert_eq!(requests.len(), 1, "one POST for the repeated event");
    assert_eq!(
        provider.requests().len(),
        2,
        "nothing for a connected device"
    );
    let push = &requests[0];
    assert_eq!(
        push.body,
        json!({
            "message": {
                "token": token,
                "data": wake_data(&ring),
                "android": { "priority": "high" },
            }
        })
    );
    assert_eq!(push.idempotency_key, ring_event);
    assert_eq!(push.authorization.as_deref(), Some("Bearer push-test-key"));
    assert!(
        platform.inbox(&token).await.is_empty(),
        "http pushes skip the dev inbox"
    );
    platform.stop().await;
}

/// The provider takes the push but its answer is lost (500): the event fails, comes again and
/// the push is retried with the same key, which the provider recognizes; the delivery is
/// recorded done after two attempts.
async fn a_lost_push_answer_is_retried_under_the_same_key(backends: Backends) {
    let (provider, platform) =
        platform_with_push_provider(ProviderBehavior::FailOnceAfterAccepting, backends).await;
    let token = unique_push_token();
    let event_id = publish(&platform, &command_issued("erase", &token, None)).await;

    let requests = provider
        .wait_until(2, "the erase push", to_token(&token))
        .await;
    assert!(
        requests
            .iter()
            .all(|request| request.idempotency_key == event_id),
        "{requests:?}"
    );
    assert_eq!(provider.sent_count(), 1, "one push reached the device");

    let database = platform.config.database("notification").await;
    let query = "SELECT status, attempts, channel, transport FROM deliveries \
                 WHERE source_event_id = $1";
    let deadline = tokio::time::Instant::now() + crate::support::DELIVERY_TIMEOUT;
    loop {
        let row: (String, i64, String, String) = sqlx::query_as(query)
            .bind(&event_id)
            .fetch_one(database.pool())
            .await
            .unwrap();
        if row.0 == "delivered" {
            assert_eq!(
                row,
                ("delivered".into(), 2, "push".into(), "push-http".into())
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not delivered: {row:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    platform.stop().await;
}

/// SendCode and ResendCode refuse CHANNEL_PUSH as they refuse an unknown channel.
async fn push_is_no_channel_for_codes(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    let mut client = platform.verification().await;
    let destination = unique_phone_number();

    let pushed = client
        .send_code(code_request(
            &destination,
            Channel::Push,
            Purpose::PasswordReset,
        ))
        .await;
    let status = expect_refusal(pushed, Code::InvalidArgument, None, "SendCode by push");
    let fields: Vec<String> = field_violations(&status)
        .into_iter()
        .map(|(field, _)| field)
        .collect();
    assert_eq!(fields, ["channel"]);

    let sent = client
        .send_code(code_request(
            &destination,
            Channel::Sms,
            Purpose::PasswordReset,
        ))
        .await
        .unwrap()
        .into_inner();
    let resent = client
        .resend_code(ResendCodeRequest {
            verification_id: sent.verification_id,
            channel: Channel::Push.into(),
            locale: String::new(),
            captcha: None,
        })
        .await;
    let status = expect_refusal(resent, Code::InvalidArgument, None, "ResendCode by push");
    let fields: Vec<String> = field_violations(&status)
        .into_iter()
        .map(|(field, _)| field)
        .collect();
    assert_eq!(fields, ["channel"]);
    assert_eq!(
        platform.wait_for_inbox(&destination, 1).await.len(),
        1,
        "only the SMS code went out"
    );
    platform.stop().await;
}

/// The registry's own event, end to end: RemoveDevice publishes `DeviceRemoved` naming the
/// device, with the audience the registry learned from identity's events (the sign-ins), so
/// the owner's phone gets the alert.
async fn a_real_removal_alerts_the_owners_contacts_naming_the_device(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    let phone = unique_phone_number();
    let (owner, password) = platform.create_account(&phone, Channel::Sms).await;
    let tablet = test_device("tablet-9");
    platform
        .sign_in_for_tokens(&owner.mi_id.to_string(), &password, tablet.clone())
        .await;
    wait_for_devices(&platform, (owner.mi_id, &owner.access_token), |listed| {
        listed.len() == 2
    })
    .await;
    let mut registry =
        DeviceRegistryServiceClient::new(crate::support::channel(platform.addresses.device).await);
    let request = RemoveDeviceRequest {
        device_id: "tablet-9".into(),
    };
    registry
        .remove_device(authed(request, &owner.access_token))
        .await
        .unwrap();

    let event = platform
        .first_event("device.events", |event| {
            event.event_type == DeviceRemoved::EVENT_TYPE
        })
        .await;
    let removed: DeviceRemoved = events::payload(&event).unwrap().unwrap();
    assert_eq!(
        (removed.mi_id, removed.device_id.as_str()),
        (owner.mi_id, "tablet-9")
    );
    assert_eq!(removed.device_name, tablet.name);
    assert_eq!(
        removed.audience.map(|audience| audience.contacts),
        Some(vec![phone.clone()])
    );
    let alert = platform
        .wait_for_text(&phone, "was removed from Mi Account")
        .await;
    assert!(alert.body.contains(&tablet.name), "{alert:?}");
    platform.stop().await;
}
