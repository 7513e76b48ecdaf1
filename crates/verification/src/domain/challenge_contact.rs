//! A send to a contact identity showed masked: the send token it sealed, opened here and held
//! to the challenge, contact and purpose the client names (`mi_platform::send_token`).

use mi_contracts::{Channel, Purpose, UnixMillis};
use mi_platform::send_token::{SendTokenRefusal, SendTokenSealer};

use super::Destination;

/// Where a code goes, as the client names it.
#[derive(Debug, Clone)]
pub enum SendTarget {
    /// A destination as typed by the person (empty when the client named none).
    Destination(String),
    /// A contact of a sign-in challenge or password reset, known to the client only masked.
    ChallengeContact(ChallengeContact),
}

/// A contact of a challenge (or password reset) and the send token identity gave with it.
#[derive(Clone)]
pub struct ChallengeContact {
    /// The challenge (or reset) id.
    pub challenge_id: String,
    /// The contact's id within it.
    pub contact_id: String,
    /// The sealed token.
    pub send_token: String,
}

impl std::fmt::Debug for ChallengeContact {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ChallengeContact")
            .field("challenge_id", &self.challenge_id)
            .field("contact_id", &self.contact_id)
            .finish_non_exhaustive()
    }
}

/// Why a challenge contact's token does not let a code be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("send token refused ({field}): {refusal}")]
pub struct SendTokenProblem {
    /// The request field at fault: the token itself, or the id or purpose it does not match.
    pub field: &'static str,
    /// Invalid (forged, altered, not for these ids or purpose) or expired.
    pub refusal: SendTokenRefusal,
}

impl ChallengeContact {
    /// The destination inside the token, if the token is genuine, unexpired, and was issued
    /// for this challenge, this contact and `purpose` (unchecked when the request named no
    /// valid purpose, which is refused anyway).
    pub(super) fn destination(
        &self,
        sealer: &SendTokenSealer,
        purpose: Option<Purpose>,
        now: UnixMillis,
    ) -> Result<String, SendTokenProblem> {
        let problem = |field, refusal| SendTokenProblem { field, refusal };
        let claims = sealer
            .open(&self.send_token, now)
            .map_err(|refusal| problem("challenge_contact.send_token", refusal))?;
        if claims.challenge_id != self.challenge_id.trim() {
            return Err(problem(
                "challenge_contact.challenge_id",
                SendTokenRefusal::Invalid,
            ));
        }
        if claims.contact_id != self.contact_id.trim() {
            return Err(problem(
                "challenge_contact.contact_id",
                SendTokenRefusal::Invalid,
            ));
        }
        if purpose.is_some_and(|purpose| purpose != claims.purpose) {
            return Err(problem("purpose", SendTokenRefusal::Invalid));
        }
        Ok(claims.destination)
    }
}

/// The contact's destination for `channel`, or what is wrong with the channel: the client
/// only knows the contact's kind, so every problem is the channel's.
pub(super) fn contact_destination(raw: &str, channel: Channel) -> Result<Destination, String> {
    let is_phone = raw.starts_with('+');
    if is_phone != channel.is_phone() {
        return Err(if is_phone {
            "this contact is a phone number: use CHANNEL_SMS or CHANNEL_VOICE".into()
        } else {
            "this contact is an email address: use CHANNEL_EMAIL".into()
        });
    }
    Destination::parse(raw, channel)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use mi_contracts::MiId;
    use mi_platform::crypto::SecretKey;
    use mi_platform::send_token::SendTokenClaims;

    use super::*;

    #[test]
    fn a_token_serves_only_its_challenge_contact_and_purpose() {
        let sealer = SendTokenSealer::new(&SecretKey::generate());
        let now = UnixMillis::now();
        let token = sealer
            .seal(&SendTokenClaims {
                challenge_id: "challenge-1".into(),
                contact_id: "2".into(),
                destination: "+8613800138000".into(),
                purpose: Purpose::PasswordReset,
                mi_id: MiId::new(4_071_234_567).expect("mi id"),
                expires_at: now.saturating_add(Duration::from_secs(60)),
            })
            .expect("seal");
        let contact = |challenge_id: &str, contact_id: &str| ChallengeContact {
            challenge_id: challenge_id.into(),
            contact_id: contact_id.into(),
            send_token: token.clone(),
        };
        let reset = Some(Purpose::PasswordReset);
        assert_eq!(
            contact("challenge-1", "2").destination(&sealer, reset, now),
            Ok("+8613800138000".into())
        );
        let invalid = |field| {
            Err(SendTokenProblem {
                field,
                refusal: SendTokenRefusal::Invalid,
            })
        };
        assert_eq!(
            contact("challenge-2", "2").destination(&sealer, reset, now),
            invalid("challenge_contact.challenge_id")
        );
        assert_eq!(
            contact("challenge-1", "1").destination(&sealer, reset, now),
            invalid("challenge_contact.contact_id")
        );
        let sign_in = Some(Purpose::SignInSecondFactor);
        assert_eq!(
            contact("challenge-1", "2").destination(&sealer, sign_in, now),
            invalid("purpose")
        );
        let later = now.saturating_add(Duration::from_secs(61));
        assert_eq!(
            contact("challenge-1", "2").destination(&sealer, reset, later),
            Err(SendTokenProblem {
                field: "challenge_contact.send_token",
                refusal: SendTokenRefusal::Expired,
            })
        );
    }

    #[test]
    fn a_contact_takes_only_the_channels_of_its_kind() {
        assert!(contact_destination("+8613800138000", Channel::Voice).is_ok());
        let refused = contact_destination("+8613800138000", Channel::Email).expect_err("email");
        assert!(refused.contains("CHANNEL_SMS"), "{refused}");
        let refused = contact_destination("a@example.com", Channel::Sms).expect_err("sms");
        assert!(refused.contains("CHANNEL_EMAIL"), "{refused}");
        // A fixed line takes calls only, as for a destination typed in full.
        assert!(contact_destination("+861012345678", Channel::Sms).is_err());
    }
}
