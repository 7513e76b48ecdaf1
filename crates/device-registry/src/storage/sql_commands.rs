//! The SQL command store: the queue's commands and the devices' open channels. Every change
//! of a command wakes its device's key (`mi_platform::wake`): the device's channel and the
//! command's watchers, on every replica.

use async_trait::async_trait;
use mi_contracts::{MiId, UnixMillis};
use mi_platform::db::Database;
use mi_platform::outbox::Outbox;
use mi_platform::retention::Expiry;
use mi_platform::wake::Wake;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::accounts;
use crate::domain::commands::{
    Action, Command, CommandPosition, CommandState, CommandStore, Effect, Finish, IssueOutcome,
};
use crate::domain::events::{Actor, Audience, CommandOutcome, DeviceEvent};
use crate::domain::{Location, LocationSource, LostMode};
use crate::publish;

const COLUMNS: &str = "mi_id, device_id, command_id, sequence, action, lost_mode_message, \
                       lost_mode_phone_number, lost_mode_footnote, sync_settings, state, \
                       created_at, \
                       delivered_at, completed_at, expires_at, not_now_count, next_attempt_at, \
                       result_latitude, result_longitude, result_accuracy_meters, \
                       result_located_at, result_location_source, result_location_battery, \
                       error_code, error_message";
/// The stored states of an unfinished command, for `state IN (...)`.
pub(super) const UNFINISHED: &str = "('queued', 'delivered', 'not_now')";
const ONE: &str = "mi_id = $1 AND device_id = $2 AND command_id = $3";

/// The rule that deletes commands finished more than `command_retention` ago (see
/// `mi_platform::retention`). An unfinished one stays however old: an erase waits for its
/// device as long as it takes.
pub(crate) fn expiry(command_retention: std::time::Duration) -> Expiry {
    Expiry::after(
        "device_commands",
        "mi_id, device_id, command_id",
        "completed_at",
        command_retention,
    )
    .only_if(format!("state NOT IN {UNFINISHED}"))
}

/// The wake-up key of a device's channel and its commands' watchers.
pub(crate) fn wake_key(mi_id: MiId, device_id: &str) -> String {
    format!("{mi_id}:{device_id}")
}

/// Commands in the device registry's database.
#[derive(Debug, Clone)]
pub(crate) struct SqlCommandStore {
    database: Database,
    outbox: Outbox,
    wake: Wake,
}

impl SqlCommandStore {
    /// A store over a migrated database, recording events in `outbox`, waking through `wake`.
    pub(crate) fn new(database: Database, outbox: Outbox, wake: Wake) -> Self {
        Self {
            database,
            outbox,
            wake,
        }
    }

    /// Runs `statement` (binding mi_id, device_id, command_id, then `extra`) as one write that
    /// wakes the device's key; whether it changed a row.
    async fn update_one(
        &self,
        command: &Command,
        statement: &str,
        extra: i64,
    ) -> anyhow::Result<bool> {
        // A delivery or a not-now lost in a crash of the database only means the command is
        // delivered again (sooner), which the device ignores by its id: no need to wait for
        // the disk, which on the way to a connected device is most of its latency.
        let mut transaction = self.database.begin_write_unflushed().await?;
        let updated = sqlx::query(statement)
            .bind(command.mi_id.as_i64())
            .bind(&command.device_id)
            .bind(&command.command_id)
            .bind(extra)
            .execute(&mut *transaction)
            .await?
            .rows_affected()
            == 1;
        let key = wake_key(command.mi_id, &command.device_id);
        if updated {
            self.wake.notify(&mut transaction, &key).await?;
        }
        transaction.commit().await?;
        if updated {
            self.wake.committed(&key);
        }
        Ok(updated)
    }
}

