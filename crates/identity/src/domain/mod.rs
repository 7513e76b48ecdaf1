//! The rules of accounts, free of gRPC, SQL and protobuf: the bottom layer.
//!
//! One module per RPC family, each with its service, its error enum and its store trait:
//! [`sign_up`], [`sign_in`] (and challenges, the consent step, and Reauthenticate),
//! [`sessions`] (and tokens), [`contacts`], [`passwords`], [`two_factor`] and [`profile`]. The
//! plain types they share are in [`types`], the current terms and privacy policy in [`legal`],
//! the events they record in [`events`], the contacts a challenge or reset offers masked in
//! [`send_tokens`], and [`services`] builds them all over one [`IdentityStore`]. The backfill
//! of account snapshots for other services' projections is in [`snapshots`].

pub mod caller;
pub mod contacts;
pub mod delayed_count;
pub mod events;
pub mod legal;
pub mod passwords;
pub mod profile;
pub mod reactivation;
#[cfg(test)]
mod reactivation_tests;
pub mod send_tokens;
pub mod services;
pub mod sessions;
pub mod sign_in;
pub mod sign_up;
pub mod snapshots;
pub mod store;
#[cfg(test)]
mod testing;
pub mod two_factor;
pub mod types;
pub mod verification_token;

pub use self::caller::Caller;
pub use self::contacts::{AddContactOutcome, ContactStore, Contacts, ContactsError};
pub use self::legal::{
    DocumentKind, DocumentSettings, DocumentView, LegalDocuments, LegalSettings, OutdatedVersion,
};
pub use self::passwords::{
    ARGON2_WORKER, Argon2Settings, BruteForce, BruteForceSettings, CurrentPasswordRefusal,
    FailureCounted, NotChecked, OWASP_ARGON2_MINIMUMS, PasswordCheck, PasswordError, PasswordGuard,
    PasswordHasher, PasswordPolicy, PasswordProblem, PasswordResetSettings, PasswordSettings,
    PasswordStore, Passwords, ResetStarts, SetPasswordOutcome, Standing, StartResetError,
    StartedReset, StoredHash,
};
pub use self::profile::{
    MAX_DISPLAY_NAME_CHARS, Profile, ProfileError, ProfileStore, ProfileUpdate,
};
pub use self::reactivation::{ReactivationLockStore, ReactivationLocked, ReactivationLocks};
pub use self::send_tokens::{MaskedContact, SendTokens};
pub use self::services::{IdentityParts, IdentityServices};
pub use self::sessions::{
    ActiveSession, CallerError, IssuedTokens, NewSession, RefreshError, RevokeScope, RotateOutcome,
    SessionError, SessionLifetimes, SessionStore, SessionTokens, Sessions, TokenIssuer,
};
pub use self::sign_in::{
    AcceptRequest, Challenge, ChallengeReason, ChallengeSettings, CompleteOutcome,
    CompleteSignInOutcome, ConsentChallenge, ConsentError, ConsentStore, ReauthenticateError,
    Reauthentication, SignIn, SignInCandidate, SignInError, SignInOutcome, SignInRequest,
    SignInStore,
};
pub use self::sign_up::{CreateAccountOutcome, SignUp, SignUpError, SignUpRequest, SignUpStore};
pub use self::snapshots::{BatchOutcome, SnapshotBackfill, SnapshotBatch, SnapshotStore};
pub use self::store::{AccountGone, AccountLookup, IdentityStore};
pub use self::two_factor::{
    FactorDelaySettings, FactorFailures, FactorRefusal, ProofChecker, RecoveryCodes,
    SecondFactorMethod, SecondFactorProof, TotpEnrollment, TotpSecrets, TotpState, TwoFactor,
    TwoFactorError, TwoFactorStore,
};
pub use self::types::{
    Account, Consent, Contact, ContactKind, ContactValue, DeviceInfo, Identifier, Session,
    SessionPosition, TwoFactorStatus,
};
pub use self::verification_token::{
    CaptchaPassId, TokenProblem, VerificationTokens, VerifiedContact,
};
