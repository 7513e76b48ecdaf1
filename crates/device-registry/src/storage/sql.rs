//! The SQL device store.

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64_URL;
use mi_contracts::{DeviceCapability, DeviceCredential, DeviceInfo, MiId, UnixMillis};
use mi_platform::consumer::begin_once;
use mi_platform::db::Database;
use mi_platform::outbox::Outbox;
use mi_platform::retention::Expiry;
use mi_platform::wake::Wake;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Row, Transaction};

use super::spent_tokens::SpentTokens;
use super::{GroupCommitSettings, accounts, audit, sql_locations};
use crate::domain::commands::{Action, Command, CommandState};
use crate::domain::events::{Actor, Audience, DeviceEvent};
use crate::domain::{
    AccountNews, AuditEntry, AuditPosition, Device, DevicePosition, DeviceStatus, DeviceStore,
    FindDeviceState, LinkOutcome, Location, LocationSource, LostMode, NetworkType, NewLink,
};
use crate::publish;
use crate::storage::sql_commands;

const COLUMNS: &str = "device_id, model, os, name, hardware_id, capabilities, linked_at, \
                       key_algorithm, last_seen_at, battery_percent, network_type, \
                       find_device_enabled, lost_mode_message, lost_mode_phone_number, \
                       lost_mode_footnote, lost_mode_since, erased_at, last_latitude, \
                       last_longitude, last_accuracy_meters, last_located_at, \
                       last_location_source, last_location_battery, \
                       (SELECT COUNT(*) FROM device_commands c WHERE c.mi_id = devices.mi_id \
                       AND c.device_id = devices.device_id \
                       AND c.state IN ('queued', 'delivered', 'not_now')) AS pending_commands";
const ORDER: &str = "ORDER BY linked_at DESC, device_id LIMIT $2";

/// The rows the registry deletes once they are of no use (see `mi_platform::retention`):
/// spent device tokens, once they have expired (a verifier's leeway is seconds), audit entries
/// older than `audit_retention`, location history older than `location_history`, and commands
/// finished more than `command_retention` ago.
pub(crate) fn expiries(
    audit_retention: std::time::Duration,
    location_history: std::time::Duration,
    command_retention: std::time::Duration,
) -> Vec<Expiry> {
    vec![
        Expiry::after(
            "spent_device_tokens",
            "token_key",
            "expires_at",
            std::time::Duration::from_secs(60),
        ),
        Expiry::after("audit_entries", "entry_id", "recorded_at", audit_retention),
        sql_locations::expiry(location_history),
        sql_commands::expiry(command_retention),
    ]
}

/// Devices in the device registry's database.
#[derive(Debug, Clone)]
pub(crate) struct SqlDeviceStore {
    database: Database,
    outbox: Outbox,
    consumer_group: String,
    /// Wakes a removed device's channel (it ends) and its commands' watchers.
    wake: Wake,
    spent_tokens: SpentTokens,
}

impl SqlDeviceStore {
    /// A store over a migrated database, recording events in `outbox`; `consumer_group` keys
    /// its processed-event records; `wake` wakes the channels and watchers of removed devices;
    /// spent device tokens are written in batches as `token_writes` says.
    pub(crate) fn new(
        database: Database,
        outbox: Outbox,
        (consumer_group, wake): (String, Wake),
        token_writes: GroupCommitSettings,
    ) -> Self {
        Self {
            spent_tokens: SpentTokens::new(database.clone(), token_writes),
            database,
            outbox,
            consumer_group,
            wake,
        }
    }

    /// A transaction, once for `event_id` when an event drives the change; `None` if that
    /// event was applied.
    async fn begin(
        &self,
        event_id: Option<&str>,
    ) -> anyhow::Result<Option<Transaction<'static, Any>>> {
        match event_id {
            Some(event_id) => begin_once(&self.database, &self.consumer_group, event_id).await,
            None => Ok(Some(self.database.begin_write().await?)),
        }
    }
}

