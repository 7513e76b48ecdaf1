//! The verification service: sends one-time codes and checks them.
//!
//! Following one request, each step at most three hops from the last:
//! - `SendCode`, `ResendCode`, `CheckCode`, `PassCaptcha`
//!   (`proto/mi/verification/v1/verification.proto`) →
//!   `grpc/mod.rs` (wire ↔ domain; each operation's errors to a status in `grpc/errors.rs`)
//! - → `domain/send_code.rs`, `domain/resend_code.rs`, `domain/check_code.rs`,
//!   `domain/pass_captcha.rs` (the rules,
//!   with `domain/guard.rs` for rate limits and CAPTCHAs, `domain/captcha.rs` and
//!   `siteverify.rs` for a third-party CAPTCHA's tokens, `domain/challenge_contact.rs` for a
//!   contact identity showed masked and sealed a send token for), which record a domain event from
//!   `domain/events.rs` through the [`domain::VerificationStore`] trait (`domain/store.rs`)
//! - → `storage/sql.rs`, which writes the verification row and its event in one transaction,
//!   the event turned into protobuf by `publish.rs` and enqueued in the outbox
//! - → the relay publishes it on the verification topic, where
//!   `crates/notification/src/consume/codes.rs` picks up `CodeIssued` and delivers the code.
//!
//! The service consumes no events, so there is no `consume/`.

pub(crate) mod config;
pub mod domain;
pub(crate) mod grpc;
pub(crate) mod publish;
pub(crate) mod siteverify;
pub mod storage;

use std::sync::Arc;

use anyhow::Context;
use mi_platform::crypto::SecretKey;
use mi_platform::host::ServiceHost;
use mi_platform::service::{GrpcServices, Service};
use mi_platform::tokens::{PublicKey, TokenSigner};
use mi_proto::verification::v1::verification_service_server::VerificationServiceServer;
use sqlx::migrate::Migrator;

use crate::config::Settings;
use crate::domain::{
    Captchas, CodeHasher, TEST_ANSWER, VerificationTokens, Verifier, VerifierParts,
};
use crate::siteverify::SiteVerify;
use crate::storage::SqlVerificationStore;

/// The verification service, as the platform runs it.
#[derive(Debug)]
pub struct VerificationService;

#[async_trait::async_trait]
impl Service for VerificationService {
    const NAME: &'static str = "verification";
    const MIGRATIONS: Migrator = sqlx::migrate!("./migrations");
    type Settings = Settings;

    async fn build(settings: Settings, host: &mut ServiceHost) -> anyhow::Result<GrpcServices> {
        let platform = host.platform();
        let config = &platform.config;
        let hash_key = SecretKey::configured_or_dev(
            settings.code_hash_key.as_ref(),
            config.dev_key_file("code-hash").as_deref(),
            "verification.code_hash_key",
        )?;
        let cipher = platform.code_cipher()?;

        let token_seed = SecretKey::configured_or_dev(
            settings.token.signing_key.as_ref(),
            config.dev_key_file("verification-token").as_deref(),
            "verification.token.signing_key",
        )?;
        let previous_keys = settings
            .token
            .previous_public_keys
            .iter()
            .map(|text| PublicKey::parse(text))
            .collect::<anyhow::Result<Vec<_>>>()
            .context("invalid verification.token.previous_public_keys")?;
        let tokens = VerificationTokens::new(
            TokenSigner::from_seed(&token_seed, settings.token.key_id.as_deref())?,
            previous_keys,
            settings.token.ttl,
            settings.captcha.pass_ttl,
            platform.send_token_sealer()?,
        );
        let mut captchas = Captchas::new(
            Arc::clone(&platform.ephemeral),
            settings.captcha.ttl,
            settings.captcha.length,
        );
        if let Some(provider) = settings.captcha.provider.clone() {
            captchas = captchas.with_provider(Arc::new(SiteVerify::new(
                provider.url,
                provider.secret,
                provider.timeout,
            )?));
        }
        if settings.captcha.test_mode {
            config.embedded_only(
                "verification.captcha.test_mode",
                &format!(
                    "the answer {TEST_ANSWER} passes every CAPTCHA, so anyone can send sign-up codes"
                ),
            )?;
            captchas = captchas.with_test_answer();
        }
        let proxy_trust = settings.proxy_trust();
        let verifier = Verifier::new(VerifierParts {
            store: Arc::new(SqlVerificationStore::new(
                host.database().clone(),
                host.outbox().clone(),
            )),
            limiter: Arc::clone(&platform.limiter),
            captchas,
            hasher: CodeHasher::new(&hash_key),
            cipher,
            send_tokens: platform.send_token_sealer()?,
            tokens,
            policy: settings.policy(),
        });
        host.add_retention(storage::expiries(settings.record_retention));
        Ok(GrpcServices::new(VerificationServiceServer::new(
            grpc::VerificationHandler::new(verifier, proxy_trust),
        )))
    }
}
