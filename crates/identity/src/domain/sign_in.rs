//! SignIn and CompleteSignIn: the password, the lockout, and the second-factor challenge.

use std::time::Duration;

use mi_platform::clock;
use secrecy::SecretString;

use super::lockout::Blocked;
use super::password::PasswordCheck;
use super::second_factor::{
    Challenge, ChallengeReason, FactorRefusal, SecondFactorMethod, SecondFactorProof,
};
use super::{Account, Accounts, DeviceInfo, Identifier, SessionTokens};
use crate::events;
use crate::storage::{CompleteOutcome, SignInCandidate};

/// Signed in, or asked for a second factor.
#[derive(Debug, Clone)]
pub enum SignInOutcome {
    /// Tokens for a new session.
    SignedIn(SessionTokens),
    /// A challenge, with the masked contacts a code may go to.
    Challenged {
        /// The challenge.
        challenge: Challenge,
        /// E.g. `+86 138****8000`.
        masked_contacts: Vec<String>,
    },
}

/// Why a sign-in was refused.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// A field is malformed.
    #[error("invalid {field}: {problem}")]
    InvalidRequest {
        /// The request field.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// Unknown identifier or wrong password: deliberately the same.
    #[error("wrong account or password")]
    InvalidCredentials,
    /// Too many wrong passwords for this account.
    #[error("account locked")]
    AccountLocked {
        /// When to try again.
        retry_after: Duration,
    },
    /// Too many failures from this client address.
    #[error("client blocked")]
    ClientBlocked {
        /// When to try again.
        retry_after: Duration,
    },
    /// No challenge has this id.
    #[error("challenge not found")]
    ChallengeNotFound,
    /// The challenge was answered already or its time is up.
    #[error("challenge expired")]
    ChallengeExpired,
    /// Too many wrong answers.
    #[error("challenge locked")]
    ChallengeLocked,
    /// The challenge does not offer this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The verification token is invalid, expired or for another purpose.
    #[error("verification token invalid")]
    TokenInvalid,
    /// The verification token was used before.
    #[error("verification token used")]
    TokenUsed,
    /// The second factor is wrong.
    #[error("wrong second factor")]
    WrongSecondFactor {
        /// Answers left before the challenge locks.
        remaining_attempts: u32,
    },
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
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
}

impl Accounts {
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
        let candidate = self
            .store
            .sign_in_candidate(&identifier, &device.device_id)
            .await?;
        let mi_id = candidate.as_ref().map(|candidate| candidate.account.mi_id);
        let client = request.client_address.as_str();
        match self.lockout.blocked(mi_id, client).await? {
            Some(Blocked::Account(retry_after)) => {
                return Err(SignInError::AccountLocked { retry_after });
            }
            Some(Blocked::Client(retry_after)) => {
                return Err(SignInError::ClientBlocked { retry_after });
            }
            None => {}
        }
        let checked = self
            .hasher
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
            self.lockout.record_failure(None, client).await?;
            return Err(SignInError::InvalidCredentials);
        };
        if !checked.is_right() {
            return Err(self.password_failed(&account, client).await);
        }
        let mi_id = account.mi_id;
        self.lockout.clear(mi_id).await?;
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
        let tokens = self
            .start_session(&account, device, client, new_device)
            .await?;
        Ok(SignInOutcome::SignedIn(tokens))
    }

    /// Counts a wrong password and, if that locked the account, announces it.
    pub(super) async fn password_failed(&self, account: &Account, client: &str) -> SignInError {
        match self
            .lockout
            .record_failure(Some(account.mi_id), client)
            .await
        {
            Ok(Some(lock)) => {
                tracing::warn!(mi_id = %account.mi_id, failures = lock.failures, "account locked");
                self.record(
                    account,
                    events::account_locked(account, lock.failures, lock.locked_until),
                )
                .await;
                SignInError::InvalidCredentials
            }
            Ok(None) => SignInError::InvalidCredentials,
            Err(error) => SignInError::Unexpected(error),
        }
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
            && self.settings.second_factor.challenge_new_devices
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
        let now = clock::now_millis();
        let challenge = Challenge {
            challenge_id: uuid::Uuid::new_v4().to_string(),
            mi_id: account.mi_id,
            device: device.clone(),
            client_address: client.to_owned(),
            reason,
            methods,
            new_device,
            attempts: 0,
            expires_at: clock::add_millis(now, self.settings.second_factor.challenge_ttl),
            completed: false,
        };
        self.store.create_challenge(&challenge).await?;
        let masked_contacts = if challenge
            .methods
            .contains(&SecondFactorMethod::VerificationCode)
        {
            account
                .contacts
                .iter()
                .map(|contact| contact.value.masked())
                .collect()
        } else {
            Vec::new()
        };
        Ok(Some(SignInOutcome::Challenged {
            challenge,
            masked_contacts,
        }))
    }

    /// Answers a challenge; on success the session starts.
    pub async fn complete_sign_in(
        &self,
        challenge_id: &str,
        proof: SecondFactorProof,
    ) -> Result<SessionTokens, SignInError> {
        let challenge_id = uuid::Uuid::parse_str(challenge_id.trim())
            .map_err(|_| SignInError::InvalidRequest {
                field: "challenge_id",
                problem: "must be the id SignIn returned".into(),
            })?
            .to_string();
        let max_attempts = self.settings.second_factor.max_attempts;
        let challenge = self
            .store
            .challenge(&challenge_id)
            .await?
            .ok_or(SignInError::ChallengeNotFound)?;
        let now = clock::now_millis();
        if challenge.completed || challenge.expires_at <= now {
            return Err(SignInError::ChallengeExpired);
        }
        if challenge.attempts >= max_attempts {
            return Err(SignInError::ChallengeLocked);
        }
        if !challenge.methods.contains(&proof.method()) {
            return Err(SignInError::MethodNotAllowed);
        }
        let account = self
            .store
            .account(challenge.mi_id)
            .await?
            .ok_or(SignInError::ChallengeNotFound)?;
        let proven = match self.check_second_factor(&account, &proof).await {
            Ok(proven) => proven,
            Err(FactorRefusal::TokenInvalid) => return Err(SignInError::TokenInvalid),
            Err(FactorRefusal::Unexpected(error)) => return Err(error.into()),
            Err(FactorRefusal::Wrong) => {
                let attempts = self
                    .store
                    .count_challenge_attempt(&challenge_id, now)
                    .await?
                    .ok_or(SignInError::ChallengeExpired)?;
                if attempts >= max_attempts {
                    return Err(SignInError::ChallengeLocked);
                }
                return Err(SignInError::WrongSecondFactor {
                    remaining_attempts: max_attempts - attempts,
                });
            }
        };
        let methods = vec!["pwd".to_owned(), proven.method.to_owned(), "mfa".to_owned()];
        let (session, refresh) = self.new_session(
            &account,
            challenge.device.clone(),
            &challenge.client_address,
            methods,
            now,
        );
        let signed_in = events::signed_in(&account, &session.session, challenge.new_device);
        match self
            .store
            .complete_challenge(
                &challenge_id,
                max_attempts,
                proven.token.as_ref(),
                &session,
                &[signed_in],
            )
            .await?
        {
            CompleteOutcome::Completed => {}
            CompleteOutcome::NotPending => return Err(SignInError::ChallengeExpired),
            CompleteOutcome::TokenSpent => return Err(SignInError::TokenUsed),
        }
        self.lockout.clear(account.mi_id).await?;
        tracing::info!(mi_id = %account.mi_id, session_id = %session.session.session_id, "signed in with a second factor");
        Ok(self.tokens_for(session, &refresh)?)
    }
}