/// Inserts `command` at the end of its device's queue in the caller's transaction; `None` if
/// its id is taken, or if a concurrent insert took the next sequence (the caller retries).
async fn insert_in(
    connection: &mut AnyConnection,
    command: &Command,
) -> anyhow::Result<Option<i64>> {
    let (mi_id, device_id) = (command.mi_id, command.device_id.as_str());
    let no_lost_mode = LostMode {
        message: String::new(),
        phone_number: String::new(),
        footnote: String::new(),
        since: None,
    };
    let (lost_mode, sync_settings) = match &command.action {
        Action::EnableLostMode(lost_mode) => (lost_mode, String::new()),
        Action::ApplySyncSettings(settings) => (&no_lost_mode, serde_json::to_string(settings)?),
        _ => (&no_lost_mode, String::new()),
    };
    let sequence: i64 = sqlx::query(
        "SELECT COALESCE(MAX(sequence), 0) + 1 AS next FROM device_commands \
         WHERE mi_id = $1 AND device_id = $2",
    )
    .bind(mi_id.as_i64())
    .bind(device_id)
    .fetch_one(&mut *connection)
    .await?
    .try_get("next")?;
    let inserted = sqlx::query(
        "INSERT INTO device_commands (mi_id, device_id, command_id, sequence, action, \
         lost_mode_message, lost_mode_phone_number, lost_mode_footnote, sync_settings, state, \
         created_at, expires_at, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING",
    )
    .bind(mi_id.as_i64())
    .bind(device_id)
    .bind(&command.command_id)
    .bind(sequence)
    .bind(command.action.name())
    .bind(&lost_mode.message)
    .bind(&lost_mode.phone_number)
    .bind(&lost_mode.footnote)
    .bind(sync_settings)
    .bind(command.state.to_string())
    .bind(command.created_at.as_i64())
    .bind(command.expires_at.map(UnixMillis::as_i64))
    .bind(command.next_attempt_at.as_i64())
    .execute(&mut *connection)
    .await?
    .rows_affected();
    Ok((inserted == 1).then_some(sequence))
}

/// Queues `command` in the caller's transaction, for a change that must reach the device
/// (the owner's sync settings): no event of its own (the change records one), no push (it is
/// not urgent: the device gets it when it next connects). Returns the wake-up key to pass to
/// [`Wake::committed`] after the commit.
pub(crate) async fn enqueue_in(
    connection: &mut AnyConnection,
    wake: &Wake,
    command: &Command,
) -> anyhow::Result<String> {
    // Each device's row is locked by the change that queues this, so the sequence is free
    // unless IssueCommand raced it; one retry covers that.
    if insert_in(connection, command).await?.is_none()
        && insert_in(connection, command).await?.is_none()
    {
        anyhow::bail!("no free command sequence for {}", command.command_id);
    }
    let key = wake_key(command.mi_id, &command.device_id);
    wake.notify(connection, &key).await?;
    Ok(key)
}

fn action_from_row(row: &AnyRow) -> anyhow::Result<Action> {
    let name: String = row.try_get("action")?;
    Ok(match name.as_str() {
        "locate" => Action::Locate,
        "ring" => Action::Ring,
        "enable_lost_mode" => Action::EnableLostMode(LostMode {
            message: row.try_get("lost_mode_message")?,
            phone_number: row.try_get("lost_mode_phone_number")?,
            footnote: row.try_get("lost_mode_footnote")?,
            since: None,
        }),
        "disable_lost_mode" => Action::DisableLostMode,
        "erase" => Action::Erase,
        "apply_sync_settings" => {
            let settings: String = row.try_get("sync_settings")?;
            Action::ApplySyncSettings(serde_json::from_str(&settings)?)
        }
        other => anyhow::bail!("unknown stored command action {other:?}"),
    })
}

fn command_from_row(row: &AnyRow) -> anyhow::Result<Command> {
    let time = |column: &str| -> anyhow::Result<Option<UnixMillis>> {
        Ok(row
            .try_get::<Option<i64>, _>(column)?
            .map(UnixMillis::from_i64))
    };
    let state: String = row.try_get("state")?;
    let location = match time("result_located_at")? {
        None => None,
        Some(measured_at) => {
            let source: String = row.try_get("result_location_source")?;
            let battery: Option<i64> = row.try_get("result_location_battery")?;
            Some(Location {
                latitude: row.try_get("result_latitude")?,
                longitude: row.try_get("result_longitude")?,
                accuracy_meters: row.try_get("result_accuracy_meters")?,
                measured_at,
                source: (!source.is_empty())
                    .then(|| source.parse::<LocationSource>())
                    .transpose()?,
                battery_percent: battery.map(u32::try_from).transpose()?,
            })
        }
    };
    let error_code: String = row.try_get("error_code")?;
    let error_message: String = row.try_get("error_message")?;
    Ok(Command {
        mi_id: MiId::new(u64::try_from(row.try_get::<i64, _>("mi_id")?)?)?,
        device_id: row.try_get("device_id")?,
        command_id: row.try_get("command_id")?,
        sequence: row.try_get("sequence")?,
        action: action_from_row(row)?,
        state: state.parse()?,
        created_at: UnixMillis::from_i64(row.try_get("created_at")?),
        delivered_at: time("delivered_at")?,
        completed_at: time("completed_at")?,
        expires_at: time("expires_at")?,
        not_now_count: u32::try_from(row.try_get::<i64, _>("not_now_count")?)?,
        next_attempt_at: UnixMillis::from_i64(row.try_get("next_attempt_at")?),
        location,
        error: (!error_code.is_empty() || !error_message.is_empty())
            .then_some((error_code, error_message)),
    })
}

