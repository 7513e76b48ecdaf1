//! The ephemeral store contract: every implementation must pass every check here.

use std::sync::Arc;
use std::time::Duration;

use mi_platform::ephemeral::{EphemeralStore, MemoryEphemeralStore, RedisEphemeralStore};
use mi_platform::redis_connection;
use mi_test_support as testing;

async fn run_contract(store: Arc<dyn EphemeralStore>) {
    store
        .put("answer", b"XK4P", Duration::from_secs(60))
        .await
        .expect("put");
    assert_eq!(
        store.take("answer").await.expect("take").as_deref(),
        Some(&b"XK4P"[..])
    );
    assert_eq!(
        store.take("answer").await.expect("take again"),
        None,
        "a value is read once"
    );
    assert_eq!(store.take("never-stored").await.expect("take"), None);

    store
        .put("replaced", b"first", Duration::from_secs(60))
        .await
        .expect("put");
    store
        .put("replaced", b"second", Duration::from_secs(60))
        .await
        .expect("put");
    assert_eq!(
        store.take("replaced").await.expect("take").as_deref(),
        Some(&b"second"[..])
    );

    store
        .put("short", b"gone", Duration::from_millis(100))
        .await
        .expect("put");
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(
        store.take("short").await.expect("take"),
        None,
        "an expired value is gone"
    );

    // Concurrent readers: exactly one gets the value.
    store
        .put("race", b"once", Duration::from_secs(60))
        .await
        .expect("put");
    // Collected first: every task is spawned before any is awaited, so they really race.
    let readers: Vec<_> = (0..20)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.take("race").await.expect("take").is_some() })
        })
        .collect();
    let mut winners = 0;
    for reader in readers {
        if reader.await.expect("join") {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);

    // `get` reads without consuming; missing and expired keys read as nothing.
    store
        .put("kept", b"still here", Duration::from_secs(60))
        .await
        .expect("put");
    for _ in 0..2 {
        assert_eq!(
            store.get("kept").await.expect("get").as_deref(),
            Some(&b"still here"[..]),
            "get does not consume"
        );
    }
    assert_eq!(
        store.take("kept").await.expect("take").as_deref(),
        Some(&b"still here"[..]),
        "take still sees a value that was read with get"
    );
    assert_eq!(store.get("never-stored").await.expect("get"), None);
    store
        .put("fleeting", b"soon gone", Duration::from_millis(100))
        .await
        .expect("put");
    assert!(store.get("fleeting").await.expect("get").is_some());
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(
        store.get("fleeting").await.expect("get"),
        None,
        "get does not see an expired value"
    );

    // `put_if_absent` stores only where nothing unexpired is; racing callers: one wins.
    assert!(
        store
            .put_if_absent("mark", b"first", Duration::from_millis(200))
            .await
            .expect("put_if_absent")
    );
    assert!(
        !store
            .put_if_absent("mark", b"second", Duration::from_secs(60))
            .await
            .expect("put_if_absent"),
        "a present key is kept"
    );
    assert_eq!(
        store.get("mark").await.expect("get").as_deref(),
        Some(&b"first"[..])
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert!(
        store
            .put_if_absent("mark", b"third", Duration::from_secs(60))
            .await
            .expect("put_if_absent"),
        "an expired key is replaced, and its ttl does not grow meanwhile"
    );
    let markers: Vec<_> = (0..20)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                store
                    .put_if_absent("contended-mark", b"1", Duration::from_secs(60))
                    .await
                    .expect("put_if_absent")
            })
        })
        .collect();
    let mut stored = 0;
    for marker in markers {
        if marker.await.expect("join") {
            stored += 1;
        }
    }
    assert_eq!(stored, 1);

    // Counters count from 1 and read back as decimal ASCII.
    for expected in 1..=3 {
        assert_eq!(
            store
                .increment("attempts", Duration::from_secs(60))
                .await
                .expect("increment"),
            expected
        );
    }
    assert_eq!(
        store.get("attempts").await.expect("get").as_deref(),
        Some(&b"3"[..]),
        "a counter reads as its decimal text"
    );

    // Each increment resets the expiry; an expired counter restarts at 1.
    store
        .increment("lapsing", Duration::from_secs(60))
        .await
        .expect("increment");
    assert_eq!(
        store
            .increment("lapsing", Duration::from_millis(100))
            .await
            .expect("increment"),
        2
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(
        store.get("lapsing").await.expect("get"),
        None,
        "the last increment's ttl applies"
    );
    assert_eq!(
        store
            .increment("lapsing", Duration::from_secs(60))
            .await
            .expect("increment"),
        1,
        "an expired counter restarts"
    );

    // A value that is not a counter is left alone.
    store
        .put("not-a-count", b"XK4P", Duration::from_secs(60))
        .await
        .expect("put");
    assert!(
        store
            .increment("not-a-count", Duration::from_secs(60))
            .await
            .is_err(),
        "only counters can be incremented"
    );
    assert_eq!(
        store.get("not-a-count").await.expect("get").as_deref(),
        Some(&b"XK4P"[..])
    );

    // Concurrent increments: every caller gets a distinct count.
    let incrementers: Vec<_> = (0..50)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                store
                    .increment("contended", Duration::from_secs(60))
                    .await
                    .expect("increment")
            })
        })
        .collect();
    let mut counts = Vec::new();
    for incrementer in incrementers {
        counts.push(incrementer.await.expect("join"));
    }
    counts.sort_unstable();
    assert_eq!(counts, (1..=50).collect::<Vec<u64>>());
    assert_eq!(
        store.get("contended").await.expect("get").as_deref(),
        Some(&b"50"[..])
    );

    // `delete` removes values and counters and ignores missing keys.
    store
        .put("doomed-value", b"bye", Duration::from_secs(60))
        .await
        .expect("put");
    store
        .increment("doomed-counter", Duration::from_secs(60))
        .await
        .expect("increment");
    store
        .delete(&["doomed-value", "doomed-counter", "never-stored"])
        .await
        .expect("delete");
    assert_eq!(store.get("doomed-value").await.expect("get"), None);
    assert_eq!(store.take("doomed-value").await.expect("take"), None);
    assert_eq!(store.get("doomed-counter").await.expect("get"), None);
    assert_eq!(
        store
            .increment("doomed-counter", Duration::from_secs(60))
            .await
            .expect("increment"),
        1,
        "a deleted counter restarts"
    );
    store.delete(&[]).await.expect("delete nothing");
    store
        .delete(&["never-stored"])
        .await
        .expect("delete a missing key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_meets_the_contract() {
    run_contract(Arc::new(MemoryEphemeralStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_store_meets_the_contract() {
    let prefix = testing::unique_name("test:") + ":";
    run_contract(Arc::new(RedisEphemeralStore::new(
        redis_connection::connect(&testing::redis_url())
            .await
            .expect("redis"),
        &prefix,
    )))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_store_meets_the_contract_on_a_cluster() {
    let urls = testing::redis_cluster_urls();
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    let prefix = testing::unique_name("test:") + ":";
    let connection = redis_connection::connect_cluster(&urls, None, Duration::from_secs(2))
        .await
        .expect("redis cluster");
    run_contract(Arc::new(RedisEphemeralStore::new(connection, &prefix))).await;
}
