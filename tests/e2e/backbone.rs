//! The event backbone under stress: a broker outage, a redelivered event, poison events, and
//! the trace context crossing gRPC and the bus.

use std::time::Duration;

use crate::support::{
    Backends, DELIVERY_TIMEOUT, TestConfig, TestPlatform, code_in, unique_phone_number,
};
use mi_contracts::UnixMillis;
use mi_platform::bus::BusMessage;
use mi_platform::consumer::{DEAD_LETTER_ERROR_HEADER, DEAD_LETTER_GROUP_HEADER};
use mi_platform::crypto::{CodeCipher, SecretKey};
use mi_platform::events::{self, EVENT_TYPE_HEADER};
use mi_proto::EventPayload;
use mi_proto::common::v1::{Channel, Purpose};
use mi_proto::events::v1::CodeIssued;
use mi_proto::verification::v1::CheckCodeRequest;
use mi_test_support as testing;
use prost::Message;

/// A `CodeIssued` as the verification service would publish it, sealed with `key`.
fn code_issued_message(
    config: &TestConfig,
    key: &SecretKey,
    destination: &str,
    code: &str,
) -> BusMessage {
    let verification_id = uuid_v7();
    let issued = CodeIssued {
        verification_id: verification_id.clone(),
        destination: destination.to_owned(),
        channel: Channel::Sms.into(),
        purpose: Purpose::SignUp.into(),
        locale: "en".into(),
        sealed_code: CodeCipher::new(key)
            .seal(&verification_id, code.as_bytes())
            .unwrap(),
        expire_time: Some(
            UnixMillis::now()
                .saturating_add(Duration::from_secs(600))
                .to_timestamp(),
        ),
    };
    let envelope = events::envelope("verification", &verification_id, &issued);
    BusMessage {
        topic: config.topic("verification.events"),
        key: verification_id,
        headers: vec![(
            EVENT_TYPE_HEADER.to_owned(),
            CodeIssued::EVENT_TYPE.to_owned(),
        )],
        payload: envelope.encode_to_vec(),
    }
}

