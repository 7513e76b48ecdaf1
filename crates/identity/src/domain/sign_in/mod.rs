//! Sign-in and challenges: SignIn (the password under brute-force protection, and the
//! second-factor challenge it may issue), CompleteSignIn (`complete.rs`), the consent step and
//! AcceptLegalDocuments (`consent.rs`), and Reauthenticate (`reauthenticate.rs`).

mod challenge;
mod complete;
mod consent;
mod error;
mod reauthenticate;
mod store;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use mi_contracts::{Purpose, UnixMillis};
use mi_platform::client::limit_key;
use secrecy::SecretString;

pub use self::challenge::{Challenge, ChallengeReason, ChallengeSettings};
use self::consent::Proven;
pub use self::consent::{AcceptRequest, ConsentChallenge, ConsentError};
pub use self::error::SignInError;
pub use self::reauthenticate::{ReauthenticateError, Reauthentication};
pub use self::store::{CompleteOutcome, ConsentStore, SignInCandidate, SignInStore};
use super::events;
use super::legal::{DocumentView, LegalDocuments};
use super::{
    Account, AccountLookup, DeviceInfo, Identifier, MaskedContact, PasswordCheck, PasswordGuard,
    ProofChecker, ReactivationLocks, SecondFactorMethod, SendTokens, SessionStore, SessionTokens,
    TokenIssuer,
};

/// Signed in, asked for a second factor, or asked to accept the current documents.
#[derive(Debug, Clone)]
pub enum SignInOutcome {
    /// Tokens for a new session.
    SignedIn(SessionTokens),
    /// A challenge, with the contacts a code may go to.
    Challenged {
        /// The challenge.
        challenge: Challenge,
        /// Masked, each with its send token; empty unless a code answers the challenge.
        contacts: Vec<MaskedContact>,
    },
    /// Proven, but the account has not accepted the current documents: AcceptLegalDocuments.
    ConsentRequired {
        /// The consent step.
        challenge: ConsentChallenge,
        /// The documents to accept, in the account's locale.
        documents: Vec<DocumentView>,
    },
}

/// What answering a challenge gives: the second factor is proven, so never another challenge.
#[derive(Debug, Clone)]
pub enum CompleteSignInOutcome {
    /// Tokens for a new session.
    SignedIn(SessionTokens),
    /// The account has not accepted the current documents: AcceptLegalDocuments.
    ConsentRequired {
        /// The consent step.
        challenge: ConsentChallenge,
        /// The documents to accept, in the account's locale.
        documents: Vec<DocumentView>,
    },
}

/// What a sign-in carries.
#[derive(Debug, Clone)]
pub struct SignInRequest {
    /// Mi ID, phone or email, as typed.
    pub identifier: String,
    /// The password.
    pub password: SecretString,
    /// The device.
    pub device: DeviceInfo,
    /// The client address.
    pub client_address: String,
    /// A CAPTCHA pass for the identifier, needed after failed sign-ins.
    pub captcha_pass: Option<SecretString>,
}

/// What [`SignIn`] is built from.
#[derive(Debug)]
pub struct SignInParts {
    /// Candidates, challenges and spent tokens.
    pub store: Arc<dyn SignInStore>,
    /// Consent steps and the consent that ends them.
    pub consents: Arc<dyn ConsentStore>,
    /// Where sessions start and are marked authenticated.
    pub sessions: Arc<dyn SessionStore>,
    /// Accounts by Mi ID.
    pub accounts: Arc<dyn AccountLookup>,
    /// Checks passwords under brute-force protection.
    pub passwords: Arc<PasswordGuard>,
    /// Checks second-factor proofs.
    pub proofs: Arc<ProofChecker>,
    /// Signs session tokens.
    pub issuer: Arc<TokenIssuer>,
    /// Seals the send tokens of a challenge's contacts.
    pub send_tokens: SendTokens,
    /// When and how sign-ins are challenged.
    pub challenges: ChallengeSettings,
    /// How long a password or second factor proven by Reauthenticate counts as recent.
    pub recent_auth_window: Duration,
    /// The current documents a sign-in must find accepted.
    pub legal: Arc<LegalDocuments>,
    /// How long a consent step waits.
    pub consent_ttl: Duration,
    /// Hardware locked to an account after an erase.
    pub locks: ReactivationLocks,
}

/// Signs people in and proves them again.
#[derive(Debug, Clone)]
pub struct SignIn {
    store: Arc<dyn SignInStore>,
    consents: Arc<dyn ConsentStore>,
    sessions: Arc<dyn SessionStore>,
    accounts: Arc<dyn AccountLookup>,
    passwords: Arc<PasswordGuard>,
    proofs: Arc<ProofChecker>,
    issuer: Arc<TokenIssuer>,
    send_tokens: SendTokens,
    challenges: ChallengeSettings,
    recent_auth_window: Duration,
    legal: Arc<LegalDocuments>,
    consent_ttl: Duration,
    locks: ReactivationLocks,
}

impl SignIn {
    /// Sign-in over its parts.
    pub fn new(parts: SignInParts) -> Self {
        Self {
            store: parts.store,
            consents: parts.consents,
            sessions: parts.sessions,
            accounts: parts.accounts,
            passwords: parts.passwords,
            proofs: parts.proofs,
            issuer: parts.issuer,
            send_tokens: parts.send_tokens,
            challenges: parts.challenges,
            recent_auth_window: parts.recent_auth_window,
            legal: parts.legal,
            consent_ttl: parts.consent_ttl,
            locks: parts.locks,
        }
    }

