//! Contacts offered masked, each with the send token that lets the client have a code sent to
//! it (`mi_platform::send_token`): what a sign-in challenge and a password reset started from a
//! Mi ID show, so that the person never has to type the full number, nor the client learn it.

use mi_contracts::{MiId, Purpose, UnixMillis};
use mi_platform::send_token::{SendTokenClaims, SendTokenSealer};

use super::{Account, ContactKind, ContactValue};

/// A contact of the account as a challenge or reset shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct MaskedContact {
    /// Names the contact within its challenge: "1", "2", … in the account's order (primary
    /// first).
    pub contact_id: String,
    /// Phone or email.
    pub kind: ContactKind,
    /// E.g. `+86 138****8000` or `ja***@example.com`.
    pub masked: String,
    /// The sealed token verification's SendCode takes for this contact.
    pub send_token: String,
}

impl std::fmt::Debug for MaskedContact {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("MaskedContact")
            .field("contact_id", &self.contact_id)
            .field("kind", &self.kind)
            .field("masked", &self.masked)
            .finish_non_exhaustive()
    }
}

/// Seals the send tokens of offered contacts.
#[derive(Debug, Clone)]
pub struct SendTokens {
    sealer: SendTokenSealer,
}

impl SendTokens {
    /// Tokens sealed with the key identity shares with verification.
    pub fn new(sealer: SendTokenSealer) -> Self {
        Self { sealer }
    }

    /// Every contact of `account`, masked, with a token for a code of `purpose` within
    /// `challenge_id`, valid until `expires_at` (the challenge's own end).
    pub fn offer(
        &self,
        account: &Account,
        challenge_id: &str,
        purpose: Purpose,
        expires_at: UnixMillis,
    ) -> anyhow::Result<Vec<MaskedContact>> {
        let offer = Offer {
            challenge_id,
            purpose,
            mi_id: account.mi_id,
            expires_at,
        };
        account
            .contacts
            .iter()
            .zip(1..)
            .map(|(contact, number): (_, u32)| self.offer_one(&offer, &contact.value, number))
            .collect()
    }

    /// Offers a made-up contact and drops it: the work of offering one contact (masking and
    /// sealing are most of it), so that a reply without contacts takes as long as one with a
    /// single contact, the usual case (measured in the report of issue 11).
    pub fn offer_none_as_slowly(
        &self,
        challenge_id: &str,
        purpose: Purpose,
        expires_at: UnixMillis,
    ) -> anyhow::Result<()> {
        let offer = Offer {
            challenge_id,
            purpose,
            mi_id: MiId::random(),
            expires_at,
        };
        let made_up = ContactValue::from_stored(ContactKind::Phone, "+8613800000000".into());
        self.offer_one(&offer, &made_up, 1)?;
        Ok(())
    }

    fn offer_one(
        &self,
        offer: &Offer<'_>,
        value: &ContactValue,
        number: u32,
    ) -> anyhow::Result<MaskedContact> {
        let contact_id = number.to_string();
        let send_token = self.sealer.seal(&SendTokenClaims {
            challenge_id: offer.challenge_id.to_owned(),
            contact_id: contact_id.clone(),
            destination: value.as_str().to_owned(),
            purpose: offer.purpose,
            mi_id: offer.mi_id,
            expires_at: offer.expires_at,
        })?;
        Ok(MaskedContact {
            contact_id,
            kind: value.kind(),
            masked: value.masked(),
            send_token,
        })
    }
}

/// What every token of one offer shares.
struct Offer<'a> {
    challenge_id: &'a str,
    purpose: Purpose,
    mi_id: MiId,
    expires_at: UnixMillis,
}
