//! The rate limiter contract: every implementation must pass every check here.

use std::sync::Arc;
use std::time::Duration;

use mi_platform::limiter::{MemoryRateLimiter, Quota, RateLimiter, RedisRateLimiter};
use mi_platform::testing;

async fn allows_up_to_max_then_refuses_with_retry_time(limiter: &dyn RateLimiter) {
    let quota = Quota {
        max: 3,
        window: Duration::from_secs(60),
    };
    for expected_remaining in [2, 1, 0] {
        let decision = limiter.acquire("max", quota).await.expect("acquire");
        assert!(decision.allowed);
        assert_eq!(decision.remaining, expected_remaining);
        assert_eq!(decision.retry_after, Duration::ZERO);
    }
    let refused = limiter.acquire("max", quota).await.expect("acquire");
    assert!(!refused.allowed);
    assert_eq!(refused.remaining, 0);
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
    let quota = Quota {
        max: 1,
        window: Duration::from_secs(60),
    };
    assert!(
        limiter
            .acquire("independent-a", quota)
            .await
            .expect("a")
            .allowed
    );
    assert!(
        limiter
            .acquire("independent-b", quota)
            .await
            .expect("b")
            .allowed
    );
    assert!(
        !limiter
            .acquire("independent-a", quota)
            .await
            .expect("a again")
            .allowed
    );
}

async fn window_slides(limiter: &dyn RateLimiter) {
    let quota = Quota {
        max: 2,
        window: Duration::from_millis(400),
    };
    assert!(limiter.acquire("slide", quota).await.expect("1").allowed);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(limiter.acquire("slide", quota).await.expect("2").allowed);
    let refused = limiter.acquire("slide", quota).await.expect("3");
    assert!(!refused.allowed);
    // The first call leaves the window about 150 ms from now, the second about 400 ms.
    assert!(
        refused.retry_after <= Duration::from_millis(160),
        "{:?}",
        refused.retry_after
    );
    tokio::time::sleep(refused.retry_after + Duration::from_millis(20)).await;
    assert!(limiter.acquire("slide", quota).await.expect("4").allowed);
    assert!(!limiter.acquire("slide", quota).await.expect("5").allowed);
}

/// Many concurrent callers, spread over several limiter instances (replicas), never get more
/// than `max` calls through.
async fn concurrent_callers_never_exceed_the_quota(replicas: &[Arc<dyn RateLimiter>]) {
    let quota = Quota {
        max: 7,
        window: Duration::from_secs(60),
    };
    let calls = (0..200).map(|index| {
        let limiter = Arc::clone(&replicas[index % replicas.len()]);
        tokio::spawn(async move {
            limiter
                .acquire("concurrent", quota)
                .await
                .expect("acquire")
                .allowed
        })
    });
    let mut allowed = 0;
    for call in calls {
        if call.await.expect("join") {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 7);
}

async fn run_contract(replicas: Vec<Arc<dyn RateLimiter>>) {
    let limiter = &*replicas[0];
    allows_up_to_max_then_refuses_with_retry_time(limiter).await;
    keys_are_independent(limiter).await;
    window_slides(limiter).await;
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
        replicas.push(Arc::new(
            RedisRateLimiter::connect(&url, &prefix)
                .await
                .expect("redis"),
        ));
    }
    run_contract(replicas).await;
}
