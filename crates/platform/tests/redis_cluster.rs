//! The limiter and the ephemeral store on a real three-node Redis Cluster (scripts/test starts
//! one on 127.0.0.1:7101-7103): keys counted alone, one per account or client, spread over the
//! nodes and each counts exactly on its node; a group's keys share one slot, so one script
//! counts them all at once; and the platform connects to the cluster from its configuration.

use std::collections::BTreeSet;
use std::time::Duration;

use figment::Figment;
use mi_platform::Platform;
use mi_platform::config::ConfigLoader;
use mi_platform::ephemeral::{EphemeralStore, RedisEphemeralStore};
use mi_platform::limiter::{Limit, RateLimiter, RedisRateLimiter, grouped};
use mi_platform::redis_connection::{self, RedisConnection};
use mi_test_support as testing;

const HOUR: Duration = Duration::from_secs(3600);

async fn cluster(urls: &[String]) -> RedisConnection {
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    redis_connection::connect_cluster(&urls, None, Duration::from_secs(2))
        .await
        .expect("redis cluster")
}

/// The keys under `prefix` that each node holds, asked of each node directly.
async fn keys_per_node(urls: &[String], prefix: &str) -> Vec<BTreeSet<String>> {
    let mut per_node = Vec::new();
    for url in urls {
        let client = redis::Client::open(url.as_str()).expect("node url");
        let mut node = client
            .get_multiplexed_async_connection()
            .await
            .expect("node");
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query_async(&mut node)
            .await
            .expect("KEYS");
        per_node.push(keys.into_iter().collect());
    }
    per_node
}

#[tokio::test]
async fn limits_of_different_clients_land_on_different_nodes_and_count_exactly_there() {
    let urls = testing::redis_cluster_urls();
    let prefix = testing::unique_name("test:") + ":";
    let limiter = RedisRateLimiter::new(cluster(&urls).await, &prefix);

    for client in 0..30 {
        let limit = [Limit::new(
            format!("check:client-hour:198.51.100.{client}"),
            2,
            HOUR,
        )];
        for expected in [true, true, false] {
            let decision = limiter.acquire(&limit).await.expect("acquire");
            assert_eq!(decision.allowed, expected, "client {client}");
        }
        let key = limit[0].key.as_str();
        assert_eq!(limiter.usage(&[key], HOUR).await.expect("usage"), 2);
    }

    let per_node = keys_per_node(&urls, &prefix).await;
    let counts: Vec<usize> = per_node.iter().map(BTreeSet::len).collect();
    assert_eq!(counts.iter().sum::<usize>(), 30, "{counts:?}");
    assert!(
        counts.iter().all(|&count| count > 0),
        "30 clients' keys should spread over all three nodes: {counts:?}"
    );
}

#[tokio::test]
async fn a_groups_keys_share_one_node_and_are_counted_at_once() {
    let urls = testing::redis_cluster_urls();
    let prefix = testing::unique_name("test:") + ":";
    let limiter = RedisRateLimiter::new(cluster(&urls).await, &prefix);

    // As a send: its destination's budget, its client's and the global one, all or none.
    let mut allowed = 0;
    for destination in 0..12 {
        let limits = [
            Limit::new(
                grouped(
                    "send",
                    &format!("destination-hour:+861380013{destination:04}"),
                ),
                1,
                HOUR,
            ),
            Limit::new(
                grouped("send", &format!("client-hour:192.0.2.{}", destination % 2)),
                4,
                HOUR,
            ),
            Limit::new(grouped("send", "global-hour"), 6, HOUR),
        ];
        if limiter.acquire(&limits).await.expect("acquire").allowed {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 6, "the global budget bounds the sends");
    let clients = [
        grouped("send", "client-hour:192.0.2.0"),
        grouped("send", "client-hour:192.0.2.1"),
    ];
    let clients: Vec<&str> = clients.iter().map(String::as_str).collect();
    assert_eq!(limiter.usage(&clients, HOUR).await.expect("usage"), 3);

    let per_node = keys_per_node(&urls, &prefix).await;
    let holding: Vec<&BTreeSet<String>> = per_node.iter().filter(|keys| !keys.is_empty()).collect();
    assert_eq!(holding.len(), 1, "one node holds the group: {per_node:?}");
    // 6 destinations counted, 2 clients, the global budget; refused calls count nowhere.
    assert_eq!(holding[0].len(), 9, "{per_node:?}");
}

#[tokio::test]
async fn ephemeral_values_and_counters_of_many_accounts_spread_and_clear_together() {
    let urls = testing::redis_cluster_urls();
    let prefix = testing::unique_name("test:") + ":";
    let store = RedisEphemeralStore::new(cluster(&urls).await, &prefix);

    let keys: Vec<String> = (0..30)
        .map(|account| format!("signin:failures:account-{account}"))
        .collect();
    for key in &keys {
        assert_eq!(store.increment(key, HOUR).await.expect("increment"), 1);
        assert_eq!(store.increment(key, HOUR).await.expect("increment"), 2);
    }
    let counts: Vec<usize> = keys_per_node(&urls, &prefix)
        .await
        .iter()
        .map(BTreeSet::len)
        .collect();
    assert!(
        counts.iter().all(|&count| count > 0),
        "30 accounts' counters should spread over all three nodes: {counts:?}"
    );

    // One delete of keys on every node (the cluster client splits it by slot).
    let all: Vec<&str> = keys.iter().map(String::as_str).collect();
    store.delete(&all).await.expect("delete");
    for key in &keys {
        assert_eq!(store.get(key).await.expect("get"), None, "{key}");
    }
}

#[tokio::test]
async fn the_platform_uses_the_cluster_its_configuration_names() {
    let urls = testing::redis_cluster_urls();
    let prefix = testing::unique_name("test:") + ":";
    let data = tempfile::tempdir().expect("tempdir");
    let config = ConfigLoader::from_figment(Figment::new())
        .with_value("data_dir", data.path().display().to_string())
        .with_value("redis.cluster_urls", urls.join(","))
        .with_value("redis.key_prefix", prefix.as_str())
        .infra()
        .expect("config");
    let platform = Platform::connect(config).await.expect("platform");

    let limit = [Limit::new("captcha:client-hour:203.0.113.9", 1, HOUR)];
    assert!(platform.limiter.acquire(&limit).await.expect("1").allowed);
    assert!(!platform.limiter.acquire(&limit).await.expect("2").allowed);
    platform
        .ephemeral
        .put("captcha:answer", b"XK4P", HOUR)
        .await
        .expect("put");
    let per_node = keys_per_node(&urls, &prefix).await;
    let stored: usize = per_node.iter().map(BTreeSet::len).sum();
    assert_eq!(stored, 2, "both in the cluster: {per_node:?}");
}