    /// Checks the password and either signs in or issues a challenge.
    pub async fn sign_in(&self, request: SignInRequest) -> Result<SignInOutcome, SignInError> {
        let identifier = Identifier::parse(&request.identifier).map_err(|problem| {
            SignInError::InvalidRequest {
                field: "identifier",
                problem,
            }
        })?;
        let device = DeviceInfo::parse(request.device)
            .map_err(|(field, problem)| SignInError::InvalidRequest { field, problem })?;
        let client = request.client_address.as_str();
        let client_key = limit_key(client);
        // Failures count per identifier, known or not, so both answer alike.
        let counted_as = identifier.canonical();
        self.passwords
            .admit(&counted_as, request.captcha_pass.as_ref(), &client_key)
            .await?;
        let candidate = self
            .store
            .sign_in_candidate(&identifier, &device.device_id)
            .await?;
        let checked = self
            .passwords
            .check(
                &request.password,
                candidate.as_ref().map(|candidate| &candidate.password),
            )
            .await?;
        let Some(SignInCandidate {
            account,
            password: stored,
            known_device,
        }) = candidate
        else {
            self.passwords
                .failed(&counted_as, None, &client_key)
                .await?;
            return Err(SignInError::InvalidCredentials);
        };
        if !checked.is_right() {
            self.passwords
                .failed(&counted_as, Some(&account), &client_key)
                .await?;
            return Err(SignInError::InvalidCredentials);
        }
        let mi_id = account.mi_id;
        self.passwords.clear(&account).await?;
        // Only after the right password: the owner's masked contact is for whoever holds the
        // erased phone and an account of their own, not for anyone guessing hardware ids.
        if let Err(locked) = self.locks.check(&device.hardware_id, Some(mi_id)).await? {
            return Err(SignInError::ReactivationLocked {
                owner_contact: locked.owner_contact,
            });
        }
        if let PasswordCheck::RightRehashed(new_hash) = &checked {
            self.store
                .upgrade_password_hash(mi_id, &stored, new_hash)
                .await?;
        }
        let new_device = !known_device;
        if let Some(outcome) = self
            .challenge_if_needed(&account, &device, client, new_device)
            .await?
        {
            return Ok(outcome);
        }
        let proven = Proven {
            account: &account,
            device: &device,
            client_address: client,
            new_device,
            methods: vec!["pwd".into()],
            at: UnixMillis::now(),
        };
        if let Some((challenge, documents)) = self.consent_step(&proven) {
            self.consents.create_consent_challenge(&challenge).await?;
            return Ok(SignInOutcome::ConsentRequired {
                challenge,
                documents,
            });
        }
        let tokens = self
            .start_session(&account, device, client, new_device)
            .await?;
        Ok(SignInOutcome::SignedIn(tokens))
    }

    async fn challenge_if_needed(
        &self,
        account: &Account,
        device: &DeviceInfo,
        client: &str,
        new_device: bool,
    ) -> anyhow::Result<Option<SignInOutcome>> {
        let two_factor = account.two_factor;
        let (reason, mut methods) = if two_factor.enabled() {
            let mut methods = Vec::new();
            if two_factor.totp {
                methods.push(SecondFactorMethod::Totp);
            }
            if two_factor.codes {
                methods.push(SecondFactorMethod::VerificationCode);
            }
            (ChallengeReason::TwoFactor, methods)
        } else if new_device
            && self.challenges.challenge_new_devices
            && !account.contacts.is_empty()
        {
            (
                ChallengeReason::NewDevice,
                vec![SecondFactorMethod::VerificationCode],
            )
        } else {
            return Ok(None);
        };
        if two_factor.recovery_codes_left > 0 {
            methods.push(SecondFactorMethod::RecoveryCode);
        }
        let now = UnixMillis::now();
        let challenge = Challenge {
            challenge_id: uuid::Uuid::new_v4().to_string(),
            mi_id: account.mi_id,
            device: device.clone(),
            client_address: client.to_owned(),
            reason,
            methods,
            new_device,
            attempts: 0,
            expires_at: now.saturating_add(self.challenges.challenge_ttl),
            completed: false,
        };
        let contacts = if challenge
            .methods
            .contains(&SecondFactorMethod::VerificationCode)
        {
            self.send_tokens.offer(
                account,
                &challenge.challenge_id,
                Purpose::SignInSecondFactor,
                challenge.expires_at,
            )?
        } else {
            Vec::new()
        };
        self.store.create_challenge(&challenge).await?;
        Ok(Some(SignInOutcome::Challenged {
            challenge,
            contacts,
        }))
    }

    /// Starts a password-only session (no challenge was needed) with its `SignedIn` event.
    async fn start_session(
        &self,
        account: &Account,
        device: DeviceInfo,
        client_address: &str,
        new_device: bool,
    ) -> anyhow::Result<SessionTokens> {
        let (session, refresh) = self.issuer.new_session(
            account.mi_id,
            device,
            client_address,
            vec!["pwd".into()],
            UnixMillis::now(),
        );
        let signed_in = events::signed_in(account, &session.session, new_device);
        self.sessions.start_session(&session, &[signed_in]).await?;
        tracing::info!(mi_id = %account.mi_id, session_id = %session.session.session_id, new_device, "signed in");
        self.issuer.tokens_for(session, &refresh)
    }
}
