//! The verification store contract, on SQLite and PostgreSQL.

use mi_platform::db::Database;
use mi_platform::outbox::Outbox;
use mi_platform::{clock, testing};
use mi_proto::events::v1::{CodeIssued, VerificationApproved, VerificationLocked};
use mi_verification::domain::{Channel, Destination, Purpose, Status, Verification};
use mi_verification::storage::{SqlVerificationStore, VerificationStore};

fn verification(id: &str, expires_at: i64) -> Verification {
    Verification {
        verification_id: id.to_owned(),
        destination: Destination::parse("+8613800138000", Channel::Sms).expect("destination"),
        channel: Channel::Sms,
        purpose: Purpose::SignUp,
        code_hash: vec![1, 2, 3],
        status: Status::Pending,
        attempts: 0,
        send_count: 1,
        locale: "en".into(),
        expires_at,
        created_at: clock::now_millis(),
    }
}

async fn outbox_rows(database: &Database) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
        .fetch_one(database.pool())
        .await
        .expect("count")
}

async fn run_contract(database: Database) {
    database
        .migrate(sqlx::migrate!("./migrations"))
        .await
        .expect("migrate");
    let store = SqlVerificationStore::new(
        database.clone(),
        Outbox::new("verification", "verification.events"),
    );
    let now = clock::now_millis();

    let pending = verification("00000000-0000-7000-8000-000000000001", now + 60_000);
    store
        .insert(&pending, &CodeIssued::default())
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

    let counted = store
        .count_attempt(&pending.verification_id, now)
        .await
        .expect("count")
        .expect("pending");
    assert_eq!(counted.attempts, 1);
    let counted = store
        .count_attempt(&pending.verification_id, now)
        .await
        .expect("count")
        .expect("pending");
    assert_eq!(counted.attempts, 2);

    assert!(
        store
            .approve(
                &pending.verification_id,
                now,
                &VerificationApproved::default()
            )
            .await
            .expect("approve")
    );
    assert!(
        !store
            .approve(
                &pending.verification_id,
                now,
                &VerificationApproved::default()
            )
            .await
            .expect("approve again")
    );
    assert!(
        !store
            .lock(
                &pending.verification_id,
                now,
                &VerificationLocked::default()
            )
            .await
            .expect("lock approved")
    );
    assert_eq!(
        outbox_rows(&database).await,
        2,
        "only the successful change wrote an event"
    );
    assert!(
        store
            .count_attempt(&pending.verification_id, now)
            .await
            .expect("count")
            .is_none()
    );
    assert_eq!(
        store
            .get(&pending.verification_id)
            .await
            .expect("get")
            .expect("row")
            .status,
        Status::Approved
    );

    let resent = verification("00000000-0000-7000-8000-000000000004", now + 60_000);
    store
        .insert(&resent, &CodeIssued::default())
        .await
        .expect("insert");
    store
        .count_attempt(&resent.verification_id, now)
        .await
        .expect("count")
        .expect("pending");
    let reissued = Verification {
        channel: Channel::Voice,
        code_hash: vec![9, 9],
        send_count: 2,
        locale: "zh-CN".into(),
        expires_at: now + 120_000,
        ..resent.clone()
    };
    assert!(
        store
            .reissue(&reissued, 2, now, &CodeIssued::default())
            .await
            .expect("reissue")
    );
    let stored = store
        .get(&resent.verification_id)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(
        (stored.channel, stored.attempts, stored.send_count),
        (Channel::Voice, 0, 2),
        "attempts reset, one more send"
    );
    assert_eq!(
        (stored.code_hash, stored.locale, stored.expires_at),
        (vec![9, 9], "zh-CN".to_owned(), now + 120_000)
    );
    assert!(
        !store
            .reissue(&reissued, 2, now, &CodeIssued::default())
            .await
            .expect("reissue"),
        "send limit reached"
    );

    let expired = verification("00000000-0000-7000-8000-000000000002", now - 1);
    store
        .insert(&expired, &CodeIssued::default())
        .await
        .expect("insert");
    assert!(
        store
            .count_attempt(&expired.verification_id, now)
            .await
            .expect("count")
            .is_none()
    );
    assert_eq!(
        store
            .get(&expired.verification_id)
            .await
            .expect("get")
            .expect("row")
            .attempts,
        0
    );

    let locked = verification("00000000-0000-7000-8000-000000000003", now + 60_000);
    store
        .insert(&locked, &CodeIssued::default())
        .await
        .expect("insert");
    assert!(
        store
            .lock(&locked.verification_id, now, &VerificationLocked::default())
            .await
            .expect("lock")
    );
    assert!(
        store
            .count_attempt(&locked.verification_id, now)
            .await
            .expect("count")
            .is_none()
    );
    assert_eq!(
        store
            .get(&locked.verification_id)
            .await
            .expect("get")
            .expect("row")
            .status,
        Status::Locked
    );
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
