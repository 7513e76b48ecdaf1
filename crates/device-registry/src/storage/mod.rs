//! Where devices live. One SQL implementation serves PostgreSQL and SQLite.

use async_trait::async_trait;
use mi_platform::db::Database;
use sqlx::Row;

use crate::domain::Device;

/// Reads devices.
#[async_trait]
pub trait DeviceStore: Send + Sync + std::fmt::Debug {
    /// An account's devices, most recently linked first, skipping `offset`.
    async fn list(&self, mi_id: i64, offset: i64, limit: i64) -> anyhow::Result<Vec<Device>>;
}

/// Devices in the device registry's database.
#[derive(Debug, Clone)]
pub struct SqlDeviceStore {
    database: Database,
}

impl SqlDeviceStore {
    /// A store over a migrated database.
    pub fn new(database: Database) -> Self {
        Self { database }
    }
}

#[async_trait]
impl DeviceStore for SqlDeviceStore {
    async fn list(&self, mi_id: i64, offset: i64, limit: i64) -> anyhow::Result<Vec<Device>> {
        let rows = sqlx::query(
            "SELECT device_id, model, os, name, linked_at FROM devices WHERE mi_id = $1 \
             ORDER BY linked_at DESC, device_id LIMIT $2 OFFSET $3",
        )
        .bind(mi_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.database.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Device {
                    device_id: row.try_get("device_id")?,
                    mi_id: u64::try_from(mi_id)?,
                    model: row.try_get("model")?,
                    os: row.try_get("os")?,
                    name: row.try_get("name")?,
                    linked_at: row.try_get("linked_at")?,
                })
            })
            .collect()
    }
}
