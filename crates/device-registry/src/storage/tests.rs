//! The SQL stores of locations and sync settings, and the accounts projection, on both
//! backends: what the domain's fakes promise, checked against SQLite and PostgreSQL (`MI_TEST_POSTGRES_URL`; scripts/test starts
//! one). Find Device is switched on with SQL here, as the Find Device switch's own change does.

use std::sync::Arc;
use std::time::Duration;

use mi_contracts::{DeviceInfo, MiId, UnixMillis};
use mi_platform::db::{Backend, Database};
use mi_platform::outbox::Outbox;
use mi_platform::wake::Wake;
use sqlx::Row;

use super::GroupCommitSettings;
use super::{SqlDeviceStore, SqlLocationStore, SqlSyncSettingsStore, expiries};
use crate::domain::events::{Actor, Audience};
use crate::domain::locations::Appended;
use crate::domain::sync_settings::{SyncChange, SyncChoices, SyncEditor, SyncSide, SyncUpdate};
use crate::domain::{
    AccountNews, DeviceStore, Location, LocationSource, LocationStore, NewLink, SyncSettingsStore,
};

const HISTORY: Duration = Duration::from_secs(24 * 60 * 60);

/// The stores over one migrated database.
struct Stores {
    database: Database,
    devices: SqlDeviceStore,
    locations: SqlLocationStore,
    sync: SqlSyncSettingsStore,
    _directory: Option<tempfile::TempDir>,
}

async fn stores(database: Database, directory: Option<tempfile::TempDir>) -> Stores {
    database
        .migrate(sqlx::migrate!("./migrations"))
        .await
        .expect("migrate");
    let outbox = Outbox::unlistened("device", "device.events", &database);
    let writes = GroupCommitSettings {
        max_calls: 64,
        queue: 1000,
        writers: 2,
    };
    // Nothing listens in these tests: the wake-ups only have to be sendable.
    let wake = Wake::new(
        "device_commands",
        database.backend() == Backend::Postgres,
        Duration::from_secs(5),
    );
    Stores {
        devices: SqlDeviceStore::new(
            database.clone(),
            outbox.clone(),
            ("device".into(), wake.clone()),
            writes,
        ),
        locations: SqlLocationStore::new(database.clone(), writes),
        sync: SqlSyncSettingsStore::new(database.clone(), outbox, wake.clone()),
        database,
        _directory: directory,
    }
}

async fn sqlite() -> Stores {
    let directory = tempfile::tempdir().expect("tempdir");
    let database = Database::connect_sqlite(&directory.path().join("device.db"))
        .await
        .expect("sqlite");
    stores(database, Some(directory)).await
}

async fn postgres() -> Stores {
    let url = format!(
        "{}/{}",
        mi_test_support::postgres_url(),
        mi_test_support::unique_name("t_")
    );
    let database = Database::connect_postgres(&url, 8).await.expect("postgres");
    stores(database, None).await
}

/// Runs each scenario on SQLite and on PostgreSQL.
macro_rules! on_both_backends {
    ($($scenario:ident),+ $(,)?) => {
        $(mod $scenario {
            #[tokio::test]
            async fn sqlite() {
                super::$scenario(super::sqlite().await).await;
            }

            #[tokio::test]
            async fn postgres() {
                super::$scenario(super::postgres().await).await;
            }
        })+
    };
}

fn mi_id(raw: u64) -> MiId {
    MiId::new(raw).expect("Mi ID")
}

impl Stores {
    /// Links device `device_id` to account `raw_mi_id`, Find Device on or off.
    async fn device(&self, raw_mi_id: u64, device_id: &str, find_device_on: bool) {
        let info = DeviceInfo {
            device_id: device_id.to_owned(),
            model: "Redmi Note 13".into(),
            os: "HyperOS 2".into(),
            name: device_id.to_owned(),
            ..DeviceInfo::default()
        };
        self.devices
            .link(&NewLink {
                event_id: None,
                mi_id: mi_id(raw_mi_id),
                info: &info,
                linked_at: UnixMillis::now(),
                actor: Actor::Registry,
                account: None,
                restore_command_id: "restore-1".into(),
            })
            .await
            .expect("link");
        sqlx::query(
            "UPDATE devices SET find_device_enabled = $3 WHERE mi_id = $1 AND device_id = $2",
        )
        .bind(mi_id(raw_mi_id).as_i64())
        .bind(device_id)
        .bind(i64::from(find_device_on))
        .execute(self.database.pool())
        .await
        .expect("switch Find Device");
    }

