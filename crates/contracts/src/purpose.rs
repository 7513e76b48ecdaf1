//! What a verification code proves.

use serde::{Deserialize, Serialize};

/// What a code (and the verification token it earns) proves; a code only serves the purpose
/// it was sent for. Stored, signed into tokens and used to pick message templates by its
/// snake_case name.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Purpose {
    /// Creating an account.
    SignUp,
    /// The second step of signing in.
    SignInSecondFactor,
    /// Resetting a forgotten password.
    PasswordReset,
    /// Adding a recovery phone or email.
    AddRecoveryContact,
    /// Confirming a sensitive device action such as erase.
    DeviceAction,
}

impl Purpose {
    /// The name stored in the database and signed into verification tokens.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

#[cfg(test)]
mod tests {
    use strum::IntoEnumIterator;

    use super::*;

    #[test]
    fn stored_names_round_trip_and_match_the_tokens_already_issued() {
        for purpose in Purpose::iter() {
            assert_eq!(purpose.as_str().parse::<Purpose>(), Ok(purpose));
        }
        assert_eq!(Purpose::SignUp.as_str(), "sign_up");
        assert_eq!(Purpose::PasswordReset.as_str(), "password_reset");
        assert_eq!(
            Purpose::SignInSecondFactor.as_str(),
            "sign_in_second_factor"
        );
        assert_eq!(Purpose::AddRecoveryContact.as_str(), "add_recovery_contact");
    }
}
