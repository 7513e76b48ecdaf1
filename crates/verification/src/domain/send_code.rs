//! SendCode: validate, guard (country, CAPTCHA, limits), generate, store the hash and the
//! sealed code's event.

use mi_contracts::{Channel, Locale, Purpose, UnixMillis};

use super::challenge_contact::contact_destination;
use super::{
    CaptchaAnswer, ClientAddress, CodeIssued, Destination, SendRefusal, SendTarget,
    SendTokenProblem, Status, Verification, VerificationCode, Verifier,
};

/// A send request, already mapped from the wire but not yet validated.
#[derive(Debug, Clone)]
pub struct SendCodeRequest {
    /// Where the code goes.
    pub target: SendTarget,
    /// `None` when the client sent an unknown or unspecified channel.
    pub channel: Option<Channel>,
    /// `None` when the client sent an unknown or unspecified purpose.
    pub purpose: Option<Purpose>,
    /// BCP 47 tag for the message.
    pub locale: String,
    /// The CAPTCHA answer, if the client showed one.
    pub captcha: Option<CaptchaAnswer>,
    /// Where the request came from.
    pub client: ClientAddress,
}

/// A code on its way.
#[derive(Debug, Clone)]
pub struct SentCode {
    /// Identifies the verification in CheckCode and ResendCode.
    pub verification_id: String,
    /// How it travels.
    pub channel: Channel,
    /// When the code stops being accepted.
    pub expires_at: UnixMillis,
    /// When another code may be sent to the destination.
    pub resend_at: UnixMillis,
    /// How many more codes ResendCode may send for this verification.
    pub resends_left: u32,
    /// Where it went, masked for display.
    pub masked_destination: String,
}

