//! The notification service: turns events into messages and delivers them.
//!
//! `events` consumes the verification topic; `domain` renders the message; `storage` delivers
//! it to the dev inbox and records `NotificationDelivered` in the outbox, in the transaction
//! that also marks the event processed; `grpc` lets developers and tests read the inbox.

pub mod config;
pub mod delivery;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod storage;

use std::sync::Arc;

use mi_platform::Platform;
use mi_platform::host::{Service, ServiceHost};
use mi_proto::notification::v1::notification_service_server::NotificationServiceServer;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::server::NamedService;
use tonic::service::Routes;

use crate::config::Settings;
use crate::delivery::Transports;
use crate::domain::Templates;
use crate::storage::SqlNotificationStore;

/// The notification service, as the platform runs it.
#[derive(Debug)]
pub struct NotificationService;

#[async_trait::async_trait]
impl Service for NotificationService {
    const NAME: &'static str = "notification";
    type Settings = Settings;

    async fn run(
        platform: Platform,
        settings: Settings,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        settings.validate()?;
        let cipher = platform.code_cipher()?;
        let transports = Transports::from_settings(&settings)?;
        let (mut host, database, outbox) = ServiceHost::start(
            Self::NAME,
            platform,
            sqlx::migrate!("./migrations"),
            shutdown,
        )
        .await?;
        let store = Arc::new(SqlNotificationStore::new(
            database,
            outbox,
            host.consumer_group(),
        ));

        let handler = events::VerificationEventsHandler::new(
            Arc::clone(&store) as _,
            transports,
            Templates::built_in()?,
            cipher,
        );
        host.spawn_consumer(&["verification"], Arc::new(handler));

        let server = NotificationServiceServer::new(grpc::NotificationHandler::new(store));
        host.serve(
            listener,
            Routes::new(server),
            &[NotificationServiceServer::<grpc::NotificationHandler>::NAME],
        )
        .await
    }
}