fn uuid_v7() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Events written while the broker is unreachable wait in the outbox and are all delivered
/// once it is back; the codes still check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_holds_events_while_kafka_is_down_then_delivers_them() {
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let working_brokers = testing::kafka_brokers();
    let config = TestConfig::new(Backends::Servers)
        .with_value("kafka.brokers", format!("127.0.0.1:{closed_port}"));
    let platform = TestPlatform::start_with(config).await;

    let destinations: Vec<String> = (0..3).map(|_| unique_phone_number()).collect();
    let mut verification_ids = Vec::new();
    for destination in &destinations {
        let sent = platform
            .verification()
            .await
            .send_code(platform.sign_up_request(destination, Channel::Sms).await)
            .await
            .unwrap();
        verification_ids.push(sent.into_inner().verification_id);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let database = platform.config.database("verification").await;
    let waiting: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
        .fetch_one(database.pool())
        .await
        .unwrap();
    assert_eq!(
        waiting, 3,
        "events must wait in the outbox while the broker is down"
    );
    for destination in &destinations {
        assert!(platform.inbox(destination).await.is_empty());
    }

    let config = platform
        .stop()
        .await
        .with_value("kafka.brokers", working_brokers);
    let platform = TestPlatform::start_with(config).await;
    for (destination, verification_id) in destinations.iter().zip(verification_ids) {
        let messages = platform.wait_for_inbox(destination, 1).await;
        assert_eq!(messages.len(), 1);
        let check = CheckCodeRequest {
            verification_id,
            code: code_in(&messages[0]),
        };
        platform
            .verification()
            .await
            .check_code(check)
            .await
            .unwrap();
    }
    // The approvals just written drain too: nothing stays behind in the outbox.
    let deadline = tokio::time::Instant::now() + DELIVERY_TIMEOUT;
    loop {
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
            .fetch_one(database.pool())
            .await
            .unwrap();
        if left == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{left} events stuck in the outbox"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    platform.stop().await;
}

/// The same event delivered twice produces one message.
async fn redelivered_event_creates_one_message(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    let config = &platform.config;
    let bus = config.bus().await;
    bus.create_topics(&[config.topic("verification.events")])
        .await
        .unwrap();
    let destination = unique_phone_number();
    let duplicate =
        code_issued_message(config, &config.code_encryption_key, &destination, "424242");
    bus.publish(std::slice::from_ref(&duplicate)).await.unwrap();
    bus.publish(&[duplicate]).await.unwrap();
    // With one partition, a later marker's arrival proves both copies were consumed.
    let marker = unique_phone_number();
    bus.publish(&[code_issued_message(
        config,
        &config.code_encryption_key,
        &marker,
        "111111",
    )])
    .await
    .unwrap();
    platform.wait_for_inbox(&marker, 1).await;

    let messages = platform.inbox(&destination).await;
    assert_eq!(
        messages.len(),
        1,
        "a redelivered event must not send a second message"
    );
    assert_eq!(code_in(&messages[0]), "424242");
    platform.stop().await;
}

/// An event that cannot be decoded, and one whose handler keeps failing, end in the
/// dead-letter topic with the error; the events after them still flow.
async fn poison_events_are_dead_lettered_and_later_events_flow(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    let config = &platform.config;
    let bus = config.bus().await;
    let dead_letter_topic = config.topic("notification.dead-letter");
    bus.create_topics(&[
        config.topic("verification.events"),
        dead_letter_topic.clone(),
    ])
    .await
    .unwrap();

    let undecodable = BusMessage {
        topic: config.topic("verification.events"),
        key: "poison".into(),
        headers: Vec::new(),
        payload: b"\xff\xff not an envelope".to_vec(),
    };
    let wrong_key = code_issued_message(
        config,
        &SecretKey::generate(),
        &unique_phone_number(),
        "222222",
    );
    bus.publish(&[undecodable.clone(), wrong_key.clone()])
        .await
        .unwrap();
    let healthy = unique_phone_number();
    bus.publish(&[code_issued_message(
        config,
        &config.code_encryption_key,
        &healthy,
        "333333",
    )])
    .await
    .unwrap();
    assert_eq!(
        code_in(&platform.wait_for_inbox(&healthy, 1).await[0]),
        "333333"
    );

    let mut inspector = bus
        .subscribe(&config.topic("inspector"), &[dead_letter_topic])
        .await
        .unwrap();
    let mut dead = Vec::new();
    for _ in 0..2 {
        let delivery = tokio::time::timeout(DELIVERY_TIMEOUT, inspector.next())
            .await
            .unwrap()
            .unwrap();
        dead.push(delivery.message);
    }
    assert_eq!(dead[0].payload, undecodable.payload);
    assert!(
        dead[0]
            .header(DEAD_LETTER_ERROR_HEADER)
            .unwrap()
            .contains("undecodable"),
        "{:?}",
        dead[0].headers
    );
    assert_eq!(dead[1].payload, wrong_key.payload);
    let error = dead[1].header(DEAD_LETTER_ERROR_HEADER).unwrap();
    assert!(
        error.contains("failed 3 times") && error.contains("does not open"),
        "{error}"
    );
    assert_eq!(
        dead[1].header(DEAD_LETTER_GROUP_HEADER),
        Some(config.topic("notification").as_str())
    );
    inspector.close().await.unwrap();
    platform.stop().await;
}

/// The caller's trace continues through the outbox onto the bus.
async fn trace_context_crosses_grpc_and_the_bus(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let mut request = tonic::Request::new(
        platform
            .sign_up_request(&unique_phone_number(), Channel::Sms)
            .await,
    );
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-00f067aa0ba902b7-01")
            .parse()
            .unwrap(),
    );
    platform
        .verification()
        .await
        .send_code(request)
        .await
        .unwrap();

    let bus = platform.config.bus().await;
    let topic = platform.config.topic("verification.events");
    bus.create_topics(std::slice::from_ref(&topic))
        .await
        .unwrap();
    let mut reader = bus
        .subscribe(&platform.config.topic("trace-reader"), &[topic])
        .await
        .unwrap();
    let delivery = tokio::time::timeout(DELIVERY_TIMEOUT, reader.next())
        .await
        .unwrap()
        .unwrap();
    let traceparent = delivery.message.header("traceparent").unwrap();
    assert!(
        traceparent.starts_with(&format!("00-{trace_id}-")),
        "{traceparent}"
    );
    assert_eq!(
        delivery.message.header(EVENT_TYPE_HEADER),
        Some(CodeIssued::EVENT_TYPE)
    );
    reader.close().await.unwrap();
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivered_event_creates_one_message_in_embedded_mode() {
    redelivered_event_creates_one_message(Backends::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivered_event_creates_one_message_on_kafka() {
    redelivered_event_creates_one_message(Backends::Servers).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_events_are_dead_lettered_in_embedded_mode() {
    poison_events_are_dead_lettered_and_later_events_flow(Backends::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_events_are_dead_lettered_on_kafka() {
    poison_events_are_dead_lettered_and_later_events_flow(Backends::Servers).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_context_crosses_grpc_and_the_embedded_bus() {
    trace_context_crosses_grpc_and_the_bus(Backends::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_context_crosses_grpc_and_kafka() {
    trace_context_crosses_grpc_and_the_bus(Backends::Servers).await;
}
