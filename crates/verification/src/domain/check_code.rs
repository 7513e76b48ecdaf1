//! CheckCode: count the attempt, compare in constant time, approve once or lock.

use std::time::Duration;

use mi_contracts::UnixMillis;

use super::{
    ClientAddress, Status, Verification, VerificationApproved, VerificationCode,
    VerificationLocked, Verifier,
};

/// A verification whose code was just accepted, with its proof.
#[derive(Clone)]
pub struct CheckedVerification {
    /// The verification as it was when approved.
    pub verification: Verification,
    /// When the code was accepted.
    pub approved_at: UnixMillis,
    /// The signed verification token.
    pub token: String,
    /// When the token expires.
    pub token_expires_at: UnixMillis,
}

impl std::fmt::Debug for CheckedVerification {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("CheckedVerification")
            .field("verification_id", &self.verification.verification_id)
            .finish_non_exhaustive()
    }
}

/// Why a code was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum CheckCodeError {
    /// A field is missing or malformed.
    #[error("invalid {field}: {problem}")]
    InvalidRequest {
        /// The request field.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// No verification has this id.
    #[error("verification not found")]
    NotFound,
    /// The code is wrong; more attempts remain.
    #[error("the code does not match")]
    WrongCode {
        /// Attempts left before the verification locks.
        remaining_attempts: u32,
    },
    /// The code's time is up.
    #[error("the code has expired")]
    Expired,
    /// Too many wrong codes.
    #[error("too many wrong codes")]
    Locked,
    /// The right code was already given once.
    #[error("the code was already used")]
    AlreadyApproved,
    /// This client checks codes too often.
    #[error("too many code checks from this client")]
    TooManyChecks {
        /// When a check could succeed.
        retry_after: Duration,
    },
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl Verifier {
    /// Checks `code` against the verification `verification_id`.
    pub async fn check_code(
        &self,
        verification_id: &str,
        code: &str,
        client: &ClientAddress,
    ) -> Result<CheckedVerification, CheckCodeError> {
        let verification_id = uuid::Uuid::parse_str(verification_id.trim())
            .map_err(|_| CheckCodeError::InvalidRequest {
                field: "verification_id",
                problem: "must be a verification id this service returned".into(),
            })?
            .to_string();
        let code =
            VerificationCode::parse(code).map_err(|problem| CheckCodeError::InvalidRequest {
                field: "code",
                problem,
            })?;
        if let Some(retry_after) = self.guard_check(client).await? {
            return Err(CheckCodeError::TooManyChecks { retry_after });
        }
        let max_attempts = self.policy.max_check_attempts;
        let now = UnixMillis::now();

        let verification = self
            .store
            .get(&verification_id)
            .await?
            .ok_or(CheckCodeError::NotFound)?;
        if let Some(refusal) = not_checkable(&verification, now, max_attempts) {
            return Err(refusal);
        }
        if self
            .hasher
            .matches(&verification_id, &code, &verification.code_hash)
        {
            // Signed before the approval commits: an approved verification always has its proof.
            let (token, token_expires_at) = self.tokens.issue(&verification, now)?;
            let event = VerificationApproved::from(&verification);
            let approved = self
                .store
                .approve(
                    &verification_id,
                    &verification.code_hash,
                    max_attempts,
                    now,
                    &event,
                )
                .await?;
            if approved {
                tracing::info!(verification_id, "verification approved");
                return Ok(CheckedVerification {
                    verification,
                    approved_at: now,
                    token,
                    token_expires_at,
                });
            }
            // Approved, locked or expired meanwhile, or a resend replaced the code: then this
            // code is just wrong, and counts as such below.
        }
        let Some(attempts) = self
            .store
            .count_wrong_attempt(&verification_id, now)
            .await?
        else {
            return Err(self
                .why_not_pending(&verification_id, now, max_attempts)
                .await);
        };
        if attempts >= max_attempts {
            let locked = Verification {
                attempts,
                ..verification
            };
            let event = VerificationLocked::from(&locked);
            self.store.lock(&verification_id, now, &event).await?;
            tracing::warn!(verification_id, attempts, "verification locked");
            return Err(CheckCodeError::Locked);
        }
        Err(CheckCodeError::WrongCode {
            remaining_attempts: max_attempts - attempts,
        })
    }

    async fn why_not_pending(
        &self,
        verification_id: &str,
        now: UnixMillis,
        max_attempts: u32,
    ) -> CheckCodeError {
        match self.store.get(verification_id).await {
            Err(error) => CheckCodeError::Unexpected(error),
            Ok(None) => CheckCodeError::NotFound,
            Ok(Some(verification)) => {
                not_checkable(&verification, now, max_attempts).unwrap_or(CheckCodeError::Locked)
            }
        }
    }
}

/// Why a verification accepts no code now, if it does not.
fn not_checkable(
    verification: &Verification,
    now: UnixMillis,
    max_attempts: u32,
) -> Option<CheckCodeError> {
    match verification.status {
        Status::Approved => Some(CheckCodeError::AlreadyApproved),
        Status::Locked => Some(CheckCodeError::Locked),
        Status::Pending if verification.expires_at <= now => Some(CheckCodeError::Expired),
        Status::Pending if verification.attempts >= max_attempts => Some(CheckCodeError::Locked),
        Status::Pending => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Fixture, MAX_CHECK_ATTEMPTS, Published, other_code};
    use mi_contracts::Channel;

    use super::super::VerificationLocked;
    use super::*;

    fn client() -> ClientAddress {
        ClientAddress("192.0.2.1".into())
    }

    #[tokio::test]
    async fn the_right_code_approves_once_with_a_token_and_an_event() {
        let fixture = Fixture::new();
        let request = Fixture::request("user@example.com", Channel::Email);
        let sent = fixture.verifier.send_code(request).await.expect("sent");
        let code = fixture.last_code(&sent.verification_id);

        let checked = fixture
            .verifier
            .check_code(&sent.verification_id, &code, &client())
            .await
            .expect("approved");
        assert!(!checked.token.is_empty());
        assert!(matches!(fixture.store.published().last(),
            Some(Published::Approved(approved)) if approved.verification_id == sent.verification_id));
        let again = fixture
            .verifier
            .check_code(&sent.verification_id, &code, &client())
            .await;
        assert!(matches!(again, Err(CheckCodeError::AlreadyApproved)));
    }

    #[tokio::test]
    async fn wrong_codes_count_down_then_lock_with_an_event() {
        let fixture = Fixture::new();
        let request = Fixture::request("user@example.com", Channel::Email);
        let sent = fixture.verifier.send_code(request).await.expect("sent");
        let code = fixture.last_code(&sent.verification_id);
        let check = |code: String| {
            let verifier = fixture.verifier.clone();
            let verification_id = sent.verification_id.clone();
            async move {
                verifier
                    .check_code(&verification_id, &code, &client())
                    .await
            }
        };

        for remaining in (1..MAX_CHECK_ATTEMPTS).rev() {
            let wrong = check(other_code(&code).to_owned()).await;
            assert!(
                matches!(wrong, Err(CheckCodeError::WrongCode { remaining_attempts }) if remaining_attempts == remaining),
                "{wrong:?}"
            );
        }
        let last = check(other_code(&code).to_owned()).await;
        assert!(matches!(last, Err(CheckCodeError::Locked)), "{last:?}");
        assert!(matches!(fixture.store.published().last(),
            Some(Published::Locked(VerificationLocked { attempts, .. })) if *attempts == MAX_CHECK_ATTEMPTS));
        let right_too_late = check(code).await;
        assert!(matches!(right_too_late, Err(CheckCodeError::Locked)));
    }
}
