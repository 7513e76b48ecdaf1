//! The consent step of a sign-in, and AcceptLegalDocuments which ends it. When the account has
//! not accepted the current terms of service and privacy policy, a sign-in that proved the
//! password (and the second factor, if one was asked) returns the documents to accept instead
//! of tokens; the session starts once they are accepted. Like Keycloak's "terms and
//! conditions" required action, the step comes after authentication: nobody is shown an
//! account's pending documents before proving who they are.

#[cfg(test)]
mod tests;

use mi_contracts::{MiId, UnixMillis};

use super::SignIn;
use crate::domain::events;
use crate::domain::legal::{ConsentRefusal, DocumentView, OutdatedVersion};
use crate::domain::{Account, CompleteOutcome, DeviceInfo, SessionTokens};

/// A sign-in that proved who the person is and waits for them to accept the current documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentChallenge {
    /// A UUIDv4 (not guessable).
    pub challenge_id: String,
    /// Whose sign-in.
    pub mi_id: MiId,
    /// The device signing in.
    pub device: DeviceInfo,
    /// The client address of the sign-in.
    pub client_address: String,
    /// The authentication methods proven (`pwd`, then the second factor's and `mfa`): the
    /// session's once the documents are accepted.
    pub methods: Vec<String>,
    /// The device had never signed in to the account.
    pub new_device: bool,
    /// When the last of them was proven: the session's `auth_time`, so that the time spent
    /// reading the documents does not count as a recent authentication.
    pub authenticated_at: UnixMillis,
    /// When it expires.
    pub expires_at: UnixMillis,
    /// Answered already.
    pub completed: bool,
}

/// A sign-in whose password, and second factor if one was asked, are proven.
#[derive(Debug)]
pub(super) struct Proven<'a> {
    pub(super) account: &'a Account,
    pub(super) device: &'a DeviceInfo,
    pub(super) client_address: &'a str,
    pub(super) new_device: bool,
    pub(super) methods: Vec<String>,
    pub(super) at: UnixMillis,
}

/// What AcceptLegalDocuments carries.
#[derive(Debug, Clone)]
pub struct AcceptRequest {
    /// The consent step's id.
    pub challenge_id: String,
    /// The terms-of-service version accepted; may be empty if the account has it already.
    pub terms_version: String,
    /// The privacy-policy version accepted; as the terms.
    pub privacy_policy_version: String,
    /// The client address.
    pub client_address: String,
}

/// Why AcceptLegalDocuments was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    /// A field is malformed.
    #[error("invalid {field}: {problem}")]
    InvalidRequest {
        /// The request field.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// No consent step has this id (or its account is gone).
    #[error("consent step not found")]
    NotFound,
    /// Answered already, or its time is up: sign in again.
    #[error("consent step expired")]
    Expired,
    /// A document to accept was not named.
    #[error("documents not accepted")]
    NotAccepted,
    /// Versions that are not the current ones.
    #[error("outdated document versions")]
    Outdated(Vec<OutdatedVersion>),
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<ConsentRefusal> for ConsentError {
    fn from(refusal: ConsentRefusal) -> Self {
        match refusal {
            ConsentRefusal::NotAccepted => Self::NotAccepted,
            ConsentRefusal::Outdated(outdated) => Self::Outdated(outdated),
        }
    }
}

impl SignIn {
    /// The consent step a proven sign-in needs (not stored yet), with the documents to accept
    /// in the account's locale; `None` when the account has accepted the current ones.
    pub(super) fn consent_step(
        &self,
        proven: &Proven<'_>,
    ) -> Option<(ConsentChallenge, Vec<DocumentView>)> {
        let account = proven.account;
        let documents = self.legal.to_accept(&account.consent, &account.locale);
        if documents.is_empty() {
            return None;
        }
        let challenge = ConsentChallenge {
            challenge_id: uuid::Uuid::new_v4().to_string(),
            mi_id: account.mi_id,
            device: proven.device.clone(),
            client_address: proven.client_address.to_owned(),
            methods: proven.methods.clone(),
            new_device: proven.new_device,
            authenticated_at: proven.at,
            expires_at: proven.at.saturating_add(self.consent_ttl),
            completed: false,
        };
        Some((challenge, documents))
    }

    /// Accepts the current documents for a consent step: records the consent and starts the
    /// session.
    pub async fn accept_legal_documents(
        &self,
        request: AcceptRequest,
    ) -> Result<SessionTokens, ConsentError> {
        let challenge_id = uuid::Uuid::parse_str(request.challenge_id.trim())
            .map_err(|_| ConsentError::InvalidRequest {
                field: "challenge_id",
                problem: "must be the id of the consent_required step".into(),
            })?
            .to_string();
        let challenge = self
            .consents
            .consent_challenge(&challenge_id)
            .await?
            .ok_or(ConsentError::NotFound)?;
        let now = UnixMillis::now();
        if challenge.completed || challenge.expires_at <= now {
            return Err(ConsentError::Expired);
        }
        let account = self
            .accounts
            .account(challenge.mi_id)
            .await?
            .ok_or(ConsentError::NotFound)?;
        let consent = self.legal.consent(
            &request.terms_version,
            &request.privacy_policy_version,
            Some(&account.consent),
            now,
        )?;
        let (mut session, refresh) = self.issuer.new_session(
            account.mi_id,
            challenge.device.clone(),
            &challenge.client_address,
            challenge.methods.clone(),
            now,
        );
        session.session.auth_time = challenge.authenticated_at;
        let recorded = [
            events::legal_documents_accepted(account.mi_id, &consent),
            events::signed_in(&account, &session.session, challenge.new_device),
        ];
        match self
            .consents
            .accept_consent(
                &challenge_id,
                &consent,
                &request.client_address,
                &session,
                &recorded,
            )
            .await?
        {
            CompleteOutcome::Completed => {}
            CompleteOutcome::NotPending | CompleteOutcome::TokenSpent => {
                return Err(ConsentError::Expired);
            }
        }
        tracing::info!(
            mi_id = %account.mi_id,
            session_id = %session.session.session_id,
            terms_version = %consent.terms_version,
            privacy_policy_version = %consent.privacy_policy_version,
            "legal documents accepted; signed in"
        );
        Ok(self.issuer.tokens_for(session, &refresh)?)
    }
}
