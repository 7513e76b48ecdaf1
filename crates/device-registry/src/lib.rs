//! The device registry: which devices are linked to which account.
//!
//! Following one request, each step at most three hops from the last:
//! - `ListDevices` (`proto/mi/device/v1/device.proto`) → `grpc/mod.rs` (the caller's account
//!   from its access token, verified offline by `mi_platform::auth`; wire ↔ domain, paging by
//!   `mi_platform::paging`) → `domain/listing.rs` → the [`domain::DeviceStore`] trait in
//!   `domain/store.rs` → its SQL in `storage/sql.rs`.
//! - `RemoveDevice` → `grpc/owner.rs` (the owner from the access token, its `auth_time` for
//!   the recent-authentication rule) → `domain/removal.rs` → `storage/sql.rs`, which deletes
//!   the row and records `DeviceRemoved` in one transaction → `publish.rs` (the event as an
//!   `mi.events.v1` payload in the outbox) → the device topic, which identity consumes to
//!   revoke the device's sessions.
//! - `ReportDeviceStatus` → `grpc/device_side.rs` (the device token from the metadata) →
//!   `domain/device_calls.rs` (the token checked against the device's enrolled key, its `jti`
//!   spent once) → `storage/sql.rs`.
//! - `SetFindDevice` → `grpc/find_device.rs` (the device token; to turn it off, the owner's
//!   access token in the request, verified like any) → `domain/find_device.rs` (same account,
//!   recent, second factor if the account has one) → `storage/sql.rs`.
//! - `ListAuditEntries` → `grpc/audit.rs` → `domain/audit.rs` → `storage/audit.rs`; the
//!   entries are written by `publish.rs` with each device event.
//! - `ReportLocations` → `grpc/locations.rs` → `domain/locations/` (each location checked,
//!   nothing kept while Find Device is off) → `storage/sql_locations.rs`, whose writes of
//!   concurrent calls share one transaction (`mi_platform::group_commit`). `ListLocations` the
//!   same way back.
//! - `GetSyncSettings` / `UpdateSyncSettings` (owner) and `GetOwnSyncSettings` /
//!   `UpdateOwnSyncSettings` (device) → `grpc/sync_settings.rs` → `domain/sync_settings/`
//!   (the version rule) → `storage/sql_sync.rs` (compare-and-set, `SyncSettingsChanged` in the
//!   same transaction).
//! - Identity's `SignedIn` and `AccountDeleted` (the identity topic) → `consume/mod.rs`
//!   (protobuf → domain) → `domain/linking.rs` → `storage/sql.rs`, which applies each event
//!   once; every identity event with an alert audience → `domain/accounts.rs` →
//!   `storage/accounts.rs` (the audience device events carry, the second-factor flag).

pub(crate) mod config;
pub(crate) mod consume;
pub(crate) mod domain;
pub(crate) mod grpc;
pub(crate) mod publish;
pub(crate) mod storage;

use std::sync::Arc;

use mi_platform::auth::AccessTokenVerifier;
use mi_platform::host::ServiceHost;
use mi_platform::service::{GrpcServices, Service};
use mi_platform::tokens::PublicKey;
use mi_proto::device::v1::device_registry_service_server::DeviceRegistryServiceServer;
use sqlx::migrate::Migrator;

use crate::config::Settings;
use crate::domain::DeviceRegistry;
use crate::domain::commands::{CommandExpiry, CommandQueue, NotNowBackoff, QueueTimings};
use crate::storage::{SqlCommandStore, SqlDeviceStore, SqlLocationStore, SqlSyncSettingsStore};

/// The device registry, as the platform runs it.
#[derive(Debug)]
pub struct DeviceRegistryService;

#[async_trait::async_trait]
impl Service for DeviceRegistryService {
    const NAME: &'static str = "device";
    const MIGRATIONS: Migrator = sqlx::migrate!("./migrations");
    type Settings = Settings;

    async fn build(settings: Settings, host: &mut ServiceHost) -> anyhow::Result<GrpcServices> {
        // Identity's keys come from configuration, not from identity: services share nothing
        // but events, and a trust anchor must not be something anyone able to publish on the
        // bus could replace. Rotation: add the new key here, then let identity sign with it.
        let keys = PublicKey::configured_or_dev(
            &settings.access_token_keys,
            host.platform()
                .config
                .dev_key_file("identity-token")
                .as_deref(),
            "device.access_token_keys",
        )?;
        let access_tokens = AccessTokenVerifier::new(&keys)?;
        let wake = host.spawn_wake("device_commands", settings.command_poll)?;
        let devices = Arc::new(SqlDeviceStore::new(
            host.database().clone(),
            host.outbox().clone(),
            (host.consumer_group(), wake.clone()),
            settings.token_writes.into(),
        ));
        let registry = DeviceRegistry::new(
            Arc::clone(&devices) as _,
            Arc::new(SqlLocationStore::new(
                host.database().clone(),
                settings.location_writes.into(),
            )),
            Arc::new(SqlSyncSettingsStore::new(
                host.database().clone(),
                host.outbox().clone(),
                wake.clone(),
            )),
            settings.recent_auth_window,
            settings.location_history,
        );
        let commands = CommandQueue::new(
            Arc::new(SqlCommandStore::new(
                host.database().clone(),
                host.outbox().clone(),
                wake.clone(),
            )),
            devices,
            queue_timings(&settings),
        );
        let sweeper = commands.clone();
        let sweep_every = settings.command_poll;
        host.spawn_task(move |shutdown| sweep_expired_commands(sweeper, sweep_every, shutdown));
        host.add_retention(storage::expiries(
            settings.audit_retention,
            settings.location_history,
            settings.command_retention,
        ));
        host.spawn_consumer(
            &["identity"],
            Arc::new(consume::IdentityEventsHandler::new(registry.clone())),
        );
        Ok(GrpcServices::new(DeviceRegistryServiceServer::new(
            grpc::DeviceRegistryHandler::new(
                registry,
                access_tokens,
                (commands, wake, settings.channel_heartbeat),
                host.shutdown_token(),
            ),
        )))
    }
}

/// The command queue's timings from the settings.
fn queue_timings(settings: &Settings) -> QueueTimings {
    let expiry = settings.command_expiry;
    QueueTimings {
        expiry: CommandExpiry {
            locate: expiry.locate,
            ring: expiry.ring,
            enable_lost_mode: expiry.enable_lost_mode,
            disable_lost_mode: expiry.disable_lost_mode,
            apply_sync_settings: expiry.apply_sync_settings,
        },
        not_now_backoff: NotNowBackoff {
            initial: settings.not_now_backoff,
            max: settings.not_now_backoff_max,
        },
        recent_auth_window: settings.recent_auth_window,
        channel_heartbeat: settings.channel_heartbeat,
    }
}

/// Expires due commands every `every` until shutdown. Every replica sweeps; each expiry
/// happens once (a conditional update), and a failed sweep is retried at the next.
async fn sweep_expired_commands(
    queue: CommandQueue,
    every: std::time::Duration,
    shutdown: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(every) => {}
        }
        match queue.expire_due().await {
            Ok(0) => {}
            Ok(expired) => tracing::info!(expired, "commands expired"),
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), "command expiry sweep failed")
            }
        }
    }
}
