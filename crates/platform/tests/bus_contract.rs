//! The event bus contract: Kafka and the embedded bus must behave alike.

use std::time::Duration;

use mi_platform::bus::{BusMessage, EmbeddedBus, EventBus, KafkaBus, Subscription};
use mi_platform::config::KafkaConfig;
use mi_test_support as testing;

const RECEIVE_TIMEOUT: Duration = Duration::from_secs(60);

fn message(topic: &str, index: usize) -> BusMessage {
    BusMessage {
        topic: topic.to_owned(),
        key: format!("aggregate-{}", index % 2),
        headers: vec![
            ("mi-event-type".into(), "test".into()),
            ("index".into(), index.to_string()),
        ],
        payload: format!("payload-{index}").into_bytes(),
    }
}

async fn receive(subscription: &mut Box<dyn Subscription>) -> mi_platform::bus::Delivery {
    tokio::time::timeout(RECEIVE_TIMEOUT, subscription.next())
        .await
        .expect("no message within the timeout")
        .expect("receive")
}

async fn run_contract(bus: &dyn EventBus, names: &str) {
    let topic = format!("{names}.events");
    bus.create_topics(std::slice::from_ref(&topic))
        .await
        .expect("create topic");
    // Creating an existing topic is not an error.
    bus.create_topics(std::slice::from_ref(&topic))
        .await
        .expect("create topic again");
    let sent: Vec<BusMessage> = (0..3).map(|index| message(&topic, index)).collect();
    // One publish per message, so each is its own record batch: tansu 0.6 serves no fetch that
    // starts inside a batch, and this test resumes from the middle (Apache Kafka does serve it).
    for message in &sent {
        bus.publish(std::slice::from_ref(message))
            .await
            .expect("publish");
    }

    // A group receives everything, in order, intact.
    let group = format!("{names}.group-a");
    let mut subscription = bus
        .subscribe(&group, std::slice::from_ref(&topic))
        .await
        .expect("subscribe");
    let mut received = Vec::new();
    for _ in 0..3 {
        received.push(receive(&mut subscription).await);
    }
    let messages: Vec<BusMessage> = received
        .iter()
        .map(|delivery| delivery.message.clone())
        .collect();
    assert_eq!(messages, sent);

    // Only the first two are committed: the third comes again to the same group.
    subscription.commit(&received[1]).await.expect("commit");
    subscription.close().await.expect("close");
    let mut resumed = bus
        .subscribe(&group, std::slice::from_ref(&topic))
        .await
        .expect("resubscribe");
    assert_eq!(receive(&mut resumed).await.message, sent[2]);
    resumed.close().await.expect("close");

    // Another group has its own position and gets everything.
    let mut other = bus
        .subscribe(&format!("{names}.group-b"), std::slice::from_ref(&topic))
        .await
        .expect("subscribe other group");
    assert_eq!(receive(&mut other).await.message, sent[0]);
    other.close().await.expect("close");
}

#[tokio::test]
async fn embedded_bus_meets_the_contract() {
    let directory = tempfile::tempdir().expect("tempdir");
    let bus = EmbeddedBus::open(&directory.path().join("bus.db"))
        .await
        .expect("open");
    run_contract(&bus, &testing::unique_name("t.")).await;
}

#[tokio::test]
async fn embedded_bus_refuses_unknown_topics() {
    let directory = tempfile::tempdir().expect("tempdir");
    let bus = EmbeddedBus::open(&directory.path().join("bus.db"))
        .await
        .expect("open");
    let error = bus
        .publish(&[message("never.created", 0)])
        .await
        .expect_err("unknown topic");
    assert!(error.to_string().contains("unknown topic"), "{error}");
}

#[tokio::test]
async fn embedded_bus_keeps_messages_across_restarts() {
    let directory = tempfile::tempdir().expect("tempdir");
    let path = directory.path().join("bus.db");
    let topic = "restart.events".to_owned();
    {
        let bus = EmbeddedBus::open(&path).await.expect("open");
        bus.create_topics(std::slice::from_ref(&topic))
            .await
            .expect("create");
        bus.publish(&[message(&topic, 0)]).await.expect("publish");
    }
    let reopened = EmbeddedBus::open(&path).await.expect("reopen");
    let mut subscription = reopened
        .subscribe("group", std::slice::from_ref(&topic))
        .await
        .expect("subscribe");
    assert_eq!(receive(&mut subscription).await.message, message(&topic, 0));
}

#[tokio::test]
async fn kafka_bus_meets_the_contract() {
    let brokers = testing::kafka_brokers();
    let config = KafkaConfig {
        brokers: Some(brokers.clone()),
        partitions: 1,
        idempotent_producer: false,
        debug: std::env::var("MI_TEST_KAFKA_DEBUG").ok(),
        ..KafkaConfig::default()
    };
    let bus = KafkaBus::new(&brokers, &config).expect("kafka bus");
    run_contract(&bus, &testing::unique_name("t.")).await;
}