fn device_from_row(mi_id: MiId, row: &AnyRow) -> anyhow::Result<Device> {
    let capabilities: String = row.try_get("capabilities")?;
    let capabilities = capabilities
        .split(',')
        .filter(|name| !name.is_empty())
        .map(str::parse::<DeviceCapability>)
        .collect::<Result<Vec<_>, _>>()?;
    let network: String = row.try_get("network_type")?;
    let key_algorithm: String = row.try_get("key_algorithm")?;
    let battery_percent: Option<i64> = row.try_get("battery_percent")?;
    let last_seen_at: Option<i64> = row.try_get("last_seen_at")?;
    Ok(Device {
        mi_id,
        info: DeviceInfo {
            device_id: row.try_get("device_id")?,
            model: row.try_get("model")?,
            os: row.try_get("os")?,
            name: row.try_get("name")?,
            hardware_id: row.try_get("hardware_id")?,
            capabilities,
            credential: None,
        },
        linked_at: UnixMillis::from_i64(row.try_get("linked_at")?),
        enrolled: !key_algorithm.is_empty(),
        status: DeviceStatus {
            last_seen_at: last_seen_at.map(UnixMillis::from_i64),
            battery_percent: battery_percent.map(u32::try_from).transpose()?,
            network: (!network.is_empty())
                .then(|| network.parse::<NetworkType>())
                .transpose()?,
        },
        find_device: find_device_from_row(row)?,
    })
}

fn find_device_from_row(row: &AnyRow) -> anyhow::Result<FindDeviceState> {
    let enabled: i64 = row.try_get("find_device_enabled")?;
    let lost_mode_since: Option<i64> = row.try_get("lost_mode_since")?;
    let lost_mode = match lost_mode_since {
        None => None,
        Some(since) => Some(LostMode {
            message: row.try_get("lost_mode_message")?,
            phone_number: row.try_get("lost_mode_phone_number")?,
            footnote: row.try_get("lost_mode_footnote")?,
            since: Some(UnixMillis::from_i64(since)),
        }),
    };
    let erased_at: Option<i64> = row.try_get("erased_at")?;
    Ok(FindDeviceState {
        enabled: enabled != 0,
        lost_mode,
        erased_at: erased_at.map(UnixMillis::from_i64),
        last_location: last_location_from_row(row)?,
        pending_commands: u32::try_from(row.try_get::<i64, _>("pending_commands")?)?,
    })
}

/// The device's last location from the `last_*` columns; `None` if it has none.
pub(super) fn last_location_from_row(row: &AnyRow) -> anyhow::Result<Option<Location>> {
    let located_at: Option<i64> = row.try_get("last_located_at")?;
    let location = match located_at {
        None => None,
        Some(located_at) => {
            let source: String = row.try_get("last_location_source")?;
            let battery: Option<i64> = row.try_get("last_location_battery")?;
            Some(Location {
                latitude: row.try_get("last_latitude")?,
                longitude: row.try_get("last_longitude")?,
                accuracy_meters: row.try_get("last_accuracy_meters")?,
                measured_at: UnixMillis::from_i64(located_at),
                source: (!source.is_empty())
                    .then(|| source.parse::<LocationSource>())
                    .transpose()?,
                battery_percent: battery.map(u32::try_from).transpose()?,
            })
        }
    };
    Ok(location)
}

fn capabilities_column(info: &DeviceInfo) -> String {
    let names: Vec<&str> = info
        .capabilities
        .iter()
        .map(|capability| capability.into())
        .collect();
    names.join(",")
}

/// Whether `hardware_id` belongs to an erased device of another account than `mi_id`: the
/// reactivation lock, until that account removes the device. No hardware id, no lock.
async fn reactivation_locked(
    connection: &mut AnyConnection,
    mi_id: MiId,
    hardware_id: &str,
) -> anyhow::Result<bool> {
    if hardware_id.is_empty() {
        return Ok(false);
    }
    let locked = sqlx::query(
        "SELECT 1 FROM devices WHERE hardware_id = $1 AND erased_at IS NOT NULL AND mi_id <> $2 \
         LIMIT 1",
    )
    .bind(hardware_id)
    .bind(mi_id.as_i64())
    .fetch_optional(&mut *connection)
    .await?;
    Ok(locked.is_some())
}

