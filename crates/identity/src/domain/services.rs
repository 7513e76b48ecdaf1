//! Builds every family's service over one [`IdentityStore`], each holding only the parts it
//! needs; the parts more than one family uses are shared in `Arc`s.

use std::sync::Arc;
use std::time::Duration;

use super::{
    BruteForce, ChallengeSettings, Contacts, FactorFailures, IdentityStore, LegalDocuments,
    PasswordGuard, PasswordHasher, PasswordPolicy, PasswordSettings, Passwords, Profile,
    ProofChecker, ReactivationLockStore, ReactivationLocks, RecoveryCodes, ResetStarts, SendTokens,
    Sessions, SignIn, SignUp, TokenIssuer, TotpSecrets, TwoFactor, VerificationTokens,
    sign_in::SignInParts,
};

/// What the services are built from, besides the store.
#[derive(Debug)]
pub struct IdentityParts {
    /// Hashes passwords off the async workers.
    pub hasher: PasswordHasher,
    /// The policy a new password must meet.
    pub password: PasswordSettings,
    /// Brute-force protection of passwords.
    pub brute_force: BruteForce,
    /// Brute-force protection of second factors.
    pub factor_failures: FactorFailures,
    /// Signs access tokens.
    pub issuer: TokenIssuer,
    /// Checks verification tokens.
    pub verification_tokens: VerificationTokens,
    /// Seals the send tokens of a challenge's contacts.
    pub send_tokens: SendTokens,
    /// Starts password resets from an identifier.
    pub resets: ResetStarts,
    /// Seals and checks TOTP secrets.
    pub totp: TotpSecrets,
    /// Makes and hashes recovery codes.
    pub recovery_codes: RecoveryCodes,
    /// When and how sign-ins are challenged.
    pub challenges: ChallengeSettings,
    /// How long a password or second factor counts as recent for sensitive changes.
    pub recent_auth_window: Duration,
    /// The current terms of service and privacy policy.
    pub legal: LegalDocuments,
    /// How long a sign-in waits for the person to accept new versions of them.
    pub consent_ttl: Duration,
    /// Where hardware locked to an account after an erase is kept.
    pub reactivation_locks: Arc<dyn ReactivationLockStore>,
}

/// One service per RPC family.
#[derive(Debug, Clone)]
pub struct IdentityServices {
    /// SignUp.
    pub sign_up: SignUp,
    /// SignIn, CompleteSignIn, AcceptLegalDocuments, Reauthenticate.
    pub sign_in: SignIn,
    /// GetLegalDocuments.
    pub legal: Arc<LegalDocuments>,
    /// RefreshSession, ListSessions, RevokeSession, RevokeAllSessions, ListSigningKeys.
    pub sessions: Sessions,
    /// AddRecoveryContact, RemoveRecoveryContact, SetPrimaryContact.
    pub contacts: Contacts,
    /// StartPasswordReset, ResetPassword, ChangePassword.
    pub passwords: Passwords,
    /// EnrollTotp, ConfirmTotp, DisableTotp, SetCodeSecondFactor, RegenerateRecoveryCodes.
    pub two_factor: TwoFactor,
    /// GetAccount, UpdateProfile, DeleteAccount.
    pub profile: Profile,
    /// The reactivation locks the device topic sets and releases.
    pub reactivation_locks: ReactivationLocks,
}

impl IdentityServices {
    /// Every service over `store`.
    pub fn new<S: IdentityStore + 'static>(store: Arc<S>, parts: IdentityParts) -> Self {
        let issuer = Arc::new(parts.issuer);
        let guard = Arc::new(PasswordGuard::new(
            store.clone(),
            parts.hasher,
            PasswordPolicy::new(parts.password),
            parts.brute_force,
            parts.verification_tokens.clone(),
        ));
        let proofs = Arc::new(ProofChecker::new(
            store.clone(),
            parts.totp.clone(),
            parts.recovery_codes.clone(),
            parts.verification_tokens.clone(),
            parts.factor_failures,
        ));
        let window = parts.recent_auth_window;
        let legal = Arc::new(parts.legal);
        let locks = ReactivationLocks::new(parts.reactivation_locks, store.clone());
        Self {
            sign_up: SignUp::new(
                store.clone(),
                Arc::clone(&guard),
                Arc::clone(&issuer),
                parts.verification_tokens.clone(),
                Arc::clone(&legal),
                locks.clone(),
            ),
            sign_in: SignIn::new(SignInParts {
                store: store.clone(),
                consents: store.clone(),
                sessions: store.clone(),
                accounts: store.clone(),
                passwords: Arc::clone(&guard),
                proofs,
                issuer: Arc::clone(&issuer),
                send_tokens: parts.send_tokens,
                challenges: parts.challenges,
                recent_auth_window: window,
                legal: Arc::clone(&legal),
                consent_ttl: parts.consent_ttl,
                locks: locks.clone(),
            }),
            legal,
            sessions: Sessions::new(store.clone(), issuer),
            contacts: Contacts::new(
                store.clone(),
                store.clone(),
                parts.verification_tokens.clone(),
                window,
            ),
            passwords: Passwords::new(
                store.clone(),
                store.clone(),
                guard,
                parts.verification_tokens,
                parts.resets,
            ),
            two_factor: TwoFactor::new(
                store.clone(),
                store.clone(),
                parts.totp,
                parts.recovery_codes,
                window,
            ),
            profile: Profile::new(store.clone(), store, window),
            reactivation_locks: locks,
        }
    }
}
