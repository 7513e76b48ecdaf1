//! Retention of the SQL notification store on both backends (`MI_TEST_POSTGRES_URL`;
//! scripts/test starts one): finished deliveries and dev-inbox messages go after their time,
//! a pending delivery never does, and a redelivered event still finds its record meanwhile.

use std::time::Duration;

use mi_contracts::{Channel, UnixMillis};
use mi_platform::db::Database;
use mi_platform::outbox::Outbox;

use super::{SqlNotificationStore, expiries};
use crate::domain::{
    DeliveryStart, InboxFilter, MessageDelivered, MessageKind, NotificationStore, OutgoingMessage,
};

const DAY: Duration = Duration::from_secs(24 * 3600);
const DELIVERIES_KEPT: Duration = Duration::from_secs(30 * 24 * 3600);
const INBOX_KEPT: Duration = Duration::from_secs(7 * 24 * 3600);

fn message(destination: &str) -> OutgoingMessage {
    OutgoingMessage {
        destination: destination.to_owned(),
        channel: Channel::Sms,
        subject: "code".into(),
        body: "123456".into(),
    }
}

fn delivered(source_event_id: &str, destination: &str, transport: &str) -> MessageDelivered {
    MessageDelivered {
        message_id: uuid::Uuid::now_v7().to_string(),
        source_event_id: source_event_id.to_owned(),
        destination: destination.to_owned(),
        transport: transport.to_owned(),
        kind: MessageKind::Code,
    }
}

async fn count(database: &Database, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(database.pool())
        .await
        .expect("count")
}

async fn finished_deliveries_and_inbox_messages_go_pending_ones_stay(database: Database) {
    database
        .migrate(sqlx::migrate!("./migrations"))
        .await
        .expect("migrate");
    let store = SqlNotificationStore::new(
        database.clone(),
        Outbox::unlistened("notification", "notification.events", &database),
    );
    // Delivered to the dev inbox, failed for good, and still pending (its event is retried).
    let to_inbox = message("+8613800138001");
    assert!(
        store
            .complete(
                &to_inbox,
                &delivered("event-delivered", &to_inbox.destination, "dev-inbox"),
                true
            )
            .await
            .expect("complete")
    );
    let (failing, pending) = (message("+8613800138002"), message("+8613800138003"));
    for (event, outgoing) in [("event-failed", &failing), ("event-pending", &pending)] {
        assert_eq!(
            store
                .start_delivery(event, outgoing, "http")
                .await
                .expect("start"),
            DeliveryStart::Attempt(1)
        );
    }
    assert_eq!(
        store
            .fail("event-failed", "provider down")
            .await
            .expect("fail"),
        1
    );
    let rules = expiries(DELIVERIES_KEPT, INBOX_KEPT);

    // Eight days on, the inbox message is gone; every delivery record stays, so the delivered
    // event, redelivered, is still not sent again.
    let eight_days_on = UnixMillis::now().saturating_add(8 * DAY);
    let deleted = mi_platform::retention::sweep(&database, &rules, eight_days_on)
        .await
        .expect("sweep");
    assert_eq!(deleted, 1, "the inbox message");
    let filter = InboxFilter {
        destination: None,
        kind: None,
    };
    assert!(
        store
            .list_inbox(&filter, None, 10)
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(count(&database, "deliveries").await, 3);
    assert_eq!(
        store
            .start_delivery("event-delivered", &to_inbox, "dev-inbox")
            .await
            .expect("redelivered"),
        DeliveryStart::Finished
    );

    // A month and a day on, the delivered and failed records go; the pending one stays and
    // its next attempt counts on.
    let a_month_on = UnixMillis::now().saturating_add(31 * DAY);
    let deleted = mi_platform::retention::sweep(&database, &rules, a_month_on)
        .await
        .expect("sweep");
    assert_eq!(deleted, 2, "the delivered and the failed records");
    assert_eq!(count(&database, "deliveries").await, 1);
    assert_eq!(
        store
            .start_delivery("event-pending", &pending, "http")
            .await
            .expect("retried"),
        DeliveryStart::Attempt(2)
    );
}

#[tokio::test]
async fn sqlite_retention() {
    let directory = tempfile::tempdir().expect("tempdir");
    let database = Database::connect_sqlite(&directory.path().join("notification.db"))
        .await
        .expect("sqlite");
    finished_deliveries_and_inbox_messages_go_pending_ones_stay(database).await;
}

#[tokio::test]
async fn postgres_retention() {
    let url = format!(
        "{}/{}",
        mi_test_support::postgres_url(),
        mi_test_support::unique_name("t_")
    );
    let database = Database::connect_postgres(&url, 4).await.expect("postgres");
    finished_deliveries_and_inbox_messages_go_pending_ones_stay(database).await;
}
