//! The ephemeral store contract: every implementation must pass every check here.

use std::sync::Arc;
use std::time::Duration;

use mi_platform::ephemeral::{EphemeralStore, MemoryEphemeralStore, RedisEphemeralStore};
use mi_platform::{redis_connection, testing};

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
    let readers = (0..20).map(|_| {
        let store = Arc::clone(&store);
        tokio::spawn(async move { store.take("race").await.expect("take").is_some() })
    });
    let mut winners = 0;
    for reader in readers {
        if reader.await.expect("join") {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
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
