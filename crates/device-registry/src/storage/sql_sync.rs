//! Cloud-sync settings in SQL: columns of the device's own row (migration 1006), changed by one
//! compare-and-set UPDATE on the version.

use async_trait::async_trait;
use mi_contracts::{MiId, UnixMillis};
use mi_platform::db::Database;
use mi_platform::outbox::Outbox;
use mi_platform::wake::Wake;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::sql_commands::enqueue_in;
use crate::domain::SyncSettingsStore;
use crate::domain::commands::{Action, Command, CommandState};
use crate::domain::events::DeviceEvent;
use crate::domain::sync_settings::{
    DataTypes, SyncChange, SyncChoices, SyncDelivery, SyncSettings, SyncSide, SyncUpdate,
};
use crate::publish;

const SYNC_COLUMNS: &str = "sync_version, sync_enabled, sync_wifi_only, sync_gallery, \
                            sync_contacts, sync_messages, sync_call_history, sync_notes, \
                            sync_calendar, sync_recordings, sync_wifi_networks, sync_browser, \
                            sync_updated_at, sync_updated_by";

/// Cloud-sync settings in the device registry's database.
#[derive(Debug, Clone)]
pub(crate) struct SqlSyncSettingsStore {
    database: Database,
    outbox: Outbox,
    wake: Wake,
}

impl SqlSyncSettingsStore {
    /// A store over a migrated database, recording events in `outbox`; `wake` tells the
    /// device's command channel of an owner's change.
    pub(crate) fn new(database: Database, outbox: Outbox, wake: Wake) -> Self {
        Self {
            database,
            outbox,
            wake,
        }
    }
}

#[async_trait]
impl SyncSettingsStore for SqlSyncSettingsStore {
    async fn sync_settings(
        &self,
        mi_id: MiId,
        device_id: &str,
    ) -> anyhow::Result<Option<SyncSettings>> {
        let row = sqlx::query(&format!(
            "SELECT {SYNC_COLUMNS} FROM devices WHERE mi_id = $1 AND device_id = $2"
        ))
        .bind(mi_id.as_i64())
        .bind(device_id)
        .fetch_optional(self.database.pool())
        .await?;
        row.as_ref().map(settings_from_row).transpose()
    }

    async fn update_sync_settings(
        &self,
        mi_id: MiId,
        device_id: &str,
        change: &SyncChange,
    ) -> anyhow::Result<SyncUpdate> {
        let mut transaction = self.database.begin_write().await?;
        let update =
            write_sync_settings(&mut transaction, &self.outbox, mi_id, device_id, change).await?;
        let SyncUpdate::Updated(settings) = update else {
            transaction.rollback().await?;
            return Ok(update);
        };
        let wake_key = match &change.delivery {
            Some(delivery) => {
                let command = delivery_command(mi_id, device_id, change, delivery, settings);
                Some(enqueue_in(&mut transaction, &self.wake, &command).await?)
            }
            None => None,
        };
        transaction.commit().await?;
        self.outbox.notify_committed();
        if let Some(key) = wake_key {
            self.wake.committed(&key);
        }
        Ok(update)
    }
}