/// Whether device `device_id` of `mi_id` has a Lost Mode.
/// Queues the enable_lost_mode command that shows the Lost Mode a link restored on the device
/// (its row holds it now); returns the wake-up key for after the commit.
async fn queue_restored_lost_mode(
    connection: &mut AnyConnection,
    wake: &Wake,
    link: &NewLink<'_>,
) -> anyhow::Result<String> {
    let row = sqlx::query(
        "SELECT lost_mode_message, lost_mode_phone_number, lost_mode_footnote FROM devices \
         WHERE mi_id = $1 AND device_id = $2",
    )
    .bind(link.mi_id.as_i64())
    .bind(&link.info.device_id)
    .fetch_one(&mut *connection)
    .await?;
    let lost_mode = LostMode {
        message: row.try_get("lost_mode_message")?,
        phone_number: row.try_get("lost_mode_phone_number")?,
        footnote: row.try_get("lost_mode_footnote")?,
        since: None,
    };
    let command = Command {
        mi_id: link.mi_id,
        device_id: link.info.device_id.clone(),
        command_id: link.restore_command_id.clone(),
        sequence: 0,
        action: Action::EnableLostMode(lost_mode),
        state: CommandState::Queued,
        created_at: link.linked_at,
        delivered_at: None,
        completed_at: None,
        expires_at: None,
        not_now_count: 0,
        next_attempt_at: link.linked_at,
        location: None,
        error: None,
    };
    sql_commands::enqueue_in(connection, wake, &command).await
}

async fn has_lost_mode(
    connection: &mut AnyConnection,
    mi_id: MiId,
    device_id: &str,
) -> anyhow::Result<bool> {
    let row = sqlx::query(
        "SELECT 1 FROM devices WHERE mi_id = $1 AND device_id = $2 \
         AND lost_mode_since IS NOT NULL",
    )
    .bind(mi_id.as_i64())
    .bind(device_id)
    .fetch_optional(&mut *connection)
    .await?;
    Ok(row.is_some())
}

/// Gives the newly linked device `info` the Lost Mode an erased device of the same account
/// had on the same hardware (a new install after the erase); true if there was one.
async fn restore_lost_mode(
    connection: &mut AnyConnection,
    mi_id: MiId,
    info: &DeviceInfo,
) -> anyhow::Result<bool> {
    if info.hardware_id.is_empty() {
        return Ok(false);
    }
    let erased = sqlx::query(
        "SELECT lost_mode_message, lost_mode_phone_number, lost_mode_footnote, lost_mode_since \
         FROM devices WHERE mi_id = $1 AND hardware_id = $2 AND device_id <> $3 \
         AND erased_at IS NOT NULL AND lost_mode_since IS NOT NULL \
         ORDER BY erased_at DESC LIMIT 1",
    )
    .bind(mi_id.as_i64())
    .bind(&info.hardware_id)
    .bind(&info.device_id)
    .fetch_optional(&mut *connection)
    .await?;
    let Some(erased) = erased else {
        return Ok(false);
    };
    sqlx::query(
        "UPDATE devices SET lost_mode_message = $3, lost_mode_phone_number = $4, \
         lost_mode_footnote = $5, lost_mode_since = $6 WHERE mi_id = $1 AND device_id = $2",
    )
    .bind(mi_id.as_i64())
    .bind(&info.device_id)
    .bind(erased.try_get::<String, _>("lost_mode_message")?)
    .bind(erased.try_get::<String, _>("lost_mode_phone_number")?)
    .bind(erased.try_get::<String, _>("lost_mode_footnote")?)
    .bind(erased.try_get::<i64, _>("lost_mode_since")?)
    .execute(&mut *connection)
    .await?;
    Ok(true)
}

