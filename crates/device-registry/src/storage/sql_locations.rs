//! Location history in SQL. Reports are written by group commit
//! (`mi_platform::group_commit`): one transaction per batch of concurrent calls, which moves
//! each device's last location and appends the history rows.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use mi_contracts::{MiId, UnixMillis};
use mi_platform::db::Database;
use mi_platform::retention::Expiry;
use sqlx::{AnyConnection, Row};

use super::sql::last_location_from_row;
use crate::domain::locations::Appended;
use crate::domain::{Location, LocationSource, LocationStore};
use mi_platform::group_commit::{GroupCommit, GroupCommitSettings};

/// Rows per statement: at most 9 parameters each stays far below both backends' limits.
const ROWS_PER_CHUNK: usize = 200;
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
    Expiry::after(
        "device_locations",
        "location_key",
        "measured_at",
        location_history,
    )
}

/// Deletes every location of a device, its history and its last location, in the caller's
/// transaction: when it is removed, and when Find Device is turned off on it (after the
/// change to its row, so that a batch of reports writing meanwhile is waited for, see
/// [`move_last_locations`]).
pub(crate) async fn delete_locations_in(
    connection: &mut AnyConnection,
    mi_id: MiId,
    device_id: &str,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE devices SET last_latitude = NULL, last_longitude = NULL, \
         last_accuracy_meters = NULL, last_located_at = NULL, last_location_source = '', \
         last_location_battery = NULL WHERE mi_id = $1 AND device_id = $2",
    )
    .bind(mi_id.as_i64())
    .bind(device_id)
    .execute(&mut *connection)
    .await?;
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

/// Writes one batch of reports in one transaction; the outcome of each, in order. A few
/// statements per batch, not per call: one UPDATE moves the last location of every device of
/// the batch, one INSERT (per [`ROWS_PER_CHUNK`] rows) appends the history.
async fn write_batch(database: &Database, reports: Vec<Report>) -> anyhow::Result<Vec<Appended>> {
    // One row per device, in key order: batches written at once (another writer, another
    // replica) then reach the rows they share in the same order, which keeps PostgreSQL's row
    // locks from deadlocking in practice (a deadlock it detects fails that batch's calls,
    // which the devices retry).
    let mut by_device: BTreeMap<(MiId, &str), Vec<usize>> = BTreeMap::new();
    for (index, report) in reports.iter().enumerate() {
        by_device
            .entry((report.mi_id, report.device_id.as_str()))
            .or_default()
            .push(index);
    }
    let newest: Vec<(MiId, &str, &Location)> = by_device
        .iter()
        .filter_map(|(&(mi_id, device_id), indexes)| {
            let locations = indexes.iter().flat_map(|index| &reports[*index].locations);
            let newest = locations.max_by_key(|location| location.measured_at)?;
            Some((mi_id, device_id, newest))
        })
        .collect();
    let mut transaction = database.begin_write().await?;
    let mut on = HashSet::new();
    for devices in newest.chunks(ROWS_PER_CHUNK) {
        on.extend(move_last_locations(&mut transaction, devices).await?);
    }
    let mut outcomes = vec![Appended::NoDevice; reports.len()];
    let mut kept: Vec<(MiId, &str, &Location)> = Vec::new();
    for (&(mi_id, device_id), indexes) in &by_device {
        let find_device_on = if on.contains(&(mi_id, device_id.to_owned())) {
            Some(true)
        } else {
            find_device_state(&mut transaction, mi_id, device_id).await?
        };
        for &index in indexes {
            let report = &reports[index];
            outcomes[index] = match find_device_on {
                Some(true) => {
                    kept.extend(
                        report
                            .locations
                            .iter()
                            .map(|location| (mi_id, device_id, location)),
                    );
                    Appended::Kept(u32::try_from(report.locations.len()).unwrap_or(u32::MAX))
                }
                Some(false) => Appended::FindDeviceOff,
                None => Appended::NoDevice,
            };
        }
    }
    for rows in kept.chunks(ROWS_PER_CHUNK) {
        insert_locations(&mut transaction, rows).await?;
    }
    transaction.commit().await?;
    Ok(outcomes)
}

