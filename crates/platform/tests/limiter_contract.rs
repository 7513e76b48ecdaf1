//! The rate limiter contract: every implementation must pass every check here.

use std::sync::Arc;
use std::time::Duration;

use mi_platform::limiter::{Limit, MemoryRateLimiter, RateLimiter, RedisRateLimiter, grouped};
use mi_platform::redis_connection;
use mi_test_support as testing;

fn one(key: &str, max: u32, window: Duration) -> Vec<Limit> {
    vec![Limit::new(key, max, window)]
}

async fn allows_up_to_max_then_refuses_with_retry_time(limiter: &dyn RateLimiter) {
    let limits = one("max", 3, Duration::from_secs(60));
    for expected_remaining in [2, 1, 0] {
        let decision = limiter.acquire(&limits).await.expect("acquire");
        assert!(decision.allowed);
        assert_eq!(decision.remaining, expected_remaining);
        assert_eq!(decision.retry_after, Duration::ZERO);
    }
    let refused = limiter.acquire(&limits).await.expect("acquire");
    assert!(!refused.allowed);
    assert_eq!(refused.remaining, 0);
    assert_eq!(refused.refused_by, Some(0));
    assert!(
        refused.retry_after > Duration::from_secs(55),
        "{:?}",
        refused.retry_after
    );
    assert!(
        refused.retry_after <= Duration::from_secs(60),
        "{:?}",
        refused.retry_after
    );
}

async fn keys_are_independent(limiter: &dyn RateLimiter) {
    let window = Duration::from_secs(60);
    assert!(
        limiter
            .acquire(&one("independent-a", 1, window))
            .await
            .expect("a")
            .allowed
    );
    assert!(
        limiter
            .acquire(&one("independent-b", 1, window))
            .await
            .expect("b")
            .allowed
    );
    assert!(
        !limiter
            .acquire(&one("independent-a", 1, window))
            .await
            .expect("a again")
            .allowed
    );
}

async fn window_slides(limiter: &dyn RateLimiter) {
    let limits = one("slide", 2, Duration::from_millis(400));
    assert!(limiter.acquire(&limits).await.expect("1").allowed);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(limiter.acquire(&limits).await.expect("2").allowed);
    let refused = limiter.acquire(&limits).await.expect("3");
    assert!(!refused.allowed);
    // The first call leaves the window about 150 ms from now, the second about 400 ms.
    assert!(
        refused.retry_after <= Duration::from_millis(160),
        "{:?}",
        refused.retry_after
    );
    tokio::time::sleep(refused.retry_after + Duration::from_millis(20)).await;
    assert!(limiter.acquire(&limits).await.expect("4").allowed);
    assert!(!limiter.acquire(&limits).await.expect("5").allowed);
}

/// Several limits are counted together or not at all, and usage reads without counting.
async fn limits_are_all_or_nothing(limiter: &dyn RateLimiter) {
    let hour = Duration::from_secs(3600);
    let minute_key = grouped("both", "minute");
    let hour_key = grouped("both", "hour");
    let minute = Limit::new(&minute_key, 1, Duration::from_secs(60));
    let hourly = Limit::new(&hour_key, 5, hour);
    let first = limiter
        .acquire(&[minute.clone(), hourly.clone()])
        .await
        .expect("first");
    assert!(first.allowed);
    assert_eq!(first.remaining, 0, "the tightest limit has no room left");
    let refused = limiter.acquire(&[hourly, minute]).await.expect("second");
    assert!(!refused.allowed);
    assert_eq!(refused.refused_by, Some(1));
    assert_eq!(
        limiter.usage(&[&hour_key], hour).await.expect("usage"),
        1,
        "a refused call counts nowhere"
    );
    assert_eq!(
        limiter.usage(&[&hour_key], hour).await.expect("usage"),
        1,
        "usage does not count"
    );
    assert_eq!(
        limiter
            .usage(&[&grouped("both", "never-used")], hour)
            .await
            .expect("usage"),
        0
    );
    assert_eq!(
        limiter
            .usage(
                &[&grouped("both", "never-used"), &hour_key, &minute_key],
                hour
            )
            .await
            .expect("usage"),
        1,
        "usage of several keys is the largest"
    );
    let denied = limiter
        .acquire(&one("denied", 0, hour))
        .await
        .expect("deny");
    assert!(!denied.allowed);
    assert_eq!(denied.retry_after, hour);
}

/// Many concurrent callers, spread over several limiter instances (replicas), never get more
/// than `max` calls through.
async fn concurrent_callers_never_exceed_the_quota(replicas: &[Arc<dyn RateLimiter>]) {
    // Collected first: every call is spawned before any is awaited, so they really race.
    let calls: Vec<_> = (0..200)
        .map(|index| {
            let limiter = Arc::clone(&replicas[index % replicas.len()]);
            let limits = vec![
                Limit::new(grouped("concurrent", "all"), 7, Duration::from_secs(60)),
                Limit::new(
                    grouped("concurrent", &format!("client-{}", index % 3)),
                    100,
                    Duration::from_secs(60),
                ),
            ];
            tokio::spawn(async move { limiter.acquire(&limits).await.expect("acquire").allowed })
        })
        .collect();
    let mut allowed = 0;
    for call in calls {
        if call.await.expect("join") {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 7);
}

/// Keys counted together must be in one group: on Redis Cluster others could be in different
/// slots, so every limiter refuses them, before counting anything.
async fn keys_of_different_groups_are_refused(limiter: &dyn RateLimiter) {
    let minute = Duration::from_secs(60);
    let mixed = [
        Limit::new(grouped("mixed", "a"), 1, minute),
        Limit::new("mixed-b", 1, minute),
    ];
    let error = limiter.acquire(&mixed).await.expect_err("mixed groups");
    assert!(error.to_string().contains("one group"), "{error}");
    assert!(
        limiter
            .usage(&["mixed-b", "mixed-c"], minute)
            .await
            .is_err()
    );
    assert_eq!(
        limiter
            .usage(&[&grouped("mixed", "a")], minute)
            .await
            .expect("usage"),
        0,
        "a refused call counts nowhere"
    );
}

async fn run_contract(replicas: Vec<Arc<dyn RateLimiter>>) {
    let limiter = &*replicas[0];
    allows_up_to_max_then_refuses_with_retry_time(limiter).await;
    keys_are_independent(limiter).await;
    window_slides(limiter).await;
    limits_are_all_or_nothing(limiter).await;
    keys_of_different_groups_are_refused(limiter).await;
    concurrent_callers_never_exceed_the_quota(&replicas).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_limiter_meets_the_contract() {
    run_contract(vec![Arc::new(MemoryRateLimiter::new())]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_limiter_meets_the_contract_across_replicas() {
    let url = testing::redis_url();
    let prefix = testing::unique_name("test:") + ":";
    let mut replicas: Vec<Arc<dyn RateLimiter>> = Vec::new();
    for _ in 0..3 {
        replicas.push(Arc::new(RedisRateLimiter::new(
            redis_connection::connect(&url).await.expect("redis"),
            &prefix,
        )));
    }
    run_contract(replicas).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_limiter_meets_the_contract_on_a_cluster_across_replicas() {
    let urls = testing::redis_cluster_urls();
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    let prefix = testing::unique_name("test:") + ":";
    let mut replicas: Vec<Arc<dyn RateLimiter>> = Vec::new();
    for _ in 0..3 {
        let connection = redis_connection::connect_cluster(&urls, None, Duration::from_secs(2))
            .await
            .expect("redis cluster");
        replicas.push(Arc::new(RedisRateLimiter::new(connection, &prefix)));
    }
    run_contract(replicas).await;
}