fn outcome_of(state: CommandState) -> anyhow::Result<CommandOutcome> {
    Ok(match state {
        CommandState::Succeeded => CommandOutcome::Succeeded,
        CommandState::Failed => CommandOutcome::Failed,
        CommandState::Expired => CommandOutcome::Expired,
        CommandState::Canceled => CommandOutcome::Canceled,
        unfinished => anyhow::bail!("{unfinished} is no finish"),
    })
}

/// A device's name and hardware id (empty when it is gone).
async fn device_names(
    connection: &mut AnyConnection,
    mi_id: MiId,
    device_id: &str,
) -> anyhow::Result<(String, String)> {
    let row =
        sqlx::query("SELECT name, hardware_id FROM devices WHERE mi_id = $1 AND device_id = $2")
            .bind(mi_id.as_i64())
            .bind(device_id)
            .fetch_optional(&mut *connection)
            .await?;
    Ok(match row {
        Some(row) => (row.try_get("name")?, row.try_get("hardware_id")?),
        None => (String::new(), String::new()),
    })
}

/// Records `event` in the caller's transaction, addressed to the account's contacts as they are
/// now (the notification service decides which events alert them).
async fn record(
    outbox: &Outbox,
    connection: &mut AnyConnection,
    event: DeviceEvent,
) -> anyhow::Result<()> {
    let audience = accounts::audience(connection, event.mi_id()).await?;
    publish::enqueue(outbox, connection, &event.addressed_to(audience)).await
}

fn completed(
    command: &Command,
    device_name: &str,
    outcome: CommandOutcome,
    actor: &Actor,
) -> DeviceEvent {
    DeviceEvent::CommandCompleted {
        mi_id: command.mi_id,
        device_id: command.device_id.clone(),
        device_name: device_name.to_owned(),
        command_id: command.command_id.clone(),
        action: command.action.name(),
        outcome,
        actor: actor.clone(),
        audience: Audience::default(),
    }
}

/// Cancels every unfinished command of a device inside the caller's transaction (RemoveDevice),
/// recording `CommandCompleted` for each, and forgets its channel; the caller wakes the key
/// after commit.
pub(crate) async fn cancel_all(
    connection: &mut AnyConnection,
    outbox: &Outbox,
    (mi_id, device_id, device_name): (MiId, &str, &str),
    actor: &Actor,
) -> anyhow::Result<()> {
    let rows = sqlx::query(&format!(
        "UPDATE device_commands SET state = 'canceled', completed_at = $3 \
         WHERE mi_id = $1 AND device_id = $2 AND state IN {UNFINISHED} RETURNING {COLUMNS}"
    ))
    .bind(mi_id.as_i64())
    .bind(device_id)
    .bind(UnixMillis::now().as_i64())
    .fetch_all(&mut *connection)
    .await?;
    for row in &rows {
        let command = command_from_row(row)?;
        let event = completed(&command, device_name, CommandOutcome::Canceled, actor);
        record(outbox, connection, event).await?;
    }
    sqlx::query("DELETE FROM device_channels WHERE mi_id = $1 AND device_id = $2")
        .bind(mi_id.as_i64())
        .bind(device_id)
        .execute(&mut *connection)
        .await?;
    Ok(())
}