/// Makes each given location its device's last location unless the device has a newer one,
/// for the devices with Find Device on; returns those devices.
///
/// Every device of the batch with Find Device on is updated, newer or not: on PostgreSQL that
/// locks its row until the batch commits, so turning Find Device off or removing the device
/// (which update or delete that row first, then delete its locations) waits for this batch
/// and then deletes what it wrote, and a batch after them finds Find Device off.
async fn move_last_locations(
    connection: &mut AnyConnection,
    newest: &[(MiId, &str, &Location)],
) -> anyhow::Result<Vec<(MiId, String)>> {
    const COLUMNS: [&str; 8] = [
        "mi_id",
        "device_id",
        "measured_at",
        "latitude",
        "longitude",
        "accuracy_meters",
        "source",
        "battery_percent",
    ];
    // A SELECT per device rather than VALUES, whose columns SQLite cannot name.
    let reported: Vec<String> = placeholder_rows(newest.len(), COLUMNS.len())
        .map(|row| {
            let columns: Vec<String> = row
                .iter()
                .zip(COLUMNS)
                .map(|(placeholder, column)| format!("{placeholder} AS {column}"))
                .collect();
            format!("SELECT {}", columns.join(", "))
        })
        .collect();
    // Every right-hand side sees the row as it was, so each column tests the old time.
    let newer = "devices.last_located_at IS NULL \
                 OR devices.last_located_at < reported.measured_at";
    let set = |column: &str, value: &str| {
        format!("{column} = CASE WHEN {newer} THEN reported.{value} ELSE devices.{column} END")
    };
    let statement = format!(
        "UPDATE devices SET {}, {}, {}, {}, {}, {} FROM ({}) AS reported \
         WHERE devices.mi_id = reported.mi_id AND devices.device_id = reported.device_id \
         AND devices.find_device_enabled = 1 RETURNING devices.mi_id, devices.device_id",
        set("last_latitude", "latitude"),
        set("last_longitude", "longitude"),
        set("last_accuracy_meters", "accuracy_meters"),
        set("last_location_source", "source"),
        set("last_location_battery", "battery_percent"),
        set("last_located_at", "measured_at"),
        reported.join(" UNION ALL "),
    );
    let mut query = sqlx::query(&statement);
    for (mi_id, device_id, location) in newest {
        query = query
            .bind(mi_id.as_i64())
            .bind(*device_id)
            .bind(location.measured_at.as_i64())
            .bind(location.latitude)
            .bind(location.longitude)
            .bind(location.accuracy_meters)
            .bind(source_column(location.source))
            .bind(location.battery_percent.map(i64::from));
    }
    let rows = query.fetch_all(connection).await?;
    rows.iter()
        .map(|row| {
            let mi_id = MiId::new(u64::try_from(row.try_get::<i64, _>(0)?)?)?;
            Ok((mi_id, row.try_get::<String, _>(1)?))
        })
        .collect()
}

/// Whether a device has Find Device on; `None` if the account has no such device.
async fn find_device_state(
    connection: &mut AnyConnection,
    mi_id: MiId,
    device_id: &str,
) -> anyhow::Result<Option<bool>> {
    let row =
        sqlx::query("SELECT find_device_enabled FROM devices WHERE mi_id = $1 AND device_id = $2")
            .bind(mi_id.as_i64())
            .bind(device_id)
            .fetch_optional(connection)
            .await?;
    row.map(|row| Ok(row.try_get::<i64, _>(0)? != 0))
        .transpose()
}

async fn insert_locations(
    connection: &mut AnyConnection,
    rows: &[(MiId, &str, &Location)],
) -> anyhow::Result<()> {
    let values: Vec<String> = placeholder_rows(rows.len(), 9)
        .map(|row| format!("({})", row.join(", ")))
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

/// The placeholders `$1`, `$2`, ... of `rows` rows of `columns` parameters each, row by row.
fn placeholder_rows(rows: usize, columns: usize) -> impl Iterator<Item = Vec<String>> {
    (0..rows).map(move |row| {
        let first = row * columns + 1;
        (first..first + columns)
            .map(|number| format!("${number}"))
            .collect()
    })
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
