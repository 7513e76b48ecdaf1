//! The verification store contract, on SQLite and PostgreSQL.

use std::time::Duration;

use mi_contracts::{Channel, Purpose, UnixMillis};
use mi_platform::db::Database;
use mi_platform::outbox::Outbox;
use mi_test_support as testing;
use mi_verification::domain::{
    CodeIssued, Destination, Status, Verification, VerificationApproved, VerificationLocked,
    VerificationStore,
};
use mi_verification::storage::SqlVerificationStore;

const MAX_ATTEMPTS: u32 = 3;

fn verification(id: &str, expires_at: UnixMillis) -> Verification {
    Verification {
        verification_id: id.to_owned(),
        destination: Destination::parse("+8613800138000", Channel::Sms).expect("destination"),
        // Read back as stored: a send to a challenge contact.
        destination_hidden: true,
        channel: Channel::Sms,
        purpose: Purpose::SignUp,
        code_hash: vec![1, 2, 3],
        status: Status::Pending,
        attempts: 0,
        send_count: 1,
        locale: "en".into(),
        expires_at,
        created_at: UnixMillis::now(),
    }
}

/// The event of a send; its content does not matter to the store.
fn issued(verification: &Verification) -> CodeIssued {
    CodeIssued::new(verification, Vec::new())
}

async fn outbox_rows(database: &Database) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
        .fetch_one(database.pool())
        .await
        .expect("count")
}

async fn stored(store: &SqlVerificationStore, id: &str) -> Verification {
    store.get(id).await.expect("get").expect("row")
}

async fn run_contract(database: Database) {
    database
        .migrate(sqlx::migrate!("./migrations"))
        .await
        .expect("migrate");
    let store = SqlVerificationStore::new(
        database.clone(),
        // Nothing listens in these tests: the wake-ups only have to be sendable.
        Outbox::unlistened("verification", "verification.events", &database),
    );
    let now = UnixMillis::now();

    // Insert and read back, with the event written alongside.
    let pending = verification(
        "00000000-0000-7000-8000-000000000001",
        now.saturating_add(Duration::from_secs(60)),
    );
    let approved = VerificationApproved::from(&pending);
    let locked = VerificationLocked::from(&pending);
    store
        .insert(&pending, &issued(&pending))
        .await
        .expect("insert");
    assert_eq!(
        store.get(&pending.verification_id).await.expect("get"),
        Some(pending.clone())
    );
    assert_eq!(
        outbox_rows(&database).await,
        1,
        "the event is written with the row"
    );
    assert!(
        store
            .get("00000000-0000-7000-8000-00000000ffff")
            .await
            .expect("get")
            .is_none()
    );

    // Wrong attempts count; approval needs the current hash and room under the maximum.
    let id = &pending.verification_id;
    assert_eq!(
        store.count_wrong_attempt(id, now).await.expect("count"),
        Some(1)
    );
    assert!(
        !store
            .approve(id, &[9, 9], MAX_ATTEMPTS, now, &approved)
            .await
            .expect("approve"),
        "another code"
    );
    assert!(
        store
            .approve(id, &pending.code_hash, MAX_ATTEMPTS, now, &approved)
            .await
            .expect("approve")
    );
    let after = stored(&store, id).await;
    assert_eq!(
        (after.status, after.attempts),
        (Status::Approved, 2),
        "the approving attempt counts"
    );
    assert!(
        !store
            .approve(id, &pending.code_hash, MAX_ATTEMPTS, now, &approved)
            .await
            .expect("again"),
        "once"
    );
    assert!(!store.lock(id, now, &locked).await.expect("lock approved"));
    assert_eq!(
        store.count_wrong_attempt(id, now).await.expect("count"),
        None
    );
    assert_eq!(
        outbox_rows(&database).await,
        2,
        "only the successful change wrote an event"
    );

    // No approval once the maximum is counted.
    let exhausted = verification(
        "00000000-0000-7000-8000-000000000005",
        now.saturating_add(Duration::from_secs(60)),
    );
    store
        .insert(&exhausted, &issued(&exhausted))
        .await
        .expect("insert");
    for expected in 1..=MAX_ATTEMPTS {
        assert_eq!(
            store
                .count_wrong_attempt(&exhausted.verification_id, now)
                .await
                .expect("count"),
            Some(expected)
        );
    }
    let late = store.approve(
        &exhausted.verification_id,
        &exhausted.code_hash,
        MAX_ATTEMPTS,
        now,
        &approved,
    );
    assert!(!late.await.expect("approve"));

    // Resend replaces the code, resets attempts and counts the send, up to a limit.
    let resent = verification(
        "00000000-0000-7000-8000-000000000004",
        now.saturating_add(Duration::from_secs(60)),
    );
    store
        .insert(&resent, &issued(&resent))
        .await
        .expect("insert");
    store
        .count_wrong_attempt(&resent.verification_id, now)
        .await
        .expect("count");
    let reissued = Verification {
        channel: Channel::Voice,
        code_hash: vec![9, 9],
        send_count: 2,
        locale: "zh-CN".into(),
        expires_at: now.saturating_add(Duration::from_secs(120)),
        ..resent.clone()
    };
    assert!(
        store
            .reissue(&reissued, 2, now, &issued(&reissued))
            .await
            .expect("reissue")
    );
    let after = stored(&store, &resent.verification_id).await;
    assert_eq!(
        (after.channel, after.attempts, after.send_count),
        (Channel::Voice, 0, 2)
    );
    assert_eq!(
        (after.code_hash, after.locale, after.expires_at),
        (
            vec![9, 9],
            "zh-CN".to_owned(),
            now.saturating_add(Duration::from_secs(120))
        )
    );
    assert!(
        !store
            .reissue(&reissued, 2, now, &issued(&reissued))
            .await
            .expect("reissue"),
        "send limit"
    );
    let old_code = store.approve(
        &resent.verification_id,
        &resent.code_hash,
        MAX_ATTEMPTS,
        now,
        &approved,
    );
    assert!(
        !old_code.await.expect("approve"),
        "the replaced code no longer approves"
    );

    // Expired and locked verifications take no attempts.
    let expired = verification(
        "00000000-0000-7000-8000-000000000002",
        now.saturating_sub(Duration::from_millis(1)),
    );
    store
        .insert(&expired, &issued(&expired))
        .await
        .expect("insert");
    assert_eq!(
        store
            .count_wrong_attempt(&expired.verification_id, now)
            .await
            .expect("count"),
        None
    );
    assert!(
        !store
            .approve(
                &expired.verification_id,
                &expired.code_hash,
                MAX_ATTEMPTS,
                now,
                &approved
            )
            .await
            .expect("approve")
    );
    let lockable = verification(
        "00000000-0000-7000-8000-000000000003",
        now.saturating_add(Duration::from_secs(60)),
    );
    store
        .insert(&lockable, &issued(&lockable))
        .await
        .expect("insert");
    assert!(
        store
            .lock(&lockable.verification_id, now, &locked)
            .await
            .expect("lock")
    );
    assert_eq!(
        store
            .count_wrong_attempt(&lockable.verification_id, now)
            .await
            .expect("count"),
        None
    );
    assert_eq!(
        stored(&store, &lockable.verification_id).await.status,
        Status::Locked
    );
}