/// The key of a spent token: the Mi ID, then the device id's length, so no device id and jti
/// can pose as another pair.
fn token_key(mi_id: MiId, device_id: &str, jti: &str) -> String {
    format!("{mi_id}:{}:{device_id}:{jti}", device_id.len())
}

#[async_trait]
impl DeviceStore for SqlDeviceStore {
    async fn list(
        &self,
        mi_id: MiId,
        after: Option<&DevicePosition>,
        limit: i64,
    ) -> anyhow::Result<Vec<Device>> {
        let list = format!("SELECT {COLUMNS} FROM devices WHERE mi_id = $1");
        let first_page = format!("{list} {ORDER}");
        // Keyset paging: the devices after `after` in the list's order.
        let next_page =
            format!("{list} AND (linked_at < $3 OR (linked_at = $3 AND device_id > $4)) {ORDER}");
        let query = match after {
            None => sqlx::query(&first_page).bind(mi_id.as_i64()).bind(limit),
            Some(after) => sqlx::query(&next_page)
                .bind(mi_id.as_i64())
                .bind(limit)
                .bind(after.linked_at.as_i64())
                .bind(&after.device_id),
        };
        let rows = query.fetch_all(self.database.pool()).await?;
        rows.iter().map(|row| device_from_row(mi_id, row)).collect()
    }