    async fn last_location(&self, raw_mi_id: u64, device_id: &str) -> Option<Location> {
        let device = self
            .devices
            .get(mi_id(raw_mi_id), device_id)
            .await
            .expect("get");
        device.expect("device").find_device.last_location
    }

    async fn history(&self, raw_mi_id: u64, device_id: &str) -> Vec<Location> {
        let since = UnixMillis::now().saturating_sub(HISTORY);
        self.locations
            .history(mi_id(raw_mi_id), device_id, since, None, 1000)
            .await
            .expect("history")
            .expect("device")
    }

    async fn count(&self, statement: &str) -> i64 {
        sqlx::query(statement)
            .fetch_one(self.database.pool())
            .await
            .expect("count")
            .get(0)
    }
}

/// A location measured `minutes_ago` minutes ago, at a latitude that tells it apart.
fn at(minutes_ago: i64, latitude: f64) -> Location {
    Location {
        latitude,
        longitude: 116.4074,
        accuracy_meters: 12.5,
        measured_at: UnixMillis::from_i64(UnixMillis::now().as_i64() - minutes_ago * 60_000),
        source: Some(LocationSource::Wifi),
        battery_percent: Some(64),
    }
}

async fn reports_fill_the_history_and_move_the_last_location_only_forward(stores: Stores) {
    stores.device(1001, "phone-1", true).await;
    let older = at(10, 1.0);
    // Without a battery level nor a source: NULL and empty through the batch statements.
    let newer = Location {
        battery_percent: None,
        source: None,
        ..at(5, 2.0)
    };
    let appended = stores
        .locations
        .append(mi_id(1001), "phone-1", &[older, newer])
        .await
        .unwrap();
    assert_eq!(appended, Appended::Kept(2));
    assert_eq!(stores.last_location(1001, "phone-1").await, Some(newer));

    // An earlier place reported late, and a retry of a kept one: the last location stays, the
    // history gains the late one once.
    let late = at(20, 3.0);
    let appended = stores
        .locations
        .append(mi_id(1001), "phone-1", &[late, newer])
        .await
        .unwrap();
    assert_eq!(appended, Appended::Kept(2));
    assert_eq!(stores.last_location(1001, "phone-1").await, Some(newer));
    assert_eq!(stores.history(1001, "phone-1").await, [newer, older, late]);

    // Pages: before the last one listed.
    let since = UnixMillis::now().saturating_sub(HISTORY);
    let rest = stores
        .locations
        .history(mi_id(1001), "phone-1", since, Some(newer.measured_at), 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rest, [older]);
    let unknown = stores
        .locations
        .history(mi_id(2002), "phone-1", since, None, 10)
        .await
        .unwrap();
    assert_eq!(unknown, None, "another account's device");
}

async fn nothing_is_kept_while_find_device_is_off(stores: Stores) {
    stores.device(1001, "phone-1", false).await;
    let appended = stores
        .locations
        .append(mi_id(1001), "phone-1", &[at(1, 1.0)])
        .await
        .unwrap();
    assert_eq!(appended, Appended::FindDeviceOff);
    let gone = stores
        .locations
        .append(mi_id(1001), "tablet-1", &[at(1, 1.0)])
        .await
        .unwrap();
    assert_eq!(gone, Appended::NoDevice);
    assert_eq!(stores.last_location(1001, "phone-1").await, None);
    assert_eq!(
        stores.count("SELECT COUNT(*) FROM device_locations").await,
        0
    );
}

