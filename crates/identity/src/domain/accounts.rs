//! [`Accounts`]: everything the identity operations need, in one place.

use std::sync::Arc;

use mi_platform::auth::AccessTokenVerifier;
use mi_platform::clock;
use mi_platform::tokens::PublicKey;

use super::tokens::{RefreshToken, TokenIssuer};
use super::{
    Account, DeviceInfo, Lockout, PasswordHasher, PasswordPolicy, RecoveryCodes, Session,
    SessionTokens, TotpSecrets, VerificationTokens,
};
use crate::config::Settings;
use crate::events::{self, IdentityEvent};
use crate::storage::{IdentityStore, NewSession};

/// Signs people up and in and keeps their accounts safe; see the operation modules.
#[derive(Debug, Clone)]
pub struct Accounts {
    pub(super) store: Arc<dyn IdentityStore>,
    pub(super) hasher: PasswordHasher,
    pub(super) policy: PasswordPolicy,
    pub(super) lockout: Lockout,
    pub(super) issuer: TokenIssuer,
    pub(super) access_tokens: AccessTokenVerifier,
    pub(super) verification_tokens: VerificationTokens,
    pub(super) totp: TotpSecrets,
    pub(super) recovery_codes: RecoveryCodes,
    pub(super) settings: Settings,
}

/// What [`Accounts`] is built from.
#[derive(Debug)]
pub struct AccountsParts {
    /// Accounts, sessions and second factors with their events.
    pub store: Arc<dyn IdentityStore>,
    /// Hashes passwords off the async workers.
    pub hasher: PasswordHasher,
    /// Brute-force protection.
    pub lockout: Lockout,
    /// Signs access tokens.
    pub issuer: TokenIssuer,
    /// Checks verification tokens.
    pub verification_tokens: VerificationTokens,
    /// Seals and checks TOTP secrets.
    pub totp: TotpSecrets,
    /// Makes and hashes recovery codes.
    pub recovery_codes: RecoveryCodes,
    /// The service's settings.
    pub settings: Settings,
}

impl Accounts {
    /// Accounts over their parts.
    pub fn new(parts: AccountsParts) -> anyhow::Result<Self> {
        Ok(Self {
            access_tokens: AccessTokenVerifier::new(&parts.issuer.public_keys())?,
            policy: PasswordPolicy::new(parts.settings.password.clone()),
            store: parts.store,
            hasher: parts.hasher,
            lockout: parts.lockout,
            issuer: parts.issuer,
            verification_tokens: parts.verification_tokens,
            totp: parts.totp,
            recovery_codes: parts.recovery_codes,
            settings: parts.settings,
        })
    }

    /// The public keys that verify access tokens, the current one first.
    pub fn public_keys(&self) -> Vec<PublicKey> {
        self.issuer.public_keys()
    }

    /// A new session for `account` on `device`, not yet stored.
    pub(super) fn new_session(
        &self,
        account: &Account,
        device: DeviceInfo,
        client_address: &str,
        methods: Vec<String>,
        now: i64,
    ) -> (NewSession, RefreshToken) {
        let session_id = uuid::Uuid::now_v7().to_string();
        let refresh = RefreshToken::generate(&session_id);
        let session = Session {
            session_id,
            mi_id: account.mi_id,
            device,
            client_address: client_address.to_owned(),
            methods,
            created_at: now,
            last_used_at: now,
            auth_time: now,
        };
        let new_session = NewSession {
            session,
            refresh_hash: refresh.hash.clone(),
            refresh_expires_at: self.issuer.refresh_expires_at(now),
        };
        (new_session, refresh)
    }

    /// Signs the tokens of a session just stored.
    pub(super) fn tokens_for(
        &self,
        session: NewSession,
        refresh: &RefreshToken,
    ) -> anyhow::Result<SessionTokens> {
        let tokens = self
            .issuer
            .issue(&session.session, refresh, clock::now_millis())?;
        Ok(SessionTokens {
            session: session.session,
            tokens,
        })
    }

    /// Starts a password-only session (no challenge was needed) with its `SignedIn` event.
    pub(super) async fn start_session(
        &self,
        account: &Account,
        device: DeviceInfo,
        client_address: &str,
        new_device: bool,
    ) -> anyhow::Result<SessionTokens> {
        let (session, refresh) = self.new_session(
            account,
            device,
            client_address,
            vec!["pwd".into()],
            clock::now_millis(),
        );
        let signed_in = events::signed_in(account, &session.session, new_device);
        self.store.start_session(&session, &[signed_in]).await?;
        tracing::info!(mi_id = %account.mi_id, session_id = %session.session.session_id, new_device, "signed in");
        self.tokens_for(session, &refresh)
    }

    /// Writes events that go with no other change, logging rather than failing the caller.
    pub(super) async fn record(&self, account: &Account, event: IdentityEvent) {
        if let Err(error) = self.store.record_events(account.mi_id, &[event]).await {
            tracing::error!(mi_id = %account.mi_id, error = format!("{error:#}"), "cannot record event");
        }
    }
}
