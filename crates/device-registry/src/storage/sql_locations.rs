//! Location history in SQL. Reports are written by group commit (`group_commit.rs`): one
//! transaction per batch of concurrent calls, which moves each device's last location and
//! appends the history rows.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use mi_contracts::{MiId, UnixMillis};
use mi_platform::db::Database;
use mi_platform::retention::Expiry;
use sqlx::AnyConnection;

use super::group_commit::{GroupCommit, GroupCommitSettings};
use super::sql::last_location_from_row;
use crate::domain::locations::Appended;
use crate::domain::{Location, LocationSource, LocationStore};

/// Rows per INSERT statement: 9 parameters each stays far below both backends' limits.
const ROWS_PER_INSERT: usize = 200;
const LOCATION_COLUMNS: &str =
    "measured_at, latitude, longitude, accuracy_meters, source, battery_percent";
/// The history's columns under the names of the device's last location, which
/// `sql::last_location_from_row` reads.
const LOCATION_COLUMNS_AS_LAST: &str = "measured_at AS last_located_at, \
     latitude AS last_latitude, longitude AS last_longitude, \
     accuracy_meters AS last_accuracy_meters, source AS last_location_source, \
     battery_percent AS last_location_battery";

/// The rule that deletes history older than `location_history` (see `mi_platform::retention`).
pub(crate) fn expiry(location_history: Duration) -> Expiry {
    Expiry {
        table: "device_locations",
        key: "location_key",
        time_column: "measured_at",
        keep_for: location_history,
    }
}

/// Deletes every location of a device, in the caller's transaction: when it is removed, and
/// when Find Device is turned off on it.
pub(crate) async fn delete_locations_in(
    connection: &mut AnyConnection,
    mi_id: MiId,
    device_id: &str,
) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM device_locations WHERE mi_id = $1 AND device_id = $2")
        .bind(mi_id.as_i64())
        .bind(device_id)
        .execute(connection)
        .await?;
    Ok(())
}

/// Deletes every location of every device of an account, in the caller's transaction.
pub(crate) async fn delete_account_locations(
    connection: &mut AnyConnection,
    mi_id: MiId,
) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM device_locations WHERE mi_id = $1")
        .bind(mi_id.as_i64())
        .execute(connection)
        .await?;
    Ok(())
}

/// One call's report, waiting for its batch.
#[derive(Debug)]
struct Report {
    mi_id: MiId,
    device_id: String,
    locations: Vec<Location>,
}

/// Location history in the device registry's database.
#[derive(Debug, Clone)]
pub(crate) struct SqlLocationStore {
    database: Database,
    writes: std::sync::Arc<GroupCommit<Report, Appended>>,
}

impl SqlLocationStore {
    /// A store over a migrated database, writing reports in batches as `writes` says.
    pub(crate) fn new(database: Database, writes: GroupCommitSettings) -> Self {
        let writer = database.clone();
        let writes = GroupCommit::start(writes, move |reports| {
            let database = writer.clone();
            async move { write_batch(&database, reports).await }
        });
        Self {
            database,
            writes: std::sync::Arc::new(writes),
        }
    }
}

#[async_trait]
impl LocationStore for SqlLocationStore {
    async fn append(
        &self,
        mi_id: MiId,
        device_id: &str,
        locations: &[Location],
    ) -> anyhow::Result<Appended> {
        self.writes
            .submit(Report {
                mi_id,
                device_id: device_id.to_owned(),
                locations: locations.to_vec(),
            })
            .await
    }

    async fn history(
        &self,
        mi_id: MiId,
        device_id: &str,
        since: UnixMillis,
        before: Option<UnixMillis>,
        limit: i64,
    ) -> anyhow::Result<Option<Vec<Location>>> {
        let known = sqlx::query("SELECT 1 FROM devices WHERE mi_id = $1 AND device_id = $2")
            .bind(mi_id.as_i64())
            .bind(device_id)
            .fetch_optional(self.database.pool())
            .await?
            .is_some();
        if !known {
            return Ok(None);
        }
        // Keyset paging: a device has one location per measurement time.
        let rows = sqlx::query(&format!(
            "SELECT {LOCATION_COLUMNS_AS_LAST} FROM device_locations \
             WHERE mi_id = $1 AND device_id = $2 AND measured_at >= $3 AND measured_at < $4 \
             ORDER BY measured_at DESC LIMIT $5"
        ))
        .bind(mi_id.as_i64())
        .bind(device_id)
        .bind(since.as_i64())
        .bind(before.map_or(i64::MAX, UnixMillis::as_i64))
        .bind(limit)
        .fetch_all(self.database.pool())
        .await?;
        let locations = rows.iter().map(last_location_from_row);
        // Every history row has a time, so every row reads as a location.
        locations
            .filter_map(Result::transpose)
            .collect::<anyhow::Result<_>>()
            .map(Some)
    }
}

