//! The identity service: accounts, their Mi IDs, contacts, credentials, second factors and
//! sessions.
//!
//! A request flows `grpc` (proto to domain) → `domain` (rules, one module per operation
//! family) → `storage` (rows and their events, in one transaction through the outbox) → the
//! identity topic, which the notification service turns into security alerts.

pub mod config;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod keys;
pub mod storage;

use std::sync::Arc;

use mi_platform::crypto::CodeCipher;
use mi_platform::host::ServiceHost;
use mi_platform::service::{GrpcServices, Service};
use mi_proto::identity::v1::identity_service_server::IdentityServiceServer;
use mi_workers::worker;
use sqlx::migrate::Migrator;

use crate::config::Settings;
use crate::domain::{
    ARGON2_WORKER, Accounts, AccountsParts, Lockout, PasswordHasher, RecoveryCodes, TotpSecrets,
    VerificationTokens,
};
use crate::storage::SqlIdentityStore;

/// The identity service, as the platform runs it.
#[derive(Debug)]
pub struct IdentityService;

#[async_trait::async_trait]
impl Service for IdentityService {
    const NAME: &'static str = "identity";
    const MIGRATIONS: Migrator = sqlx::migrate!("./migrations");
    type Settings = Settings;

    async fn build(settings: Settings, host: &mut ServiceHost) -> anyhow::Result<GrpcServices> {
        let platform = host.platform();
        let keys = keys::ServiceKeys::load(&platform.config, &settings)?;
        keys.write_jwks(&platform.config, &settings);
        let hasher = PasswordHasher::new(
            &settings.password.argon2,
            keys.pepper.clone(),
            settings.password.hash_threads,
            settings
                .password
                .hash_processes
                .then(|| worker::this_executable_serving(ARGON2_WORKER.name))
                .flatten(),
        )?;
        let lockout = Lockout::new(
            Arc::clone(&platform.ephemeral),
            Arc::clone(&platform.limiter),
            settings.lockout.clone(),
        );
        host.spawn_retention(storage::expiries(&settings));
        let trusted_proxy_header = settings.trusted_proxy_header.clone();
        let accounts = Accounts::new(AccountsParts {
            store: Arc::new(SqlIdentityStore::new(
                host.database().clone(),
                host.outbox().clone(),
            )),
            hasher,
            lockout,
            verification_tokens: VerificationTokens::new(&keys.verification_keys)?,
            totp: TotpSecrets::new(CodeCipher::new(&keys.totp_key)),
            recovery_codes: RecoveryCodes::new(keys.pepper.clone()),
            issuer: keys.issuer,
            settings,
        })?;
        Ok(GrpcServices::new(IdentityServiceServer::new(
            grpc::IdentityHandler::new(accounts, trusted_proxy_header),
        )))
    }
}
