//! SendCode: validate, rate-limit, generate, store the hash and the sealed code's event.

use std::time::Duration;

use mi_platform::clock;
use mi_platform::limiter::Quota;

use super::{Channel, Destination, Purpose, Status, Verification, VerificationCode, Verifier};

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
}

/// A code on its way.
#[derive(Debug, Clone)]
pub struct SentCode {
    /// Identifies the verification in CheckCode.
    pub verification_id: String,
    /// Milliseconds since the epoch when the code stops being accepted.
    pub expires_at: i64,
    /// Milliseconds since the epoch when another code may be sent to the destination.
    pub resend_at: i64,
}

/// Why a code was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendCodeError {
    /// Fields that are missing or malformed, with what is wrong with each.
    #[error("invalid request")]
    InvalidRequest(Vec<(&'static str, String)>),
    /// The destination got a code too recently.
    #[error("a code was sent to this destination recently")]
    TooSoon {
        /// When the next send will be allowed.
        retry_after: Duration,
    },
    /// The rate limiter cannot be reached; sending without it would be unsafe.
    #[error("rate limiter unavailable")]
    LimiterUnavailable(#[source] anyhow::Error),
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl Verifier {
    /// Sends a new code; nothing is stored or published unless every check passes.
    pub async fn send_code(&self, request: SendCodeRequest) -> Result<SentCode, SendCodeError> {
        let (destination, channel, purpose) = validate(&request)?;

        let quota = Quota {
            max: 1,
            window: self.settings.send_cooldown,
        };
        let decision = self
            .limiter
            .acquire(&format!("send:destination:{}", destination.as_str()), quota)
            .await
            .map_err(SendCodeError::LimiterUnavailable)?;
        if !decision.allowed {
            return Err(SendCodeError::TooSoon {
                retry_after: decision.retry_after,
            });
        }

        let code = VerificationCode::generate();
        let now = clock::now_millis();
        let verification = Verification {
            verification_id: uuid::Uuid::now_v7().to_string(),
            destination,
            channel,
            purpose,
            code_hash: Vec::new(),
            status: Status::Pending,
            attempts: 0,
            expires_at: clock::add_millis(now, self.settings.code_ttl),
            created_at: now,
        };
        let verification = Verification {
            code_hash: self.hasher.hash(&verification.verification_id, &code),
            ..verification
        };
        let sealed_code = self
            .cipher
            .seal(&verification.verification_id, code.expose().as_bytes())?;
        let event = crate::events::code_issued(&verification, &request.locale, sealed_code);
        self.store.insert(&verification, &event).await?;
        tracing::info!(verification_id = %verification.verification_id, channel = channel.as_str(), purpose = purpose.as_str(), "code sent");
        Ok(SentCode {
            verification_id: verification.verification_id,
            expires_at: verification.expires_at,
            resend_at: clock::add_millis(now, self.settings.send_cooldown),
        })
    }
}

/// Checks every field and reports all problems at once.
fn validate(request: &SendCodeRequest) -> Result<(Destination, Channel, Purpose), SendCodeError> {
    let mut violations = Vec::new();
    if request.channel.is_none() {
        violations.push(("channel", "must be CHANNEL_SMS or CHANNEL_EMAIL".to_owned()));
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
    match (destination, request.channel, request.purpose) {
        (Some(destination), Some(channel), Some(purpose)) if violations.is_empty() => {
            Ok((destination, channel, purpose))
        }
        _ => Err(SendCodeError::InvalidRequest(violations)),
    }
}
