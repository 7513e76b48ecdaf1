//! The notification service: turns other services' events into messages and delivers each
//! once.
//!
//! Following one message, each step at most three hops from the last:
//! - A `CodeIssued` on the verification topic (`proto/mi/events/v1/verification_events.proto`)
//!   → `consume/codes.rs` (protobuf → domain) → `domain/codes.rs` (skip expired codes, write
//!   the message with `domain/render.rs`). Identity's security events → `consume/alerts.rs`
//!   → `domain/alerts.rs` (one message per contact). The device registry's events →
//!   `consume/devices.rs` → `domain/wake_ups.rs` (a push to a device with a command waiting)
//!   and `domain/alerts.rs` (Find Device's remote actions).
//! - → `domain/dispatcher.rs`: sends once per source event and destination, through the
//!   channel's transport (`domain/transport.rs`; SMTP, HTTP SMS/voice and HTTP push in
//!   `transports/`), recording through the [`domain::NotificationStore`] trait
//!   (`domain/store.rs`)
//! - → `storage/sql.rs`: the delivery record (what keeps a redelivered event from sending
//!   twice), the dev-inbox row, and `NotificationDelivered` / `NotificationFailed` turned into
//!   protobuf by `publish.rs` and enqueued in the outbox, all in one transaction; the relay
//!   publishes them on the notification topic (no service consumes them yet;
//!   `tests/delivery.rs` reads them).
//! - Reading the dev inbox: `ListInboxMessages` (`proto/mi/notification/v1/notification.proto`)
//!   → `grpc/mod.rs` → `domain/inbox.rs` → `storage/sql.rs`.

pub(crate) mod config;
pub(crate) mod consume;
pub(crate) mod domain;
pub(crate) mod grpc;
pub(crate) mod publish;
pub(crate) mod storage;
pub(crate) mod transports;

use std::sync::Arc;

use mi_platform::host::ServiceHost;
use mi_platform::service::{GrpcServices, Service};
use mi_proto::notification::v1::notification_service_server::NotificationServiceServer;
use sqlx::migrate::Migrator;

use crate::config::Settings;
use crate::domain::{Notifier, Templates};
use crate::storage::SqlNotificationStore;

/// The notification service, as the platform runs it.
#[derive(Debug)]
pub struct NotificationService;

#[async_trait::async_trait]
impl Service for NotificationService {
    const NAME: &'static str = "notification";
    const MIGRATIONS: Migrator = sqlx::migrate!("./migrations");
    type Settings = Settings;

    async fn build(settings: Settings, host: &mut ServiceHost) -> anyhow::Result<GrpcServices> {
        let dev_inbox = settings.dev_inbox(&host.platform().config)?;
        settings.check_delivery_retention(&host.platform().config)?;
        let cipher = host.platform().code_cipher()?;
        let transports = transports::from_settings(&settings)?;
        let store = Arc::new(SqlNotificationStore::new(
            host.database().clone(),
            host.outbox().clone(),
        ));
        let notifier = Arc::new(Notifier::new(
            store,
            transports,
            Templates::built_in()?,
            cipher,
        ));

        let handler = consume::NotificationEventsHandler::new(Arc::clone(&notifier));
        // One consumer group for every topic: the service has one position per partition, one
        // dead-letter topic and one place where a failed event is given up on.
        host.spawn_consumer(&["verification", "identity", "device"], Arc::new(handler));
        host.add_retention(storage::expiries(
            settings.delivery_retention,
            settings.inbox_retention,
        ));

        Ok(GrpcServices::new(NotificationServiceServer::new(
            grpc::NotificationHandler::new(notifier, dev_inbox),
        )))
    }
}
