//! The `device` config section.

use std::net::SocketAddr;
use std::time::Duration;

use mi_platform::service::ServiceSettings;
use serde::Deserialize;

use crate::storage::GroupCommitSettings;

/// Settings of the device registry (`MI_DEVICE__...`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// gRPC listen address.
    pub listen_addr: SocketAddr,
    /// Identity's public keys that sign access tokens, as `kid:x` (what identity's
    /// ListSigningKeys returns), the current key and every previous one still signing live
    /// tokens (`MI_DEVICE__ACCESS_TOKEN_KEYS`, or `..._FILE`). Required with PostgreSQL; in
    /// embedded mode, by default, the public half of identity's development key.
    pub access_token_keys: Vec<String>,
    /// How long after a password or second factor (the access token's `auth_time`) the owner
    /// may enroll or remove a device; as identity's `recent_auth_window`.
    #[serde(with = "humantime_serde")]
    pub recent_auth_window: Duration,
    /// How long the owner's audit trail keeps an entry (`MI_DEVICE__AUDIT_RETENTION`); the
    /// retention job deletes older ones. 400 days: a year of history, and then some.
    #[serde(with = "humantime_serde")]
    pub audit_retention: Duration,
    /// How long a finished command stays (ListCommands shows it; the retention job deletes it
    /// then). A week: enough for the owner to see what each command did and for support to
    /// follow up on a complaint; the audit trail keeps that it happened for
    /// `audit_retention`, while a Locate's result, a location, does not stay for as long.
    /// Unfinished commands are never deleted.
    #[serde(with = "humantime_serde")]
    pub command_retention: Duration,
    /// How often an open command channel sends a heartbeat (and marks itself alive; a channel
    /// silent for two heartbeats counts as closed, and its device is woken by push).
    #[serde(with = "humantime_serde")]
    pub channel_heartbeat: Duration,
    /// How long each kind of Find Device command waits for its device; erase waits until it
    /// is done or canceled.
    pub command_expiry: CommandExpirySettings,
    /// After a device answers not now: the first wait before the command is delivered again,
    /// doubling with each not-now up to `not_now_backoff_max`.
    #[serde(with = "humantime_serde")]
    pub not_now_backoff: Duration,
    /// The longest wait after a not-now.
    #[serde(with = "humantime_serde")]
    pub not_now_backoff_max: Duration,
    /// How often command watchers look for changes they were not woken for (a missed
    /// wake-up), and how often expired commands are swept. A command channel looks again at
    /// each heartbeat instead: thousands of idle channels polling every few seconds cost more
    /// than the rest of the registry.
    #[serde(with = "humantime_serde")]
    pub command_poll: Duration,
    /// How long reported locations are kept (ListLocations shows this much; the retention
    /// job deletes older ones), and how old a reported location may be.
    #[serde(with = "humantime_serde")]
    pub location_history: Duration,
    /// How location reports are written: concurrent calls share one transaction.
    pub location_writes: GroupWrites,
    /// How the tokens of device-side calls are spent (each token once, a replay refused):
    /// concurrent calls share one transaction, rather than each waiting for a commit of its
    /// own.
    pub token_writes: GroupWrites,
}

/// `device.command_expiry`: how long each kind of command waits for its device.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default)]
pub struct CommandExpirySettings {
    /// Locate (10 minutes: an old location is of no use).
    #[serde(with = "humantime_serde")]
    pub locate: Duration,
    /// Ring (10 minutes).
    #[serde(with = "humantime_serde")]
    pub ring: Duration,
    /// Lost Mode on (7 days).
    #[serde(with = "humantime_serde")]
    pub enable_lost_mode: Duration,
    /// Lost Mode off (7 days).
    #[serde(with = "humantime_serde")]
    pub disable_lost_mode: Duration,
    /// The owner's sync settings (7 days; the device reads them again whenever it connects).
    #[serde(with = "humantime_serde")]
    pub apply_sync_settings: Duration,
}

impl Default for CommandExpirySettings {
    fn default() -> Self {
        const DAY: Duration = Duration::from_secs(24 * 3600);
        Self {
            locate: Duration::from_secs(600),
            ring: Duration::from_secs(600),
            enable_lost_mode: DAY.saturating_mul(7),
            disable_lost_mode: DAY.saturating_mul(7),
            apply_sync_settings: DAY.saturating_mul(7),
        }
    }
}

/// A group commit: concurrent calls share one transaction (`MI_DEVICE__LOCATION_WRITES__...`,
/// `MI_DEVICE__TOKEN_WRITES__...`).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default)]
pub struct GroupWrites {
    /// The most calls one transaction writes (a location report holds up to 100 locations).
    pub max_calls: usize,
    /// Calls waiting for a writer beyond which new calls wait to be queued.
    pub queue: usize,
    /// Transactions written at once.
    pub writers: usize,
}

impl Default for GroupWrites {
    fn default() -> Self {
        Self {
            max_calls: 256,
            queue: 10_000,
            writers: 2,
        }
    }
}

impl From<GroupWrites> for GroupCommitSettings {
    fn from(writes: GroupWrites) -> Self {
        Self {
            max_calls: writes.max_calls,
            queue: writes.queue,
            writers: writes.writers,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 50054)),
            access_token_keys: Vec::new(),
            recent_auth_window: Duration::from_secs(300),
            audit_retention: Duration::from_secs(400 * 24 * 3600),
            command_retention: Duration::from_secs(7 * 24 * 3600),
            channel_heartbeat: Duration::from_secs(30),
            command_expiry: CommandExpirySettings::default(),
            not_now_backoff: Duration::from_secs(30),
            not_now_backoff_max: Duration::from_secs(600),
            command_poll: Duration::from_secs(5),
            location_history: Duration::from_secs(24 * 60 * 60),
            location_writes: GroupWrites::default(),
            token_writes: GroupWrites::default(),
        }
    }
}

impl ServiceSettings for Settings {
    fn listen_addr(&self) -> SocketAddr {
        self.listen_addr
    }
}
