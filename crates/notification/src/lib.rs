//! The notification service: turns events into messages and delivers them.
//!
//! `events` consumes the verification topic (codes) and the identity topic (security alerts);
//! `domain` writes the messages; `delivery` sends each through its transport, and `storage`
//! records it (one record per source event and destination, which is what keeps a redelivered
//! event from sending twice), puts it in the dev inbox and enqueues `NotificationDelivered`;
//! `grpc` lets developers and tests read the inbox.

pub mod config;
pub mod delivery;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod storage;

use std::sync::Arc;

use mi_platform::host::ServiceHost;
use mi_platform::service::{GrpcServices, Service};
use mi_proto::notification::v1::notification_service_server::NotificationServiceServer;
use sqlx::migrate::Migrator;

use crate::config::Settings;
use crate::delivery::{Dispatcher, Transports};
use crate::domain::Templates;
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
        let cipher = host.platform().code_cipher()?;
        let transports = Transports::from_settings(&settings)?;
        let store = Arc::new(SqlNotificationStore::new(
            host.database().clone(),
            host.outbox().clone(),
        ));

        let dispatcher = Dispatcher::new(Arc::clone(&store) as _, transports);
        let handler =
            events::NotificationEventsHandler::new(dispatcher, Templates::built_in()?, cipher);
        // One consumer group for both topics: the service has one position per partition, one
        // dead-letter topic and one place where a failed event is given up on.
        host.spawn_consumer(&["verification", "identity"], Arc::new(handler));

        Ok(GrpcServices::new(NotificationServiceServer::new(
            grpc::NotificationHandler::new(store),
        )))
    }
}
