//! Contacts offered masked, each with the send token that lets the client have a code sent to
//! it (`mi_platform::send_token`): what a sign-in challenge and a password reset started from a
//! Mi ID show, so that the person never has to type the full number, nor the client learn it.

use mi_contracts::{Purpose, UnixMillis};
use mi_platform::send_token::{SendTokenClaims, SendTokenSealer};

use super::{Account, ContactKind};

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
        account
            .contacts
            .iter()
            .zip(1..)
            .map(|(contact, number): (_, u32)| {
                let contact_id = number.to_string();
                let send_token = self.sealer.seal(&SendTokenClaims {
                    challenge_id: challenge_id.to_owned(),
                    contact_id: contact_id.clone(),
                    destination: contact.value.as_str().to_owned(),
                    purpose,
                    mi_id: account.mi_id,
                    expires_at,
                })?;
                Ok(MaskedContact {
                    contact_id,
                    kind: contact.value.kind(),
                    masked: contact.value.masked(),
                    send_token,
                })
            })
            .collect()
    }
}
