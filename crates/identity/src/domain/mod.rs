//! The rules of accounts, free of gRPC and SQL.
//!
//! [`Accounts`] is the one entry point the gRPC layer calls; each operation family lives in
//! its own module with its own error enum.

mod account;
mod accounts;
mod authenticated;
mod contact;
mod lockout;
mod password;
mod profile;
mod recovery_codes;
mod second_factor;
mod security;
mod sessions;
mod sign_in;
mod sign_up;
mod tokens;
mod totp;
mod two_factor;
mod verification_token;

pub use account::{Account, Consent, DeviceInfo, MiId, Session, TwoFactor};
pub use accounts::{Accounts, AccountsParts};
pub use authenticated::{AccountError, Caller, Reauthentication};
pub use contact::{Contact, ContactKind, ContactValue, Identifier};
pub use lockout::Lockout;
pub use password::{
    ARGON2_WORKER, PasswordCheck, PasswordHasher, PasswordPolicy, PasswordProblem, StoredHash,
};
pub use profile::ProfileUpdate;
pub use recovery_codes::RecoveryCodes;
pub use second_factor::{Challenge, ChallengeReason, SecondFactorMethod, SecondFactorProof};
pub use sessions::RefreshError;
pub use sign_in::{SignInError, SignInOutcome, SignInRequest};
pub use sign_up::{SignUpError, SignUpRequest};
pub use tokens::{IssuedTokens, SessionTokens, TokenIssuer};
pub use totp::{TotpEnrollment, TotpSecrets};
pub use verification_token::{
    TokenProblem, VerificationPurpose, VerificationTokens, VerifiedContact,
};