/// Applies a finish's effect to the device's row; the event it records, if any.
async fn apply_effect(
    connection: &mut AnyConnection,
    command: &Command,
    finish: &Finish,
    (device_name, hardware_id): (&str, &str),
) -> anyhow::Result<Option<DeviceEvent>> {
    let Some(effect) = &finish.effect else {
        return Ok(None);
    };
    let (mi_id, device_id) = (command.mi_id, command.device_id.clone());
    let event = match effect {
        Effect::Located(location) => {
            sqlx::query(
                "UPDATE devices SET last_latitude = $3, last_longitude = $4, \
                 last_accuracy_meters = $5, last_located_at = $6, last_location_source = $7, \
                 last_location_battery = $8 WHERE mi_id = $1 AND device_id = $2",
            )
            .bind(mi_id.as_i64())
            .bind(&device_id)
            .bind(location.latitude)
            .bind(location.longitude)
            .bind(location.accuracy_meters)
            .bind(location.measured_at.as_i64())
            .bind(
                location
                    .source
                    .map(|source| source.to_string())
                    .unwrap_or_default(),
            )
            .bind(location.battery_percent.map(i64::from))
            .execute(&mut *connection)
            .await?;
            None
        }
        Effect::LostModeOn(lost_mode) => {
            sqlx::query(
                "UPDATE devices SET lost_mode_message = $3, lost_mode_phone_number = $4, \
                 lost_mode_footnote = $5, lost_mode_since = $6 \
                 WHERE mi_id = $1 AND device_id = $2",
            )
            .bind(mi_id.as_i64())
            .bind(&device_id)
            .bind(&lost_mode.message)
            .bind(&lost_mode.phone_number)
            .bind(&lost_mode.footnote)
            .bind(lost_mode.since.unwrap_or(finish.at).as_i64())
            .execute(&mut *connection)
            .await?;
            Some(lost_mode_changed(command, device_name, true))
        }
        Effect::LostModeOff => {
            sqlx::query(
                "UPDATE devices SET lost_mode_message = '', lost_mode_phone_number = '', \
                 lost_mode_footnote = '', lost_mode_since = NULL \
                 WHERE mi_id = $1 AND device_id = $2",
            )
            .bind(mi_id.as_i64())
            .bind(&device_id)
            .execute(&mut *connection)
            .await?;
            Some(lost_mode_changed(command, device_name, false))
        }
        Effect::Erased => {
            sqlx::query("UPDATE devices SET erased_at = $3 WHERE mi_id = $1 AND device_id = $2")
                .bind(mi_id.as_i64())
                .bind(&device_id)
                .bind(finish.at.as_i64())
                .execute(&mut *connection)
                .await?;
            Some(DeviceEvent::Erased {
                mi_id,
                device_id,
                device_name: device_name.to_owned(),
                hardware_id: hardware_id.to_owned(),
                audience: Audience::default(),
            })
        }
    };
    Ok(event)
}

fn lost_mode_changed(command: &Command, device_name: &str, enabled: bool) -> DeviceEvent {
    DeviceEvent::LostModeChanged {
        mi_id: command.mi_id,
        device_id: command.device_id.clone(),
        device_name: device_name.to_owned(),
        enabled,
        audience: Audience::default(),
    }
}

#[async_trait]
impl CommandStore for SqlCommandStore {
    async fn issue(
        &self,
        command: &Command,
        actor: &Actor,
        channel_stale: std::time::Duration,
    ) -> anyhow::Result<IssueOutcome> {
        let (mi_id, device_id) = (command.mi_id, command.device_id.as_str());
        // Two issues at once on PostgreSQL may pick the same sequence: the later insert then
        // conflicts, and tries the next one.
        for _ in 0..3 {
            let mut transaction = self.database.begin_write().await?;
            let inserted = insert_in(&mut transaction, command).await?;
            let Some(sequence) = inserted else {
                transaction.rollback().await?;
                if let Some(existing) = self.get(mi_id, device_id, &command.command_id).await? {
                    return Ok(IssueOutcome::Existing(existing));
                }
                let erase_pending = sqlx::query(&format!(
                    "SELECT 1 FROM device_commands WHERE mi_id = $1 AND device_id = $2 \
                     AND action = 'erase' AND state IN {UNFINISHED}"
                ))
                .bind(mi_id.as_i64())
                .bind(device_id)
                .fetch_optional(self.database.pool())
                .await?
                .is_some();
                if command.action == Action::Erase && erase_pending {
                    return Ok(IssueOutcome::ErasePending);
                }
                continue;
            };
            let device = sqlx::query(
                "SELECT name, push_token, EXISTS (SELECT 1 FROM device_channels ch \
                 WHERE ch.mi_id = $1 AND ch.device_id = $2 AND ch.heartbeat_at > $3) AS online \
                 FROM devices WHERE mi_id = $1 AND device_id = $2",
            )
            .bind(mi_id.as_i64())
            .bind(device_id)
            .bind(command.created_at.saturating_sub(channel_stale).as_i64())
            .fetch_one(&mut *transaction)
            .await?;
            let online: bool = match device.try_get::<bool, _>("online") {
                Ok(online) => online,
                // SQLite answers EXISTS with an integer.
                Err(_) => device.try_get::<i64, _>("online")? != 0,
            };
            let event = DeviceEvent::CommandIssued {
                mi_id,
                device_id: device_id.to_owned(),
                device_name: device.try_get("name")?,
                command_id: command.command_id.clone(),
                action: command.action.name(),
                push_token: if online {
                    String::new()
                } else {
                    device.try_get("push_token")?
                },
                actor: actor.clone(),
                audience: Audience::default(),
            };
            record(&self.outbox, &mut transaction, event).await?;
            let key = wake_key(mi_id, device_id);
            self.wake.notify(&mut transaction, &key).await?;
            transaction.commit().await?;
            self.outbox.notify_committed();
            self.wake.committed(&key);
            return Ok(IssueOutcome::Issued(Command {
                sequence,
                ..command.clone()
            }));
        }
        anyhow::bail!("no free command sequence after three tries")
    }