/// Why a code was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendCodeError {
    /// Fields that are missing or malformed, with what is wrong with each.
    #[error("invalid request")]
    InvalidRequest(Vec<(&'static str, String)>),
    /// A challenge contact's send token does not hold.
    #[error(transparent)]
    SendToken(#[from] SendTokenProblem),
    /// A guard refused: country, CAPTCHA or rate limit.
    #[error(transparent)]
    Refused(#[from] SendRefusal),
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl Verifier {
    /// Sends a new code; nothing is stored or published unless every check passes.
    pub async fn send_code(&self, request: SendCodeRequest) -> Result<SentCode, SendCodeError> {
        let Valid {
            destination,
            destination_hidden,
            channel,
            purpose,
            locale,
        } = self.validate(&request)?;
        self.guard_send(
            &destination,
            purpose,
            &request.client,
            request.captcha.as_ref(),
        )
        .await?;

        let now = UnixMillis::now();
        let verification_id = uuid::Uuid::now_v7().to_string();
        let code = VerificationCode::generate();
        let verification = Verification {
            code_hash: self.hasher.hash(&verification_id, &code),
            verification_id,
            destination,
            destination_hidden,
            channel,
            purpose,
            status: Status::Pending,
            attempts: 0,
            send_count: 1,
            locale: locale.into_string(),
            expires_at: now.saturating_add(self.policy.code_ttl),
            created_at: now,
        };
        let sealed_code = self
            .cipher
            .seal(&verification.verification_id, code.expose().as_bytes())?;
        let event = CodeIssued::new(&verification, sealed_code);
        self.store.insert(&verification, &event).await?;
        tracing::info!(verification_id = %verification.verification_id, channel = channel.as_str(), purpose = purpose.as_str(), to_challenge_contact = destination_hidden, "code sent");
        Ok(self.sent(&verification, now))
    }

    /// The reply for a verification that just sent a code.
    pub(super) fn sent(&self, verification: &Verification, now: UnixMillis) -> SentCode {
        SentCode {
            verification_id: verification.verification_id.clone(),
            channel: verification.channel,
            expires_at: verification.expires_at,
            resend_at: now.saturating_add(self.policy.limits.send_cooldown),
            resends_left: self
                .policy
                .max_sends_per_verification
                .saturating_sub(verification.send_count),
            masked_destination: verification.destination.masked(),
        }
    }

    /// Checks every field and reports all problems at once; a challenge contact's token that
    /// does not hold is refused on its own, before the other fields.
    fn validate(&self, request: &SendCodeRequest) -> Result<Valid, SendCodeError> {
        let mut violations = Vec::new();
        if request.channel.is_none() {
            violations.push((
                "channel",
                "must be CHANNEL_SMS, CHANNEL_VOICE or CHANNEL_EMAIL".to_owned(),
            ));
        }
        if request.purpose.is_none() {
            violations.push((
                "purpose",
                "must be one of the PURPOSE_ values other than UNSPECIFIED".to_owned(),
            ));
        }
        let destination_hidden = matches!(request.target, SendTarget::ChallengeContact(_));
        let destination = match (&request.target, request.channel) {
            (SendTarget::Destination(typed), Some(channel)) => Destination::parse(typed, channel)
                .map_err(|problem| violations.push(("destination", problem)))
                .ok(),
            (SendTarget::Destination(typed), None) => {
                if typed.trim().is_empty() {
                    violations.push(("destination", "must not be empty".to_owned()));
                }
                None
            }
            (SendTarget::ChallengeContact(contact), channel) => {
                let sealed =
                    contact.destination(&self.send_tokens, request.purpose, UnixMillis::now())?;
                channel.and_then(|channel| {
                    contact_destination(&sealed, channel)
                        .map_err(|problem| violations.push(("channel", problem)))
                        .ok()
                })
            }
        };
        // Empty means English, as the API says.
        let locale = match request.locale.trim() {
            "" => Some(Locale::english()),
            raw => Locale::parse(raw)
                .map_err(|problem| violations.push(("locale", problem.to_string())))
                .ok(),
        };
        match (destination, request.channel, request.purpose, locale) {
            (Some(destination), Some(channel), Some(purpose), Some(locale))
                if violations.is_empty() =>
            {
                Ok(Valid {
                    destination,
                    destination_hidden,
                    channel,
                    purpose,
                    locale,
                })
            }
            _ => Err(SendCodeError::InvalidRequest(violations)),
        }
    }
}

/// A request's fields, checked.
struct Valid {
    destination: Destination,
    /// The client knows the destination only masked (a challenge contact).
    destination_hidden: bool,
    channel: Channel,
    purpose: Purpose,
    locale: Locale,
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Fixture, Published};
    use super::*;

    #[tokio::test]
    async fn a_send_stores_only_the_hash_and_seals_the_code_into_its_event() {
        let fixture = Fixture::new();
        let request = Fixture::request(" +86 138 0013 8000 ", Channel::Sms);
        let sent = fixture.verifier.send_code(request).await.expect("sent");
        assert_eq!(sent.resends_left, 4);

        let stored = fixture.store.stored(&sent.verification_id).expect("stored");
        assert_eq!(stored.destination.as_str(), "+8613800138000");
        assert_eq!((stored.status, stored.send_count), (Status::Pending, 1));
        let code = fixture.last_code(&sent.verification_id);
        assert!(code.len() == 6 && code.bytes().all(|byte| byte.is_ascii_digit()));
        assert!(
            !stored
                .code_hash
                .windows(6)
                .any(|window| window == code.as_bytes()),
            "the code is stored hashed"
        );
        let published = fixture.store.published();
        assert!(matches!(published.as_slice(), [Published::Issued(issued)]
            if issued.expires_at == stored.expires_at && issued.purpose == Purpose::PasswordReset));
    }

    #[tokio::test]
    async fn a_challenge_contact_gets_its_code_and_its_destination_stays_hidden() {
        use mi_contracts::MiId;
        use mi_platform::send_token::{SendTokenClaims, SendTokenRefusal};

        use crate::domain::ChallengeContact;

        let fixture = Fixture::new();
        let token = fixture
            .send_tokens
            .seal(&SendTokenClaims {
                challenge_id: "challenge-1".into(),
                contact_id: "1".into(),
                destination: "+8613800138000".into(),
                purpose: Purpose::PasswordReset,
                mi_id: MiId::new(4_071_234_567).expect("mi id"),
                expires_at: UnixMillis::now().saturating_add(std::time::Duration::from_secs(60)),
            })
            .expect("seal");
        let to_contact = |contact_id: &str| SendCodeRequest {
            target: SendTarget::ChallengeContact(ChallengeContact {
                challenge_id: "challenge-1".into(),
                contact_id: contact_id.into(),
                send_token: token.clone(),
            }),
            ..Fixture::request("", Channel::Voice)
        };
        let refused = fixture.verifier.send_code(to_contact("2")).await;
        assert!(
            matches!(&refused, Err(SendCodeError::SendToken(problem))
                if problem.field == "challenge_contact.contact_id"
                    && problem.refusal == SendTokenRefusal::Invalid),
            "{refused:?}"
        );
        assert!(fixture.store.published().is_empty(), "nothing was sent");

        let sent = fixture
            .verifier
            .send_code(to_contact("1"))
            .await
            .expect("sent");
        assert_eq!(sent.masked_destination, "+86 138****8000");
        let stored = fixture.store.stored(&sent.verification_id).expect("stored");
        assert_eq!(stored.destination.as_str(), "+8613800138000");
        assert!(stored.destination_hidden);
        assert_eq!(stored.channel, Channel::Voice);
    }

    #[tokio::test]
    async fn an_invalid_request_names_every_field_and_stores_nothing() {
        let fixture = Fixture::new();
        let request = SendCodeRequest {
            channel: None,
            purpose: None,
            ..Fixture::request(" ", Channel::Sms)
        };
        let Err(SendCodeError::InvalidRequest(violations)) =
            fixture.verifier.send_code(request).await
        else {
            panic!("an invalid request was accepted");
        };
        let fields: Vec<&str> = violations.iter().map(|(field, _)| *field).collect();
        assert_eq!(fields, ["channel", "purpose", "destination"]);
        assert!(fixture.store.published().is_empty());
    }

    #[tokio::test]
    async fn a_locale_of_another_shape_or_language_is_refused_and_nothing_is_stored() {
        let fixture = Fixture::new();
        for locale in ["en-".to_owned(), "fr".to_owned(), "en-".repeat(100_000)] {
            let request = SendCodeRequest {
                locale,
                ..Fixture::request("+8613800138000", Channel::Sms)
            };
            let refused = fixture.verifier.send_code(request).await;
            assert!(
                matches!(&refused, Err(SendCodeError::InvalidRequest(violations))
                    if violations.iter().map(|(field, _)| *field).eq(["locale"])),
                "{refused:?}"
            );
        }
        assert!(fixture.store.published().is_empty());
    }
}
