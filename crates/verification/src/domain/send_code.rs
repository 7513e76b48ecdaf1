//! SendCode: validate, guard (country, CAPTCHA, limits), generate, store the hash and the
//! sealed code's event.

use mi_contracts::{Channel, Locale, Purpose, UnixMillis};

use super::{
    CaptchaAnswer, ClientAddress, CodeIssued, Destination, SendRefusal, Status, Verification,
    VerificationCode, Verifier,
};

/// A send request, already mapped from the wire but not yet validated.
#[derive(Debug, Clone)]
pub struct SendCodeRequest {
    /// As typed by the person.
    pub destination: String,
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
}

/// Why a code was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendCodeError {
    /// Fields that are missing or malformed, with what is wrong with each.
    #[error("invalid request")]
    InvalidRequest(Vec<(&'static str, String)>),
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
            channel,
            purpose,
            locale,
        } = validate(&request)?;
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
        tracing::info!(verification_id = %verification.verification_id, channel = channel.as_str(), purpose = purpose.as_str(), "code sent");
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
        }
    }
}

/// A request's fields, checked.
struct Valid {
    destination: Destination,
    channel: Channel,
    purpose: Purpose,
    locale: Locale,
}

/// Checks every field and reports all problems at once.
fn validate(request: &SendCodeRequest) -> Result<Valid, SendCodeError> {
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
    let destination = match request.channel {
        Some(channel) => Destination::parse(&request.destination, channel)
            .map_err(|problem| violations.push(("destination", problem)))
            .ok(),
        None if request.destination.trim().is_empty() => {
            violations.push(("destination", "must not be empty".to_owned()));
            None
        }
        None => None,
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
                channel,
                purpose,
                locale,
            })
        }
        _ => Err(SendCodeError::InvalidRequest(violations)),
    }
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
