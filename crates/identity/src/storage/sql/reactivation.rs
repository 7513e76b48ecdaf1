//! The reactivation locks in SQL, each device event applied once (the processed-event record
//! in the same transaction).

use async_trait::async_trait;
use mi_contracts::{MiId, UnixMillis};
use mi_platform::consumer::begin_once;
use mi_platform::db::Database;

use crate::domain::ReactivationLockStore;

/// Reactivation locks in the service's own database.
#[derive(Debug, Clone)]
pub struct SqlReactivationLocks {
    database: Database,
    consumer_group: String,
}

impl SqlReactivationLocks {
    /// Locks over a migrated database; `consumer_group` keys the processed-event records of
    /// the device events that set and release them.
    pub fn new(database: Database, consumer_group: String) -> Self {
        Self {
            database,
            consumer_group,
        }
    }

    /// Runs `statement` (binding the hardware id, the Mi ID and now) once for `event_id`.
    async fn apply_once(
        &self,
        event_id: &str,
        statement: &str,
        hardware_id: &str,
        mi_id: MiId,
    ) -> anyhow::Result<bool> {
        let Some(mut transaction) =
            begin_once(&self.database, &self.consumer_group, event_id).await?
        else {
            return Ok(false);
        };
        sqlx::query(statement)
            .bind(hardware_id)
            .bind(mi_id.as_i64())
            .bind(UnixMillis::now().as_i64())
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        Ok(true)
    }
}

#[async_trait]
impl ReactivationLockStore for SqlReactivationLocks {
    async fn lock_hardware(
        &self,
        event_id: &str,
        hardware_id: &str,
        mi_id: MiId,
    ) -> anyhow::Result<bool> {
        self.apply_once(
            event_id,
            "INSERT INTO reactivation_locks (hardware_id, mi_id, locked_at) VALUES ($1, $2, $3) \
             ON CONFLICT (hardware_id, mi_id) DO NOTHING",
            hardware_id,
            mi_id,
        )
        .await
    }

    async fn release_hardware(
        &self,
        event_id: &str,
        hardware_id: &str,
        mi_id: MiId,
    ) -> anyhow::Result<bool> {
        // `$3` is now: a release lets go of the locks set until it.
        self.apply_once(
            event_id,
            "DELETE FROM reactivation_locks WHERE hardware_id = $1 AND mi_id = $2 \
             AND locked_at <= $3",
            hardware_id,
            mi_id,
        )
        .await
    }

    async fn hardware_holders(&self, hardware_id: &str) -> anyhow::Result<Vec<MiId>> {
        let holders: Vec<i64> = sqlx::query_scalar(
            "SELECT mi_id FROM reactivation_locks WHERE hardware_id = $1 ORDER BY locked_at",
        )
        .bind(hardware_id)
        .fetch_all(self.database.pool())
        .await?;
        holders
            .into_iter()
            .map(|mi_id| MiId::from_i64(mi_id).ok_or_else(|| anyhow::anyhow!("bad Mi ID {mi_id}")))
            .collect()
    }
}