async fn concurrent_reports_are_all_kept(stores: Stores) {
    let stores = Arc::new(stores);
    for device in 0..10 {
        stores.device(1001, &format!("phone-{device}"), true).await;
    }
    let calls: Vec<_> = (0..200i64)
        .map(|call| {
            let stores = Arc::clone(&stores);
            tokio::spawn(async move {
                let device_id = format!("phone-{}", call % 10);
                let locations = [at(call + 1, 10.0), at(call + 300, 20.0)];
                stores
                    .locations
                    .append(mi_id(1001), &device_id, &locations)
                    .await
            })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap(), Appended::Kept(2));
    }
    assert_eq!(
        stores.count("SELECT COUNT(*) FROM device_locations").await,
        400
    );
    for device in 0..10i64 {
        // The newest of the device's calls (call number `device`) was measured device + 1
        // minutes ago.
        let last = stores
            .last_location(1001, &format!("phone-{device}"))
            .await
            .unwrap();
        let expected = UnixMillis::now().as_i64() - (device + 1) * 60_000;
        assert!(
            (last.measured_at.as_i64() - expected).abs() < 30_000,
            "phone-{device}: {last:?}"
        );
    }
}

async fn locations_go_with_their_device_their_account_and_their_age(stores: Stores) {
    for (raw, device_id) in [(1001, "phone-1"), (1001, "tablet-1"), (2002, "phone-2")] {
        stores.device(raw, device_id, true).await;
        stores
            .locations
            .append(mi_id(raw), device_id, &[at(1, 1.0), at(2, 2.0)])
            .await
            .unwrap();
    }
    let count = "SELECT COUNT(*) FROM device_locations";
    assert_eq!(stores.count(count).await, 6);
    assert!(
        stores
            .devices
            .remove(
                mi_id(1001),
                "phone-1",
                &Actor::Owner {
                    session_id: "s-1".into(),
                    client_address: String::new(),
                },
            )
            .await
            .unwrap()
    );
    assert_eq!(stores.count(count).await, 4);
    assert!(
        stores
            .devices
            .unlink_account("event-1", mi_id(1001))
            .await
            .unwrap()
    );
    assert_eq!(stores.count(count).await, 2);

    // The Find Device switch's change deletes a device's locations, the last one too, in its
    // own transaction.
    assert!(stores.last_location(2002, "phone-2").await.is_some());
    let mut transaction = stores.database.begin_write().await.unwrap();
    super::sql_locations::delete_locations_in(&mut transaction, mi_id(2002), "phone-2")
        .await
        .unwrap();
    transaction.commit().await.unwrap();
    assert_eq!(stores.count(count).await, 0);
    assert_eq!(stores.last_location(2002, "phone-2").await, None);

    // The retention job: history older than the window goes, the rest stays.
    stores
        .locations
        .append(mi_id(2002), "phone-2", &[at(60, 1.0), at(2, 2.0)])
        .await
        .unwrap();
    let an_hour_later = UnixMillis::now().saturating_add(Duration::from_secs(3600));
    let deleted = mi_platform::retention::sweep(
        &stores.database,
        // Audit entries are kept far longer than an hour: only the location goes.
        &expiries(
            Duration::from_secs(400 * 24 * 3600),
            Duration::from_secs(90 * 60),
            COMMANDS_KEPT,
        ),
        an_hour_later,
    )
    .await
    .unwrap();
    assert_eq!(deleted, 1);
    assert_eq!(stores.count(count).await, 1);
}

const DAY_MILLIS: i64 = 24 * 3600 * 1000;
const COMMANDS_KEPT: Duration = Duration::from_secs(7 * 24 * 3600);

