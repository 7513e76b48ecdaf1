//! CompleteSignIn: answering the challenge SignIn issued.

use mi_contracts::UnixMillis;

use super::consent::Proven;
use super::{CompleteOutcome, CompleteSignInOutcome, SignIn, SignInError};
use crate::domain::events;
use crate::domain::{Account, FactorRefusal, SecondFactorProof};

impl SignIn {
    /// Answers a challenge; on success the session starts, or the consent step when the
    /// account has not accepted the current documents.
    pub async fn complete_sign_in(
        &self,
        challenge_id: &str,
        proof: SecondFactorProof,
    ) -> Result<CompleteSignInOutcome, SignInError> {
        let challenge_id = uuid::Uuid::parse_str(challenge_id.trim())
            .map_err(|_| SignInError::InvalidRequest {
                field: "challenge_id",
                problem: "must be a challenge id this service returned".into(),
            })?
            .to_string();
        let max_attempts = self.challenges.max_attempts;
        let challenge = self
            .store
            .challenge(&challenge_id)
            .await?
            .ok_or(SignInError::ChallengeNotFound)?;
        let now = UnixMillis::now();
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
            .accounts
            .account(challenge.mi_id)
            .await?
            .ok_or(SignInError::ChallengeNotFound)?;
        let proven = match self.proofs.check(&account, &proof).await {
            Ok(proven) => proven,
            Err(FactorRefusal::TokenInvalid) => return Err(SignInError::TokenInvalid),
            Err(FactorRefusal::Delayed { retry_after }) => {
                return Err(SignInError::SecondFactorDelayed { retry_after });
            }
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
        let token = proven.token.as_ref();
        let authenticated = Proven {
            account: &account,
            device: &challenge.device,
            client_address: &challenge.client_address,
            new_device: challenge.new_device,
            methods,
            at: now,
        };
        // The second factor first, then the documents: the challenge is spent either way.
        if let Some((consent_challenge, documents)) = self.consent_step(&authenticated) {
            let stored = self
                .consents
                .complete_challenge_for_consent(
                    &challenge_id,
                    max_attempts,
                    token,
                    &consent_challenge,
                )
                .await?;
            self.challenge_completed(stored, &account).await?;
            return Ok(CompleteSignInOutcome::ConsentRequired {
                challenge: consent_challenge,
                documents,
            });
        }
        let (session, refresh) = self.issuer.new_session(
            account.mi_id,
            challenge.device.clone(),
            &challenge.client_address,
            authenticated.methods,
            now,
        );
        let signed_in = events::signed_in(&account, &session.session, challenge.new_device);
        let stored = self
            .store
            .complete_challenge(&challenge_id, max_attempts, token, &session, &[signed_in])
            .await?;
        self.challenge_completed(stored, &account).await?;
        tracing::info!(mi_id = %account.mi_id, session_id = %session.session.session_id, "signed in with a second factor");
        Ok(CompleteSignInOutcome::SignedIn(
            self.issuer.tokens_for(session, &refresh)?,
        ))
    }

    /// A challenge's completion as stored: refused if it was not, else the password lockout
    /// counts are cleared (the person proved both factors).
    async fn challenge_completed(
        &self,
        stored: CompleteOutcome,
        account: &Account,
    ) -> Result<(), SignInError> {
        match stored {
            CompleteOutcome::Completed => {}
            CompleteOutcome::NotPending => return Err(SignInError::ChallengeExpired),
            CompleteOutcome::TokenSpent => return Err(SignInError::TokenUsed),
        }
        self.passwords.clear(account).await?;
        Ok(())
    }
}
