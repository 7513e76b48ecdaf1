//! ResendCode: a new code for the same verification, perhaps by voice instead of SMS.

use mi_contracts::{Channel, Locale, UnixMillis};

use super::{
    CaptchaAnswer, ClientAddress, CodeIssued, Destination, SendRefusal, SentCode, Status,
    VerificationCode, Verifier,
};

/// A resend request, mapped from the wire.
#[derive(Debug, Clone)]
pub struct ResendCodeRequest {
    /// The verification SendCode created.
    pub verification_id: String,
    /// `None` keeps the channel.
    pub channel: Option<Channel>,
    /// Empty keeps the locale of the first send.
    pub locale: String,
    /// The CAPTCHA answer, if the client showed one.
    pub captcha: Option<CaptchaAnswer>,
    /// Where the request came from.
    pub client: ClientAddress,
}

/// Why no new code was sent.
#[derive(Debug, thiserror::Error)]
pub enum ResendCodeError {
    /// A field is malformed.
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
    /// The code was already accepted.
    #[error("the verification is already approved")]
    AlreadyApproved,
    /// Too many wrong codes; start a new verification.
    #[error("the verification is locked")]
    Locked,
    /// This verification has sent as many codes as it may.
    #[error("no more codes for this verification")]
    TooManySends,
    /// A guard refused: country, CAPTCHA or rate limit.
    #[error(transparent)]
    Refused(#[from] SendRefusal),
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl Verifier {
    /// Sends a new code for an existing verification; the old code stops working.
    pub async fn resend_code(
        &self,
        request: ResendCodeRequest,
    ) -> Result<SentCode, ResendCodeError> {
        let locale = parse_locale(&request.locale)?;
        let verification_id = uuid::Uuid::parse_str(request.verification_id.trim())
            .map_err(|_| ResendCodeError::InvalidRequest {
                field: "verification_id",
                problem: "must be a verification id this service returned".into(),
            })?
            .to_string();
        let current = self
            .store
            .get(&verification_id)
            .await?
            .ok_or(ResendCodeError::NotFound)?;
        match current.status {
            Status::Approved => return Err(ResendCodeError::AlreadyApproved),
            Status::Locked => return Err(ResendCodeError::Locked),
            Status::Pending => {}
        }
        if current.send_count >= self.policy.max_sends_per_verification {
            return Err(ResendCodeError::TooManySends);
        }
        let channel = request.channel.unwrap_or(current.channel);
        if !channel.same_family(current.channel) {
            return Err(ResendCodeError::InvalidRequest {
                field: "channel",
                problem: format!(
                    "a code sent by {} can only be resent the same way",
                    current.channel.as_str()
                ),
            });
        }
        // Re-validate for the new channel: a landline can take a call but not an SMS.
        let destination =
            Destination::parse(current.destination.as_str(), channel).map_err(|problem| {
                ResendCodeError::InvalidRequest {
                    field: "channel",
                    problem,
                }
            })?;
        self.guard_send(
            &destination,
            current.purpose,
            &request.client,
            request.captcha.as_ref(),
        )
        .await?;

        let now = UnixMillis::now();
        let code = VerificationCode::generate();
        let reissued = super::Verification {
            channel,
            locale: locale.map_or_else(|| current.locale.clone(), Locale::into_string),
            code_hash: self.hasher.hash(&verification_id, &code),
            attempts: 0,
            send_count: current.send_count + 1,
            expires_at: now.saturating_add(self.policy.code_ttl),
            ..current
        };
        let sealed_code = self
            .cipher
            .seal(&verification_id, code.expose().as_bytes())?;
        let event = CodeIssued::new(&reissued, sealed_code);
        let max_sends = self.policy.max_sends_per_verification;
        if !self
            .store
            .reissue(&reissued, max_sends, now, &event)
            .await?
        {
            // Approved, locked or resent to the limit meanwhile.
            return Err(ResendCodeError::TooManySends);
        }
        tracing::info!(
            verification_id,
            channel = channel.as_str(),
            sends = reissued.send_count,
            "code resent"
        );
        Ok(self.sent(&reissued, now))
    }
}

/// The new locale, or `None` to keep the first send's.
fn parse_locale(raw: &str) -> Result<Option<Locale>, ResendCodeError> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    Locale::parse(raw)
        .map(Some)
        .map_err(|problem| ResendCodeError::InvalidRequest {
            field: "locale",
            problem: problem.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Fixture, Published};
    use super::*;

    fn resend(verification_id: &str, channel: Option<Channel>) -> ResendCodeRequest {
        ResendCodeRequest {
            verification_id: verification_id.to_owned(),
            channel,
            locale: String::new(),
            captcha: None,
            client: ClientAddress("192.0.2.1".into()),
        }
    }

    #[tokio::test]
    async fn a_resend_by_voice_replaces_the_code_and_keeps_the_locale() {
        let fixture = Fixture::new();
        let request = Fixture::request("+8613800138000", Channel::Sms);
        let sent = fixture.verifier.send_code(request).await.expect("sent");
        let first_hash = fixture
            .store
            .stored(&sent.verification_id)
            .expect("stored")
            .code_hash;

        let resent = fixture
            .verifier
            .resend_code(resend(&sent.verification_id, Some(Channel::Voice)))
            .await
            .expect("resent");
        assert_eq!((resent.channel, resent.resends_left), (Channel::Voice, 3));
        let stored = fixture.store.stored(&sent.verification_id).expect("stored");
        assert_ne!(stored.code_hash, first_hash, "a new code");
        assert_eq!((stored.send_count, stored.locale.as_str()), (2, "en"));
        assert!(matches!(fixture.store.published().as_slice(),
            [Published::Issued(_), Published::Issued(again)] if again.channel == Channel::Voice));
    }

    #[tokio::test]
    async fn an_email_code_is_not_resent_to_a_phone_channel() {
        let fixture = Fixture::new();
        let request = Fixture::request("user@example.com", Channel::Email);
        let sent = fixture.verifier.send_code(request).await.expect("sent");
        let refused = fixture
            .verifier
            .resend_code(resend(&sent.verification_id, Some(Channel::Sms)))
            .await;
        assert!(
            matches!(
                refused,
                Err(ResendCodeError::InvalidRequest {
                    field: "channel",
                    ..
                })
            ),
            "{refused:?}"
        );
        assert_eq!(fixture.store.published().len(), 1, "nothing more was sent");
    }
}
