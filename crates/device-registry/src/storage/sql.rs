//! The SQL device store.

use async_trait::async_trait;
use mi_contracts::{MiId, UnixMillis};
use mi_platform::consumer::begin_once;
use mi_platform::db::Database;
use sqlx::Row;

use crate::domain::{Device, DevicePosition, DeviceStore};

const LIST: &str = "SELECT device_id, model, os, name, linked_at FROM devices WHERE mi_id = $1";
const ORDER: &str = "ORDER BY linked_at DESC, device_id LIMIT $2";

/// Devices in the device registry's database.
#[derive(Debug, Clone)]
pub(crate) struct SqlDeviceStore {
    database: Database,
    consumer_group: String,
}

impl SqlDeviceStore {
    /// A store over a migrated database; `consumer_group` keys its processed-event records.
    pub(crate) fn new(database: Database, consumer_group: String) -> Self {
        Self {
            database,
            consumer_group,
        }
    }
}

#[async_trait]
impl DeviceStore for SqlDeviceStore {
    async fn list(
        &self,
        mi_id: MiId,
        after: Option<&DevicePosition>,
        limit: i64,
    ) -> anyhow::Result<Vec<Device>> {
        let first_page = format!("{LIST} {ORDER}");
        // Keyset paging: the devices after `after` in the list's order.
        let next_page =
            format!("{LIST} AND (linked_at < $3 OR (linked_at = $3 AND device_id > $4)) {ORDER}");
        let query = match after {
            None => sqlx::query(&first_page).bind(mi_id.as_i64()).bind(limit),
            Some(after) => sqlx::query(&next_page)
                .bind(mi_id.as_i64())
                .bind(limit)
                .bind(after.linked_at.as_i64())
                .bind(&after.device_id),
        };
        let rows = query.fetch_all(self.database.pool()).await?;
        rows.iter()
            .map(|row| {
                Ok(Device {
                    device_id: row.try_get("device_id")?,
                    mi_id,
                    model: row.try_get("model")?,
                    os: row.try_get("os")?,
                    name: row.try_get("name")?,
                    linked_at: UnixMillis::from_i64(row.try_get("linked_at")?),
                })
            })
            .collect()
    }

    async fn link(&self, event_id: &str, device: &Device) -> anyhow::Result<bool> {
        let Some(mut transaction) =
            begin_once(&self.database, &self.consumer_group, event_id).await?
        else {
            return Ok(false);
        };
        sqlx::query(
            "INSERT INTO devices (device_id, mi_id, model, os, name, linked_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (mi_id, device_id) \
             DO UPDATE SET model = excluded.model, os = excluded.os, name = excluded.name",
        )
        .bind(&device.device_id)
        .bind(device.mi_id.as_i64())
        .bind(&device.model)
        .bind(&device.os)
        .bind(&device.name)
        .bind(device.linked_at.as_i64())
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(true)
    }

    async fn unlink_account(&self, event_id: &str, mi_id: MiId) -> anyhow::Result<bool> {
        let Some(mut transaction) =
            begin_once(&self.database, &self.consumer_group, event_id).await?
        else {
            return Ok(false);
        };
        sqlx::query("DELETE FROM devices WHERE mi_id = $1")
            .bind(mi_id.as_i64())
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        Ok(true)
    }
}