    async fn get(
        &self,
        mi_id: MiId,
        device_id: &str,
        command_id: &str,
    ) -> anyhow::Result<Option<Command>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM device_commands WHERE {ONE}"
        ))
        .bind(mi_id.as_i64())
        .bind(device_id)
        .bind(command_id)
        .fetch_optional(self.database.pool())
        .await?;
        row.as_ref().map(command_from_row).transpose()
    }

    async fn list(
        &self,
        mi_id: MiId,
        device_id: &str,
        after: Option<&CommandPosition>,
        limit: i64,
    ) -> anyhow::Result<Vec<Command>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM device_commands WHERE mi_id = $1 AND device_id = $2 \
             AND sequence < $3 ORDER BY sequence DESC LIMIT $4"
        ))
        .bind(mi_id.as_i64())
        .bind(device_id)
        .bind(after.map_or(i64::MAX, |after| after.sequence))
        .bind(limit)
        .fetch_all(self.database.pool())
        .await?;
        rows.iter().map(command_from_row).collect()
    }

    async fn finish(
        &self,
        command: &Command,
        finish: &Finish,
        actor: &Actor,
    ) -> anyhow::Result<bool> {
        let outcome = outcome_of(finish.state)?;
        let mut transaction = self.database.begin_write().await?;
        let location = finish.location.as_ref();
        let (error_code, error_message) = finish.error.clone().unwrap_or_default();
        let updated = sqlx::query(&format!(
            "UPDATE device_commands SET state = $4, completed_at = $5, result_latitude = $6, \
             result_longitude = $7, result_accuracy_meters = $8, result_located_at = $9, \
             result_location_source = $10, result_location_battery = $11, error_code = $12, \
             error_message = $13 WHERE {ONE} AND state IN {UNFINISHED}"
        ))
        .bind(command.mi_id.as_i64())
        .bind(&command.device_id)
        .bind(&command.command_id)
        .bind(finish.state.to_string())
        .bind(finish.at.as_i64())
        .bind(location.map(|location| location.latitude))
        .bind(location.map(|location| location.longitude))
        .bind(location.map(|location| location.accuracy_meters))
        .bind(location.map(|location| location.measured_at.as_i64()))
        .bind(
            location
                .and_then(|location| location.source)
                .map(|source| source.to_string())
                .unwrap_or_default(),
        )
        .bind(location.and_then(|location| location.battery_percent.map(i64::from)))
        .bind(error_code)
        .bind(error_message)
        .execute(&mut *transaction)
        .await?
        .rows_affected()
            == 1;
        if !updated {
            transaction.rollback().await?;
            return Ok(false);
        }
        let (device_name, hardware_id) =
            device_names(&mut transaction, command.mi_id, &command.device_id).await?;
        let effect_event = apply_effect(
            &mut transaction,
            command,
            finish,
            (&device_name, &hardware_id),
        )
        .await?;
        let event = completed(command, &device_name, outcome, actor);
        record(&self.outbox, &mut transaction, event).await?;
        if let Some(effect_event) = effect_event {
            record(&self.outbox, &mut transaction, effect_event).await?;
        }
        let key = wake_key(command.mi_id, &command.device_id);
        self.wake.notify(&mut transaction, &key).await?;
        transaction.commit().await?;
        self.outbox.notify_committed();
        self.wake.committed(&key);
        Ok(true)
    }

    async fn not_now(
        &self,
        command: &Command,
        next_attempt_at: UnixMillis,
    ) -> anyhow::Result<bool> {
        self.update_one(
            command,
            &format!(
                "UPDATE device_commands SET state = 'not_now', \
                 not_now_count = not_now_count + 1, next_attempt_at = $4 \
                 WHERE {ONE} AND state IN {UNFINISHED}"
            ),
            next_attempt_at.as_i64(),
        )
        .await
    }

    async fn mark_delivered(&self, command: &Command, at: UnixMillis) -> anyhow::Result<bool> {
        self.update_one(
            command,
            &format!(
                "UPDATE device_commands SET state = 'delivered', delivered_at = $4 \
                 WHERE {ONE} AND state IN {UNFINISHED}"
            ),
            at.as_i64(),
        )
        .await
    }

    async fn due(
        &self,
        mi_id: MiId,
        device_id: &str,
        now: UnixMillis,
    ) -> anyhow::Result<(Vec<Command>, Option<UnixMillis>)> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM device_commands WHERE mi_id = $1 AND device_id = $2 \
             AND state IN {UNFINISHED} ORDER BY sequence"
        ))
        .bind(mi_id.as_i64())
        .bind(device_id)
        .fetch_all(self.database.pool())
        .await?;
        let unfinished = rows
            .iter()
            .map(command_from_row)
            .collect::<anyhow::Result<Vec<_>>>()?;
        let (due, later): (Vec<_>, Vec<_>) = unfinished
            .into_iter()
            .partition(|command| command.next_attempt_at <= now);
        let next_due = later.iter().map(|command| command.next_attempt_at).min();
        Ok((due, next_due))
    }

    async fn expired(&self, now: UnixMillis, limit: i64) -> anyhow::Result<Vec<Command>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM device_commands WHERE state IN {UNFINISHED} \
             AND expires_at <= $1 ORDER BY expires_at LIMIT $2"
        ))
        .bind(now.as_i64())
        .bind(limit)
        .fetch_all(self.database.pool())
        .await?;
        rows.iter().map(command_from_row).collect()
    }

    async fn open_channel(
        &self,
        mi_id: MiId,
        device_id: &str,
        channel_id: &str,
        now: UnixMillis,
    ) -> anyhow::Result<()> {
        let mut transaction = self.database.begin_write().await?;
        sqlx::query(
            "INSERT INTO device_channels (mi_id, device_id, channel_id, heartbeat_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (mi_id, device_id) DO UPDATE \
             SET channel_id = excluded.channel_id, heartbeat_at = excluded.heartbeat_at",
        )
        .bind(mi_id.as_i64())
        .bind(device_id)
        .bind(channel_id)
        .bind(now.as_i64())
        .execute(&mut *transaction)
        .await?;
        // The channel it replaces wakes, and ends.
        let key = wake_key(mi_id, device_id);
        self.wake.notify(&mut transaction, &key).await?;
        transaction.commit().await?;
        self.wake.committed(&key);
        Ok(())
    }

    async fn channel_heartbeat(
        &self,
        mi_id: MiId,
        device_id: &str,
        channel_id: &str,
        now: UnixMillis,
    ) -> anyhow::Result<bool> {
        let updated = sqlx::query(
            "UPDATE device_channels SET heartbeat_at = $4 \
             WHERE mi_id = $1 AND device_id = $2 AND channel_id = $3",
        )
        .bind(mi_id.as_i64())
        .bind(device_id)
        .bind(channel_id)
        .bind(now.as_i64())
        .execute(self.database.pool())
        .await?;
        Ok(updated.rows_affected() == 1)
    }

    async fn channel_open(
        &self,
        mi_id: MiId,
        device_id: &str,
        channel_id: &str,
    ) -> anyhow::Result<bool> {
        let open = sqlx::query(
            "SELECT 1 FROM device_channels \
             WHERE mi_id = $1 AND device_id = $2 AND channel_id = $3",
        )
        .bind(mi_id.as_i64())
        .bind(device_id)
        .bind(channel_id)
        .fetch_optional(self.database.pool())
        .await?;
        Ok(open.is_some())
    }

    async fn close_channel(
        &self,
        mi_id: MiId,
        device_id: &str,
        channel_id: &str,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "DELETE FROM device_channels WHERE mi_id = $1 AND device_id = $2 AND channel_id = $3",
        )
        .bind(mi_id.as_i64())
        .bind(device_id)
        .bind(channel_id)
        .execute(self.database.pool())
        .await?;
        Ok(())
    }
}