/// Writes one batch of reports in one transaction; the outcome of each, in order.
async fn write_batch(database: &Database, reports: Vec<Report>) -> anyhow::Result<Vec<Appended>> {
    // Reports grouped by device, in key order: every batch locks device rows in the same
    // order, so two batches written at once (another writer, another replica) never deadlock.
    let mut by_device: BTreeMap<(MiId, &str), Vec<usize>> = BTreeMap::new();
    for (index, report) in reports.iter().enumerate() {
        by_device
            .entry((report.mi_id, report.device_id.as_str()))
            .or_default()
            .push(index);
    }
    let mut outcomes = vec![Appended::NoDevice; reports.len()];
    let mut kept: Vec<(MiId, &str, &Location)> = Vec::new();
    let mut transaction = database.begin_write().await?;
    for ((mi_id, device_id), indexes) in by_device {
        let locations = indexes.iter().flat_map(|index| &reports[*index].locations);
        let Some(newest) = locations
            .clone()
            .max_by_key(|location| location.measured_at)
        else {
            continue;
        };
        let find_device_on = move_last_location(&mut transaction, mi_id, device_id, newest).await?;
        if find_device_on == Some(true) {
            kept.extend(locations.map(|location| (mi_id, device_id, location)));
        }
        for index in indexes {
            let count = reports[index].locations.len();
            outcomes[index] = match find_device_on {
                Some(true) => Appended::Kept(u32::try_from(count).unwrap_or(u32::MAX)),
                Some(false) => Appended::FindDeviceOff,
                None => Appended::NoDevice,
            };
        }
    }
    for rows in kept.chunks(ROWS_PER_INSERT) {
        insert_locations(&mut transaction, rows).await?;
    }
    transaction.commit().await?;
    Ok(outcomes)
}

/// Makes `newest` the device's last location unless it has a newer one, while Find Device is
/// on. Returns whether Find Device is on, `None` if the account has no such device.
///
/// The UPDATE runs whenever Find Device is on, newer or not: on PostgreSQL it locks the
/// device's row until the batch commits, so turning Find Device off or removing the device
/// (which update or delete that row first, then delete its locations) waits for this batch
/// and then deletes what it wrote, and a batch after them finds Find Device off.
async fn move_last_location(
    connection: &mut AnyConnection,
    mi_id: MiId,
    device_id: &str,
    newest: &Location,
) -> anyhow::Result<Option<bool>> {
    // Every right-hand side sees the row as it was, so each column tests the old time.
    let newer = "last_located_at IS NULL OR last_located_at < $3";
    let updated = sqlx::query(&format!(
        "UPDATE devices SET \
         last_latitude = CASE WHEN {newer} THEN $4 ELSE last_latitude END, \
         last_longitude = CASE WHEN {newer} THEN $5 ELSE last_longitude END, \
         last_accuracy_meters = CASE WHEN {newer} THEN $6 ELSE last_accuracy_meters END, \
         last_location_source = CASE WHEN {newer} THEN $7 ELSE last_location_source END, \
         last_location_battery = CASE WHEN {newer} THEN $8 ELSE last_location_battery END, \
         last_located_at = CASE WHEN {newer} THEN $3 ELSE last_located_at END \
         WHERE mi_id = $1 AND device_id = $2 AND find_device_enabled = 1"
    ))
    .bind(mi_id.as_i64())
    .bind(device_id)
    .bind(newest.measured_at.as_i64())
    .bind(newest.latitude)
    .bind(newest.longitude)
    .bind(newest.accuracy_meters)
    .bind(source_column(newest.source))
    .bind(newest.battery_percent.map(i64::from))
    .execute(&mut *connection)
    .await?;
    if updated.rows_affected() == 1 {
        return Ok(Some(true));
    }
    let known = sqlx::query("SELECT 1 FROM devices WHERE mi_id = $1 AND device_id = $2")
        .bind(mi_id.as_i64())
        .bind(device_id)
        .fetch_optional(connection)
        .await?;
    Ok(known.map(|_| false))
}

async fn insert_locations(
    connection: &mut AnyConnection,
    rows: &[(MiId, &str, &Location)],
) -> anyhow::Result<()> {
    const COLUMNS_PER_ROW: usize = 9;
    let values: Vec<String> = (0..rows.len())
        .map(|row| {
            let first = row * COLUMNS_PER_ROW + 1;
            let placeholders: Vec<String> = (first..first + COLUMNS_PER_ROW)
                .map(|number| format!("${number}"))
                .collect();
            format!("({})", placeholders.join(", "))
        })
        .collect();
    let statement = format!(
        "INSERT INTO device_locations (location_key, mi_id, device_id, {LOCATION_COLUMNS}) \
         VALUES {} ON CONFLICT (location_key) DO NOTHING",
        values.join(", ")
    );
    let mut query = sqlx::query(&statement);
    for (mi_id, device_id, location) in rows {
        query = query
            .bind(location_key(*mi_id, device_id, location.measured_at))
            .bind(mi_id.as_i64())
            .bind(*device_id)
            .bind(location.measured_at.as_i64())
            .bind(location.latitude)
            .bind(location.longitude)
            .bind(location.accuracy_meters)
            .bind(source_column(location.source))
            .bind(location.battery_percent.map(i64::from));
    }
    query.execute(connection).await?;
    Ok(())
}

/// The key of a device's location at one time: the Mi ID, then the device id's length, so no
/// device id and time can pose as another pair.
fn location_key(mi_id: MiId, device_id: &str, measured_at: UnixMillis) -> String {
    format!(
        "{mi_id}:{}:{device_id}:{}",
        device_id.len(),
        measured_at.as_i64()
    )
}

fn source_column(source: Option<LocationSource>) -> String {
    source.map(|source| source.to_string()).unwrap_or_default()
}
