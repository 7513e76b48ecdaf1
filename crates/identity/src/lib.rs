//! The identity service: accounts and their Mi IDs.
//!
//! This first version reads accounts; sign-up, sign-in, sessions and account security build on
//! the same layers (`grpc` → `domain` → `storage` + outbox → the identity topic).

pub mod config;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod storage;

use std::net::SocketAddr;
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

    fn listen_addr(settings: &Settings) -> SocketAddr {
        settings.listen_addr
    }

    async fn run(
        platform: Platform,
        _settings: Settings,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let mut host = ServiceHost::new(Self::NAME, platform, shutdown);
        let database = host.database(sqlx::migrate!("./migrations")).await?;
        // The relay creates the identity topic now; account events arrive with sign-up.
        host.spawn_relay(&host.outbox(), &database);
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
