//! The identity service: accounts and their Mi IDs.
//!
//! This first version reads accounts; sign-up, sign-in, sessions and account security build on
//! the same layers (`grpc` → `domain` → `storage` + outbox → the identity topic).

pub mod config;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod storage;

use std::sync::Arc;

use mi_platform::Platform;
use mi_platform::host::{Service, ServiceHost};
use mi_proto::identity::v1::identity_service_server::IdentityServiceServer;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::server::NamedService;
use tonic::service::Routes;

use crate::config::Settings;
use crate::storage::SqlAccountStore;

/// The identity service, as the platform runs it.
#[derive(Debug)]
pub struct IdentityService;

#[async_trait::async_trait]
impl Service for IdentityService {
    const NAME: &'static str = "identity";
    type Settings = Settings;

    async fn run(
        platform: Platform,
        _settings: Settings,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        // The relay creates the identity topic now; account events arrive with sign-up.
        let (host, database, _outbox) = ServiceHost::start(
            Self::NAME,
            platform,
            sqlx::migrate!("./migrations"),
            shutdown,
        )
        .await?;
        let accounts = Arc::new(SqlAccountStore::new(database));
        let server = IdentityServiceServer::new(grpc::IdentityHandler::new(accounts));
        host.serve(
            listener,
            Routes::new(server),
            &[IdentityServiceServer::<grpc::IdentityHandler>::NAME],
        )
        .await
    }
}