impl Stores {
    /// Stores a command of device `phone-1` of account 3003 as the queue leaves it: created
    /// `created_days_ago`, in `state`, finished `completed_days_ago` (None while unfinished).
    async fn command(
        &self,
        command_id: &str,
        sequence: i64,
        (action, state): (&str, &str),
        created_days_ago: i64,
        completed_days_ago: Option<i64>,
    ) {
        let now = UnixMillis::now().as_i64();
        let created_at = now - created_days_ago * DAY_MILLIS;
        sqlx::query(
            "INSERT INTO device_commands (mi_id, device_id, command_id, sequence, action, state, \
             created_at, completed_at, next_attempt_at) VALUES ($1, 'phone-1', $2, $3, $4, $5, $6, $7, $6)",
        )
        .bind(mi_id(3003).as_i64())
        .bind(command_id)
        .bind(sequence)
        .bind(action)
        .bind(state)
        .bind(created_at)
        .bind(completed_days_ago.map(|days| now - days * DAY_MILLIS))
        .execute(self.database.pool())
        .await
        .expect("insert command");
    }

    async fn command_ids(&self) -> Vec<String> {
        sqlx::query_scalar("SELECT command_id FROM device_commands ORDER BY sequence")
            .fetch_all(self.database.pool())
            .await
            .expect("command ids")
    }
}

async fn finished_commands_go_after_their_retention_and_unfinished_ones_stay(stores: Stores) {
    stores.device(3003, "phone-1", true).await;
    // Finished 8 days ago in each way a command ends: all go.
    for (sequence, state) in [
        (1, "succeeded"),
        (2, "failed"),
        (3, "expired"),
        (4, "canceled"),
    ] {
        stores
            .command(
                &format!("old-{state}"),
                sequence,
                ("ring", state),
                9,
                Some(8),
            )
            .await;
    }
    // An erase issued 60 days ago still waits for its device, and a Lost Mode command was
    // delivered 30 days ago and never answered: unfinished, they stay however old.
    stores
        .command("waiting-erase", 5, ("erase", "queued"), 60, None)
        .await;
    stores
        .command("unanswered", 6, ("enable_lost_mode", "delivered"), 30, None)
        .await;
    stores
        .command("deferred", 7, ("ring", "not_now"), 30, None)
        .await;
    // Finished 6 days ago: still within the week.
    stores
        .command("recent", 8, ("locate", "succeeded"), 6, Some(6))
        .await;

    let rules = expiries(HISTORY, HISTORY, COMMANDS_KEPT);
    let deleted = mi_platform::retention::sweep(&stores.database, &rules, UnixMillis::now())
        .await
        .expect("sweep");
    assert_eq!(deleted, 4, "the four commands finished 8 days ago");
    assert_eq!(
        stores.command_ids().await,
        ["waiting-erase", "unanswered", "deferred", "recent"]
    );
}

fn change(from_version: u64, choices: SyncChoices, editor: SyncEditor) -> SyncChange {
    SyncChange {
        delivery: None,
        from_version,
        choices,
        at: UnixMillis::now(),
        editor,
    }
}

