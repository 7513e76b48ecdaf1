//! SignUp: a verified phone or email, a password and consent become an account, signed in.

mod store;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use mi_contracts::{Locale, MiId, Purpose, UnixMillis};
use secrecy::SecretString;

pub use self::store::{CreateAccountOutcome, SignUpStore};
use super::events;
use super::legal::{ConsentRefusal, LegalDocuments, OutdatedVersion};
use super::profile::{parse_display_name, parse_region};
use super::{
    Account, Contact, DeviceInfo, PasswordGuard, PasswordProblem, ReactivationLocks, SessionTokens,
    TokenIssuer, TwoFactorStatus, VerificationTokens,
};

/// Attempts at a free random Mi ID before giving up (a clash is one in millions).
const MI_ID_ATTEMPTS: usize = 5;

/// What a sign-up carries.
#[derive(Debug, Clone)]
pub struct SignUpRequest {
    /// From CheckCode, purpose sign-up.
    pub verification_token: String,
    /// The new password.
    pub password: SecretString,
    /// ISO 3166-1 alpha-2.
    pub region: String,
    /// BCP 47.
    pub locale: String,
    /// Optional.
    pub display_name: String,
    /// Accepted terms of service version.
    pub terms_version: String,
    /// Accepted privacy policy version.
    pub privacy_policy_version: String,
    /// The device signing up.
    pub device: DeviceInfo,
    /// The client address.
    pub client_address: String,
}

/// Why a sign-up was refused.
#[derive(Debug, thiserror::Error)]
pub enum SignUpError {
    /// Malformed fields, each with what is wrong.
    #[error("invalid sign-up request")]
    InvalidRequest(Vec<(&'static str, String)>),
    /// The password breaks the policy.
    #[error("weak password: {0}")]
    WeakPassword(PasswordProblem),
    /// Terms or privacy policy not accepted.
    #[error("terms not accepted")]
    TermsNotAccepted,
    /// A version that is not the current one (old, or never published).
    #[error("outdated document versions")]
    ConsentOutdated(Vec<OutdatedVersion>),
    /// The token is invalid, expired or for another purpose.
    #[error("verification token invalid")]
    TokenInvalid,
    /// The token was used before.
    #[error("verification token used")]
    TokenUsed,
    /// The proven contact belongs to an account already.
    #[error("account exists")]
    AccountExists,
    /// The device's hardware is locked to another account after an erase.
    #[error("reactivation locked")]
    ReactivationLocked {
        /// That account's masked primary contact.
        owner_contact: String,
    },
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Creates accounts.
#[derive(Debug, Clone)]
pub struct SignUp {
    store: Arc<dyn SignUpStore>,
    passwords: Arc<PasswordGuard>,
    issuer: Arc<TokenIssuer>,
    verification_tokens: VerificationTokens,
    legal: Arc<LegalDocuments>,
    locks: ReactivationLocks,
}

impl SignUp {
    /// Sign-up into `store`, hashing passwords with `passwords`, signing tokens with
    /// `issuer`, asking for the consent to the current `legal` documents, and refusing
    /// hardware `locks` holds for another account.
    pub fn new(
        store: Arc<dyn SignUpStore>,
        passwords: Arc<PasswordGuard>,
        issuer: Arc<TokenIssuer>,
        verification_tokens: VerificationTokens,
        legal: Arc<LegalDocuments>,
        locks: ReactivationLocks,
    ) -> Self {
        Self {
            store,
            passwords,
            issuer,
            verification_tokens,
            legal,
            locks,
        }
    }

    /// Creates the account and its first session.
    pub async fn sign_up(&self, request: SignUpRequest) -> Result<SessionTokens, SignUpError> {
        let mut problems = Vec::new();
        let region = parse_region(&request.region)
            .map_err(|problem| problems.push(("region", problem)))
            .ok();
        let locale = Locale::parse(&request.locale)
            .map(Locale::into_string)
            .map_err(|problem| problems.push(("locale", problem.to_string())))
            .ok();
        let display_name = parse_display_name(&request.display_name)
            .map_err(|problem| problems.push(("display_name", problem)))
            .ok();
        let device = DeviceInfo::parse(request.device)
            .map_err(|(field, problem)| problems.push((field, problem)))
            .ok();
        let (Some(region), Some(locale), Some(display_name), Some(device)) =
            (region, locale, display_name, device)
        else {
            return Err(SignUpError::InvalidRequest(problems));
        };
        let now = UnixMillis::now();
        let consent = self
            .legal
            .consent(
                &request.terms_version,
                &request.privacy_policy_version,
                None,
                now,
            )
            .map_err(|refusal| match refusal {
                ConsentRefusal::NotAccepted => SignUpError::TermsNotAccepted,
                ConsentRefusal::Outdated(outdated) => SignUpError::ConsentOutdated(outdated),
            })?;
        let verified = self
            .verification_tokens
            .verify(&request.verification_token, Purpose::SignUp)
            .map_err(|_| SignUpError::TokenInvalid)?;
        if let Err(locked) = self.locks.check(&device.hardware_id, None).await? {
            return Err(SignUpError::ReactivationLocked {
                owner_contact: locked.owner_contact,
            });
        }
        let personal = vec![verified.contact.as_str().to_owned(), display_name.clone()];
        let password_hash = self
            .passwords
            .hash_new(&request.password, personal)
            .await?
            .map_err(SignUpError::WeakPassword)?;

        let contact = Contact {
            value: verified.contact.clone(),
            primary: true,
            verified_at: now,
        };
        for _ in 0..MI_ID_ATTEMPTS {
            let account = Account {
                mi_id: MiId::random(),
                display_name: display_name.clone(),
                region: region.clone(),
                locale: locale.clone(),
                created_at: now,
                contacts: vec![contact.clone()],
                two_factor: TwoFactorStatus::default(),
                consent: consent.clone(),
            };
            let (session, refresh) = self.issuer.new_session(
                account.mi_id,
                device.clone(),
                &request.client_address,
                vec!["pwd".into()],
                now,
            );
            // The device an account is created on is its first device, not a surprise.
            let created = [
                events::account_created(&account, &verified.contact),
                events::signed_in(&account, &session.session, false),
            ];
            match self
                .store
                .create_account(&account, &password_hash, &verified, &session, &created)
                .await?
            {
                CreateAccountOutcome::Created => {
                    tracing::info!(mi_id = %account.mi_id, contact_kind = verified.contact.kind().as_str(), "account created");
                    return Ok(self.issuer.tokens_for(session, &refresh)?);
                }
                CreateAccountOutcome::MiIdTaken => continue,
                CreateAccountOutcome::ContactTaken => return Err(SignUpError::AccountExists),
                CreateAccountOutcome::TokenSpent => return Err(SignUpError::TokenUsed),
            }
        }
        Err(anyhow::anyhow!("no free Mi ID after {MI_ID_ATTEMPTS} attempts").into())
    }
}