/// Applies `change` in the caller's transaction if the device's settings are at
/// `change.from_version`, and records `SyncSettingsChanged` there: a change that must reach
/// the device (the owner's) queues its command in the same transaction.
pub(crate) async fn write_sync_settings(
    connection: &mut AnyConnection,
    outbox: &Outbox,
    mi_id: MiId,
    device_id: &str,
    change: &SyncChange,
) -> anyhow::Result<SyncUpdate> {
    let choices = &change.choices;
    let types = &choices.data_types;
    // A version beyond what a column holds was never issued: -1 matches no row.
    let from_version = i64::try_from(change.from_version).unwrap_or(-1);
    let updated = sqlx::query(&format!(
        "UPDATE devices SET sync_version = sync_version + 1, sync_enabled = $4, \
         sync_wifi_only = $5, sync_gallery = $6, sync_contacts = $7, sync_messages = $8, \
         sync_call_history = $9, sync_notes = $10, sync_calendar = $11, sync_recordings = $12, \
         sync_wifi_networks = $13, sync_browser = $14, sync_updated_at = $15, \
         sync_updated_by = $16 \
         WHERE mi_id = $1 AND device_id = $2 AND sync_version = $3 RETURNING {SYNC_COLUMNS}"
    ))
    .bind(mi_id.as_i64())
    .bind(device_id)
    .bind(from_version)
    .bind(i64::from(choices.sync_enabled))
    .bind(i64::from(choices.wifi_only))
    .bind(i64::from(types.gallery))
    .bind(i64::from(types.contacts))
    .bind(i64::from(types.messages))
    .bind(i64::from(types.call_history))
    .bind(i64::from(types.notes))
    .bind(i64::from(types.calendar))
    .bind(i64::from(types.recordings))
    .bind(i64::from(types.wifi_networks))
    .bind(i64::from(types.browser))
    .bind(change.at.as_i64())
    .bind(change.editor.side().to_string())
    .fetch_optional(&mut *connection)
    .await?;
    let Some(updated) = updated else {
        let known = sqlx::query("SELECT 1 FROM devices WHERE mi_id = $1 AND device_id = $2")
            .bind(mi_id.as_i64())
            .bind(device_id)
            .fetch_optional(&mut *connection)
            .await?;
        return Ok(match known {
            Some(_) => SyncUpdate::Stale,
            None => SyncUpdate::NoDevice,
        });
    };
    let settings = settings_from_row(&updated)?;
    let event = DeviceEvent::SyncSettingsChanged {
        mi_id,
        device_id: device_id.to_owned(),
        version: settings.version,
        actor: change.editor.actor(),
    };
    publish::enqueue(outbox, connection, &event).await?;
    Ok(SyncUpdate::Updated(settings))
}

/// The `apply_sync_settings` command that carries the owner's change to the device.
fn delivery_command(
    mi_id: MiId,
    device_id: &str,
    change: &SyncChange,
    delivery: &SyncDelivery,
    settings: SyncSettings,
) -> Command {
    Command {
        mi_id,
        device_id: device_id.to_owned(),
        command_id: delivery.command_id.clone(),
        sequence: 0,
        action: Action::ApplySyncSettings(settings),
        state: CommandState::Queued,
        created_at: change.at,
        delivered_at: None,
        completed_at: None,
        expires_at: Some(delivery.expires_at),
        not_now_count: 0,
        next_attempt_at: change.at,
        location: None,
        error: None,
    }
}

fn settings_from_row(row: &AnyRow) -> anyhow::Result<SyncSettings> {
    let flag = |column: &str| -> anyhow::Result<bool> { Ok(row.try_get::<i64, _>(column)? != 0) };
    let version: i64 = row.try_get("sync_version")?;
    let updated_at: Option<i64> = row.try_get("sync_updated_at")?;
    let updated_by: String = row.try_get("sync_updated_by")?;
    let updated = match updated_at {
        None => None,
        Some(at) => Some((UnixMillis::from_i64(at), updated_by.parse::<SyncSide>()?)),
    };
    Ok(SyncSettings {
        choices: SyncChoices {
            sync_enabled: flag("sync_enabled")?,
            wifi_only: flag("sync_wifi_only")?,
            data_types: DataTypes {
                gallery: flag("sync_gallery")?,
                contacts: flag("sync_contacts")?,
                messages: flag("sync_messages")?,
                call_history: flag("sync_call_history")?,
                notes: flag("sync_notes")?,
                calendar: flag("sync_calendar")?,
                recordings: flag("sync_recordings")?,
                wifi_networks: flag("sync_wifi_networks")?,
                browser: flag("sync_browser")?,
            },
        },
        version: u64::try_from(version)?,
        updated,
    })
}
