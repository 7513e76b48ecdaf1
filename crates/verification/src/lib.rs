//! The verification service: sends one-time codes and checks them.
//!
//! A request flows `grpc` (proto to domain) → `domain` (rules) → `storage` (the verification
//! row and its event, in one transaction through the outbox) → the notification service, which
//! consumes `CodeIssued` from this service's topic.

pub mod config;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod storage;

use std::sync::Arc;

use mi_platform::Platform;
use mi_platform::crypto::{CodeCipher, SecretKey};
use mi_platform::host::{Service, ServiceHost};
use mi_proto::verification::v1::verification_service_server::VerificationServiceServer;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::server::NamedService;
use tonic::service::Routes;

use crate::config::Settings;
use crate::domain::{CodeHasher, Verifier};
use crate::storage::SqlVerificationStore;

/// The verification service, as the platform runs it.
#[derive(Debug)]
pub struct VerificationService;

#[async_trait::async_trait]
impl Service for VerificationService {
    const NAME: &'static str = "verification";
    type Settings = Settings;

    async fn run(
        platform: Platform,
        settings: Settings,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        settings.validate()?;
        let config = &platform.config;
        let hash_key = SecretKey::configured_or_dev(
            settings.code_hash_key.as_ref(),
            config.dev_key_file("code-hash").as_deref(),
            "verification.code_hash_key",
        )?;
        let encryption_key = SecretKey::configured_or_dev(
            config.code_encryption_key.as_ref(),
            config.dev_key_file("code-encryption").as_deref(),
            "code_encryption_key",
        )?;

        let limiter = Arc::clone(&platform.limiter);
        let (host, database, outbox) = ServiceHost::start(
            Self::NAME,
            platform,
            sqlx::migrate!("./migrations"),
            shutdown,
        )
        .await?;

        let verifier = Verifier::new(
            Arc::new(SqlVerificationStore::new(database, outbox)),
            limiter,
            CodeHasher::new(&hash_key),
            CodeCipher::new(&encryption_key),
            settings,
        );
        let server = VerificationServiceServer::new(grpc::VerificationHandler::new(verifier));
        let routes = Routes::new(server);
        host.serve(
            listener,
            routes,
            &[VerificationServiceServer::<grpc::VerificationHandler>::NAME],
        )
        .await
    }
}