/// The retention job deletes a verification once its code expired more than the configured
/// time ago, and keeps recent and pending ones.
async fn retention_contract(database: Database) {
    database
        .migrate(sqlx::migrate!("./migrations"))
        .await
        .expect("migrate");
    let store = SqlVerificationStore::new(
        database.clone(),
        Outbox::unlistened("verification", "verification.events", &database),
    );
    const DAY: Duration = Duration::from_secs(24 * 3600);
    let now = UnixMillis::now();
    let kept_for = 30 * DAY;
    let stale = [
        (
            "00000000-0000-7000-8000-000000000011",
            now.saturating_sub(31 * DAY),
        ),
        (
            "00000000-0000-7000-8000-000000000012",
            now.saturating_sub(kept_for + Duration::from_secs(1)),
        ),
    ];
    let kept = [
        (
            "00000000-0000-7000-8000-000000000013",
            now.saturating_sub(29 * DAY),
        ),
        // Pending: its code still works.
        (
            "00000000-0000-7000-8000-000000000014",
            now.saturating_add(Duration::from_secs(600)),
        ),
    ];
    for (id, expires_at) in stale.iter().chain(&kept) {
        let row = verification(id, *expires_at);
        store.insert(&row, &issued(&row)).await.expect("insert");
    }

    let rules = mi_verification::storage::expiries(kept_for);
    let deleted = mi_platform::retention::sweep(&database, &rules, now)
        .await
        .expect("sweep");
    assert_eq!(deleted, 2, "the two whose code expired over 30 days ago");
    for (id, _) in stale {
        assert!(store.get(id).await.expect("get").is_none(), "{id} deleted");
    }
    for (id, _) in kept {
        assert!(store.get(id).await.expect("get").is_some(), "{id} kept");
    }
}

#[tokio::test]
async fn sqlite_retention_deletes_old_verifications_only() {
    let directory = tempfile::tempdir().expect("tempdir");
    retention_contract(
        Database::connect_sqlite(&directory.path().join("v.db"))
            .await
            .expect("sqlite"),
    )
    .await;
}

#[tokio::test]
async fn postgres_retention_deletes_old_verifications_only() {
    let url = format!("{}/{}", testing::postgres_url(), testing::unique_name("t_"));
    retention_contract(Database::connect_postgres(&url, 4).await.expect("postgres")).await;
}

#[tokio::test]
async fn sqlite_store_meets_the_contract() {
    let directory = tempfile::tempdir().expect("tempdir");
    run_contract(
        Database::connect_sqlite(&directory.path().join("v.db"))
            .await
            .expect("sqlite"),
    )
    .await;
}

#[tokio::test]
async fn postgres_store_meets_the_contract() {
    let url = format!("{}/{}", testing::postgres_url(), testing::unique_name("t_"));
    run_contract(Database::connect_postgres(&url, 4).await.expect("postgres")).await;
}