async fn sync_settings_change_by_version_with_their_event(stores: Stores) {
    stores.device(1001, "phone-1", false).await;
    let defaults = stores
        .sync
        .sync_settings(mi_id(1001), "phone-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((defaults.version, defaults.updated), (0, None));
    assert_eq!(defaults.choices, SyncChoices::default());

    let mut choices = SyncChoices {
        wifi_only: false,
        ..SyncChoices::default()
    };
    choices.data_types.messages = false;
    let owner = SyncEditor::Owner {
        session_id: "s-1".into(),
        client_address: "198.51.100.7".into(),
    };
    let SyncUpdate::Updated(updated) = stores
        .sync
        .update_sync_settings(mi_id(1001), "phone-1", &change(0, choices, owner.clone()))
        .await
        .unwrap()
    else {
        panic!("not updated");
    };
    assert_eq!(updated.version, 1);
    assert_eq!(updated.choices, choices);
    assert_eq!(updated.updated.map(|(_, side)| side), Some(SyncSide::Owner));
    let read = stores
        .sync
        .sync_settings(mi_id(1001), "phone-1")
        .await
        .unwrap();
    assert_eq!(read, Some(updated));

    let device = SyncEditor::Device {
        client_address: String::new(),
    };
    let stale = stores
        .sync
        .update_sync_settings(
            mi_id(1001),
            "phone-1",
            &change(0, SyncChoices::default(), device),
        )
        .await
        .unwrap();
    assert_eq!(stale, SyncUpdate::Stale);
    let beyond = stores
        .sync
        .update_sync_settings(
            mi_id(1001),
            "phone-1",
            &change(u64::MAX, choices, owner.clone()),
        )
        .await
        .unwrap();
    assert_eq!(beyond, SyncUpdate::Stale);
    let elsewhere = stores
        .sync
        .update_sync_settings(mi_id(2002), "phone-1", &change(0, choices, owner))
        .await
        .unwrap();
    assert_eq!(elsewhere, SyncUpdate::NoDevice);
    let read = stores
        .sync
        .sync_settings(mi_id(1001), "phone-1")
        .await
        .unwrap();
    assert_eq!(read, Some(updated), "refused changes change nothing");
    let events = stores
        .count("SELECT COUNT(*) FROM outbox WHERE event_type LIKE '%SyncSettingsChanged'")
        .await;
    assert_eq!(events, 1, "one event, for the one change");
}

/// What identity's events say of an account: its audience and, when they say, its second factor.
fn news(contact: &str, has_second_factor: Option<bool>) -> AccountNews {
    AccountNews {
        audience: Some(Audience {
            contacts: vec![contact.to_owned()],
            locale: "en".into(),
        }),
        has_second_factor,
    }
}

async fn the_accounts_projection_takes_what_each_event_says_once(stores: Stores) {
    let devices = &stores.devices;
    let alice = mi_id(7);
    let has_second_factor = async || devices.has_second_factor(alice).await.expect("read");
    let contacts = async || -> String {
        sqlx::query_scalar("SELECT contacts FROM accounts WHERE mi_id = $1")
            .bind(alice.as_i64())
            .fetch_one(stores.database.pool())
            .await
            .expect("contacts")
    };
    assert!(!has_second_factor().await, "nothing heard: none");
    let info = DeviceInfo {
        device_id: "phone".into(),
        ..DeviceInfo::default()
    };
    let sign_in = |event_id, news| NewLink {
        event_id: Some(event_id),
        mi_id: alice,
        info: &info,
        linked_at: UnixMillis::now(),
        actor: Actor::Registry,
        account: Some(news),
        restore_command_id: uuid::Uuid::now_v7().to_string(),
    };
    // A sign-in that says: on.
    let said_on = news("+8613800000001", Some(true));
    devices.link(&sign_in("s1", &said_on)).await.expect("link");
    assert!(has_second_factor().await);
    // An older sign-in that does not say leaves the flag, and takes its audience.
    let silent = news("+8613800000002", None);
    devices.link(&sign_in("s2", &silent)).await.expect("link");
    assert!(has_second_factor().await);
    assert_eq!(contacts().await, "+8613800000002");
    // A snapshot says off (the owner turned it off meanwhile), once.
    let snapshot = news("+8613800000003", Some(false));
    assert!(
        devices
            .apply_account_news("snapshot-1", alice, &snapshot)
            .await
            .expect("apply")
    );
    assert!(!has_second_factor().await);
    assert_eq!(contacts().await, "+8613800000003");
    let turned_on = news("+8613800000003", Some(true));
    assert!(
        devices
            .apply_account_news("enabled-1", alice, &turned_on)
            .await
            .expect("apply")
    );
    // Redelivered, the snapshot is not applied again over the newer event.
    assert!(
        !devices
            .apply_account_news("snapshot-1", alice, &snapshot)
            .await
            .expect("apply")
    );
    assert!(has_second_factor().await);
}

on_both_backends!(
    the_accounts_projection_takes_what_each_event_says_once,
    reports_fill_the_history_and_move_the_last_location_only_forward,
    nothing_is_kept_while_find_device_is_off,
    concurrent_reports_are_all_kept,
    locations_go_with_their_device_their_account_and_their_age,
    sync_settings_change_by_version_with_their_event,
    finished_commands_go_after_their_retention_and_unfinished_ones_stay,
);