    async fn get(&self, mi_id: MiId, device_id: &str) -> anyhow::Result<Option<Device>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM devices WHERE mi_id = $1 AND device_id = $2"
        ))
        .bind(mi_id.as_i64())
        .bind(device_id)
        .fetch_optional(self.database.pool())
        .await?;
        row.map(|row| device_from_row(mi_id, &row)).transpose()
    }

    async fn credential(
        &self,
        mi_id: MiId,
        device_id: &str,
    ) -> anyhow::Result<Option<DeviceCredential>> {
        let row = sqlx::query(
            "SELECT key_algorithm, public_key, push_token FROM devices \
             WHERE mi_id = $1 AND device_id = $2 AND key_algorithm <> ''",
        )
        .bind(mi_id.as_i64())
        .bind(device_id)
        .fetch_optional(self.database.pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let algorithm: String = row.try_get("key_algorithm")?;
        let public_key: String = row.try_get("public_key")?;
        Ok(Some(DeviceCredential {
            algorithm: algorithm.parse()?,
            public_key: BASE64_URL.decode(public_key)?,
            push_token: row.try_get("push_token")?,
        }))
    }

    async fn link(&self, link: &NewLink<'_>) -> anyhow::Result<LinkOutcome> {
        let Some(mut transaction) = self.begin(link.event_id).await? else {
            return Ok(LinkOutcome::AlreadyApplied);
        };
        let (mi_id, info) = (link.mi_id, link.info);
        if let Some(news) = link.account {
            accounts::apply_news(&mut transaction, mi_id, news).await?;
        }
        if reactivation_locked(&mut transaction, mi_id, &info.hardware_id).await? {
            // Committed all the same: the event is applied (nothing linked) and the audience
            // it carried is kept.
            transaction.commit().await?;
            return Ok(LinkOutcome::ReactivationLocked);
        }
        let known =
            sqlx::query("SELECT erased_at FROM devices WHERE mi_id = $1 AND device_id = $2")
                .bind(mi_id.as_i64())
                .bind(&info.device_id)
                .fetch_optional(&mut *transaction)
                .await?;
        let new_device = known.is_none();
        sqlx::query(
            "INSERT INTO devices (device_id, mi_id, model, os, name, hardware_id, capabilities, \
             linked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (mi_id, device_id) \
             DO UPDATE SET model = excluded.model, os = excluded.os, name = excluded.name, \
             hardware_id = excluded.hardware_id, capabilities = excluded.capabilities",
        )
        .bind(&info.device_id)
        .bind(mi_id.as_i64())
        .bind(&info.model)
        .bind(&info.os)
        .bind(&info.name)
        .bind(&info.hardware_id)
        .bind(capabilities_column(info))
        .bind(link.linked_at.as_i64())
        .execute(&mut *transaction)
        .await?;
        if let Some(credential) = &info.credential {
            sqlx::query(
                "UPDATE devices SET key_algorithm = $3, public_key = $4, push_token = $5 \
                 WHERE mi_id = $1 AND device_id = $2",
            )
            .bind(mi_id.as_i64())
            .bind(&info.device_id)
            .bind(credential.algorithm.to_string())
            .bind(BASE64_URL.encode(&credential.public_key))
            .bind(&credential.push_token)
            .execute(&mut *transaction)
            .await?;
        }
        let lost_mode_restored = match known {
            // An erased device linking again keeps the Lost Mode on its row.
            Some(known) => {
                let erased_at: Option<i64> = known.try_get("erased_at")?;
                erased_at.is_some()
                    && has_lost_mode(&mut transaction, mi_id, &info.device_id).await?
            }
            None => restore_lost_mode(&mut transaction, mi_id, info).await?,
        };
        let restored_key = if lost_mode_restored {
            Some(queue_restored_lost_mode(&mut transaction, &self.wake, link).await?)
        } else {
            None
        };
        if new_device || info.credential.is_some() {
            let linked = DeviceEvent::Linked {
                mi_id,
                info: info.without_credential(),
                new_device,
                actor: link.actor.clone(),
                // A sign-in's link alerts nobody: identity alerted that sign-in itself.
                audience: match link.account {
                    Some(_) => Audience::default(),
                    None => accounts::audience(&mut transaction, mi_id).await?,
                },
            };
            publish::enqueue(&self.outbox, &mut transaction, &linked).await?;
        }
        transaction.commit().await?;
        self.outbox.notify_committed();
        if let Some(key) = restored_key {
            self.wake.committed(&key);
        }
        Ok(LinkOutcome::Linked {
            new_device,
            lost_mode_restored,
        })
    }

    async fn remove(&self, mi_id: MiId, device_id: &str, actor: &Actor) -> anyhow::Result<bool> {
        let mut transaction = self.database.begin_write().await?;
        let removed = sqlx::query(
            "DELETE FROM devices WHERE mi_id = $1 AND device_id = $2 \
             RETURNING hardware_id, name",
        )
        .bind(mi_id.as_i64())
        .bind(device_id)
        .fetch_optional(&mut *transaction)
        .await?;
        let Some(removed) = removed else {
            transaction.rollback().await?;
            return Ok(false);
        };
        let device_name: String = removed.try_get("name")?;
        sql_commands::cancel_all(
            &mut transaction,
            &self.outbox,
            (mi_id, device_id, &device_name),
            actor,
        )
        .await?;
        sql_locations::delete_locations_in(&mut transaction, mi_id, device_id).await?;
        let event = DeviceEvent::Removed {
            mi_id,
            device_id: device_id.to_owned(),
            device_name,
            hardware_id: removed.try_get("hardware_id")?,
            actor: actor.clone(),
            audience: accounts::audience(&mut transaction, mi_id).await?,
        };
        publish::enqueue(&self.outbox, &mut transaction, &event).await?;
        let key = sql_commands::wake_key(mi_id, device_id);
        self.wake.notify(&mut transaction, &key).await?;
        transaction.commit().await?;
        self.outbox.notify_committed();
        self.wake.committed(&key);
        Ok(true)
    }

    async fn unlink_account(&self, event_id: &str, mi_id: MiId) -> anyhow::Result<bool> {
        let Some(mut transaction) =
            begin_once(&self.database, &self.consumer_group, event_id).await?
        else {
            return Ok(false);
        };
        // The account's commands and channels go with its devices.
        for table in ["devices", "device_commands", "device_channels"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE mi_id = $1"))
                .bind(mi_id.as_i64())
                .execute(&mut *transaction)
                .await?;
        }
        sql_locations::delete_account_locations(&mut transaction, mi_id).await?;
        accounts::forget(&mut transaction, mi_id).await?;
        transaction.commit().await?;
        Ok(true)
    }

    async fn apply_account_news(
        &self,
        event_id: &str,
        mi_id: MiId,
        news: &AccountNews,
    ) -> anyhow::Result<bool> {
        let Some(mut transaction) =
            begin_once(&self.database, &self.consumer_group, event_id).await?
        else {
            return Ok(false);
        };
        accounts::apply_news(&mut transaction, mi_id, news).await?;
        transaction.commit().await?;
        Ok(true)
    }

    async fn has_second_factor(&self, mi_id: MiId) -> anyhow::Result<bool> {
        let mut connection = self.database.pool().acquire().await?;
        accounts::has_second_factor(&mut connection, mi_id).await
    }

    async fn set_find_device(
        &self,
        mi_id: MiId,
        device_id: &str,
        enabled: bool,
        actor: &Actor,
    ) -> anyhow::Result<Option<Device>> {
        let mut transaction = self.database.begin_write().await?;
        let row = sqlx::query(
            "SELECT find_device_enabled, name FROM devices WHERE mi_id = $1 AND device_id = $2",
        )
        .bind(mi_id.as_i64())
        .bind(device_id)
        .fetch_optional(&mut *transaction)
        .await?;
        let Some(row) = row else {
            transaction.rollback().await?;
            return Ok(None);
        };
        let was_enabled: i64 = row.try_get("find_device_enabled")?;
        sqlx::query(
            "UPDATE devices SET find_device_enabled = $3 WHERE mi_id = $1 AND device_id = $2",
        )
        .bind(mi_id.as_i64())
        .bind(device_id)
        .bind(i64::from(enabled))
        .execute(&mut *transaction)
        .await?;
        if !enabled {
            // Off keeps nothing of where the device was: its last location and its history,
            // after the switch so a batch of reports writing meanwhile is waited for.
            sql_locations::delete_locations_in(&mut transaction, mi_id, device_id).await?;
        }
        if (was_enabled != 0) != enabled {
            let event = DeviceEvent::FindDeviceChanged {
                mi_id,
                device_id: device_id.to_owned(),
                device_name: row.try_get("name")?,
                enabled,
                actor: actor.clone(),
                audience: accounts::audience(&mut transaction, mi_id).await?,
            };
            publish::enqueue(&self.outbox, &mut transaction, &event).await?;
        }
        transaction.commit().await?;
        self.outbox.notify_committed();
        self.get(mi_id, device_id).await
    }

    async fn list_audit(
        &self,
        mi_id: MiId,
        after: Option<&AuditPosition>,
        limit: i64,
    ) -> anyhow::Result<Vec<AuditEntry>> {
        let mut connection = self.database.pool().acquire().await?;
        audit::list(&mut connection, mi_id, after, limit).await
    }

    async fn spend_token(
        &self,
        mi_id: MiId,
        device_id: &str,
        jti: &str,
        expires_at: UnixMillis,
    ) -> anyhow::Result<bool> {
        self.spent_tokens
            .spend(token_key(mi_id, device_id, jti), expires_at.as_i64())
            .await
    }

    async fn report_status(
        &self,
        mi_id: MiId,
        device_id: &str,
        status: &DeviceStatus,
    ) -> anyhow::Result<bool> {
        let updated = sqlx::query(
            "UPDATE devices SET last_seen_at = $3, battery_percent = $4, network_type = $5 \
             WHERE mi_id = $1 AND device_id = $2",
        )
        .bind(mi_id.as_i64())
        .bind(device_id)
        .bind(status.last_seen_at.map(UnixMillis::as_i64))
        .bind(status.battery_percent.map(i64::from))
        .bind(
            status
                .network
                .map(|network| network.to_string())
                .unwrap_or_default(),
        )
        .execute(self.database.pool())
        .await?;
        Ok(updated.rows_affected() == 1)
    }
}
