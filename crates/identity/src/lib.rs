//! The identity service: accounts, their Mi IDs, contacts, credentials, second factors and
//! sessions.
//!
//! Each RPC belongs to one family — sign-up, sign-in (with challenges and Reauthenticate),
//! sessions (with tokens), contacts, passwords, two-factor, profile (with deletion) — and
//! follows the same path, e.g. DisableTotp:
//! `proto/mi/identity/v1/identity.proto` → `grpc/two_factor.rs` (wire to domain, and
//! `TwoFactorError` to `Status`) → `domain/two_factor/mod.rs` (the rules; the store trait in
//! `domain/two_factor/store.rs`, the event from `domain/events.rs`) →
//! `storage/sql/two_factor.rs` (the rows and the event in one transaction) → `publish.rs`
//! (the event as an `mi.events.v1` payload in the outbox) → the identity topic, which the
//! notification service consumes to send security alerts. The other way, the device
//! registry's `DeviceRemoved` (the device topic) → `consume/mod.rs` →
//! `domain/sessions/mod.rs` ends the removed device's sessions; its `DeviceErased` and
//! `DeviceRemoved` → `domain/reactivation.rs` → `storage/sql/reactivation.rs` set and release
//! the reactivation lock SignIn and SignUp check. At startup `domain/snapshots.rs` publishes
//! one `AccountSnapshot` per existing account (once per snapshot version) for the projections
//! of services that started after the accounts' events.

pub mod config;
pub(crate) mod consume;
pub mod domain;
pub(crate) mod grpc;
pub(crate) mod keys;
pub(crate) mod publish;
pub mod storage;
pub(crate) mod wire;

use std::sync::Arc;

use mi_platform::crypto::CodeCipher;
use mi_platform::host::ServiceHost;
use mi_platform::service::{GrpcServices, Service};
use mi_proto::identity::v1::identity_service_server::IdentityServiceServer;
use mi_workers::worker;
use sqlx::migrate::Migrator;

use crate::config::Settings;
use crate::domain::{
    ARGON2_WORKER, BruteForce, FactorFailures, IdentityParts, IdentityServices, PasswordHasher,
    RecoveryCodes, ResetStarts, SendTokens, SnapshotBackfill, TotpSecrets, VerificationTokens,
};
use crate::storage::{SqlIdentityStore, SqlReactivationLocks};

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
        let proxy_trust = settings.proxy_trust();
        let max_password_chars = settings.password.max_length;
        let legal = settings.legal_documents(&platform.config)?;
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
        let brute_force = BruteForce::new(
            Arc::clone(&platform.ephemeral),
            Arc::clone(&platform.limiter),
            settings.brute_force.clone(),
        );
        let factor_failures = FactorFailures::new(
            Arc::clone(&platform.ephemeral),
            settings.second_factor.delays.clone(),
        );
        let sealer = platform.send_token_sealer()?;
        let send_tokens = SendTokens::new(sealer.clone());
        let resets = ResetStarts::new(
            send_tokens.clone(),
            Arc::clone(&platform.limiter),
            settings.password_reset.clone(),
        );
        host.add_retention(storage::expiries(&settings));
        let store = Arc::new(SqlIdentityStore::new(
            host.database().clone(),
            host.outbox().clone(),
        ));
        let backfill = SnapshotBackfill::new(store.clone());
        host.spawn_task(|shutdown| backfill.run(shutdown));
        let services = IdentityServices::new(
            store,
            IdentityParts {
                hasher,
                password: settings.password,
                brute_force,
                factor_failures,
                issuer: keys.issuer,
                verification_tokens: VerificationTokens::new(&keys.verification_keys, sealer)?,
                send_tokens,
                resets,
                totp: TotpSecrets::new(CodeCipher::new(&keys.totp_key)),
                recovery_codes: RecoveryCodes::new(keys.pepper.clone()),
                challenges: settings.second_factor,
                recent_auth_window: settings.recent_auth_window,
                legal,
                consent_ttl: settings.legal.consent_ttl,
                reactivation_locks: Arc::new(SqlReactivationLocks::new(
                    host.database().clone(),
                    host.consumer_group(),
                )),
            },
        );
        host.spawn_consumer(
            &["device"],
            Arc::new(consume::DeviceEventsHandler::new(
                services.sessions.clone(),
                services.reactivation_locks.clone(),
            )),
        );
        let handler = grpc::IdentityHandler::new(services, proxy_trust, max_password_chars)?;
        Ok(GrpcServices::new(IdentityServiceServer::new(handler)))
    }
}
