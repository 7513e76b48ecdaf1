//! Fault 2 of issue 13: a consumer is SIGKILLed and its replacement must get the partitions.
//!
//! tansu 0.6.0 expires a member that stopped heartbeating only when another member's request
//! notices it; with librdkafka's 45 s session timeout the replacement got nothing for minutes,
//! with the platform's shorter one it consumes after one session timeout. The restarted
//! replica here rejoins under its old `group.instance.id` (static membership, which this test
//! turns on). The killed member runs in a child process (this test binary again, running
//! [`hold_partitions`]), so that it dies as a crashed service does: no leave, no commit, no
//! last heartbeat.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mi_platform::bus::{BusMessage, EventBus, KafkaBus};
use mi_platform::config::KafkaConfig;
use mi_test_support as testing;

use crate::tansu::DurableTansu;

const SESSION_TIMEOUT: Duration = Duration::from_secs(6);
const INSTANCE: &str = "replica-a";
/// Printed by the child once it consumes: it holds the partitions.
const HOLDING: &str = "holding partitions";

fn config(brokers: &str) -> KafkaConfig {
    KafkaConfig {
        brokers: Some(brokers.to_owned()),
        partitions: 3,
        session_timeout: SESSION_TIMEOUT,
        group_instance_id: Some(INSTANCE.into()),
        ..KafkaConfig::default()
    }
}

fn message(topic: &str, index: usize) -> BusMessage {
    BusMessage {
        topic: topic.to_owned(),
        key: format!("aggregate-{index}"),
        headers: vec![],
        payload: format!("payload-{index}").into_bytes(),
    }
}

/// The member that gets killed: consumes one message, says so, and waits to die.
#[tokio::test]
#[ignore = "run by a_killed_member_is_replaced_within_the_session_timeout in a child process"]
async fn hold_partitions() {
    let variable = |name: &str| std::env::var(name).expect("set by the parent test");
    let (brokers, topic, group) = (
        variable("FAULTS_BROKERS"),
        variable("FAULTS_TOPIC"),
        variable("FAULTS_GROUP"),
    );
    let bus = KafkaBus::new(&brokers, &config(&brokers)).expect("kafka clients");
    let mut subscription = bus
        .subscribe(&group, std::slice::from_ref(&topic))
        .await
        .expect("subscribe");
    let delivery = subscription.next().await.expect("receive");
    subscription.commit(&delivery).await.expect("commit");
    // The parent reads the child's stdout: this line is the message, not a log.
    #[allow(clippy::print_stdout)]
    {
        println!("{HOLDING}");
    }
    std::future::pending::<()>().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_member_is_replaced_within_the_session_timeout() {
    let broker = DurableTansu::start().await;
    let brokers = broker.brokers();
    let bus = KafkaBus::new(&brokers, &config(&brokers)).expect("kafka clients");
    let topic = testing::unique_name("faults.members.");
    let group = testing::unique_name("faults.group.");
    bus.create_topics(std::slice::from_ref(&topic))
        .await
        .expect("create topic");
    for index in 0..3 {
        bus.publish(&[message(&topic, index)])
            .await
            .expect("publish");
    }

    let started_at = Instant::now();
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "member_kill::hold_partitions",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env("FAULTS_BROKERS", &brokers)
        .env("FAULTS_TOPIC", &topic)
        .env("FAULTS_GROUP", &group)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the member");
    let stdout = child.stdout.take().expect("child stdout");
    let holding = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .any(|line| line.contains(HOLDING))
    });
    let holding = tokio::time::timeout(Duration::from_secs(60), holding)
        .await
        .expect("the member consumed nothing within 60 s")
        .expect("reader task");
    assert!(holding, "the member exited before consuming");
    eprintln!(
        "member kill: the first member consumed {:?} after it started",
        started_at.elapsed()
    );
    child.kill().expect("SIGKILL the member");
    child.wait().expect("reap the member");

    // Messages sent after the crash, to every partition, reach the restarted replica.
    for index in 3..12 {
        bus.publish(&[message(&topic, index)])
            .await
            .expect("publish");
    }
    let restarted_at = Instant::now();
    let mut subscription = bus
        .subscribe(&group, std::slice::from_ref(&topic))
        .await
        .expect("subscribe");
    let first = tokio::time::timeout(SESSION_TIMEOUT * 3, subscription.next())
        .await
        .expect("the restarted member got no partitions within three session timeouts")
        .expect("receive");
    eprintln!(
        "member kill: the restarted member received its first message {:?} after it \
         subscribed (session timeout {SESSION_TIMEOUT:?})",
        restarted_at.elapsed()
    );
    assert!(first.offset >= 0);
    subscription.close().await.expect("close");
}
