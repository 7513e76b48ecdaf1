//! Domain types onto the wire and back, for more than one family's handlers.

use mi_platform::ServiceError;
use mi_proto::contracts::device_to_wire;
use mi_proto::identity::v1 as api;
use tonic::Status;

use crate::domain::{
    Account, Challenge, ChallengeReason, CompleteSignInOutcome, ConsentChallenge, DocumentKind,
    DocumentView, MaskedContact, SecondFactorMethod, SecondFactorProof, Session, SessionTokens,
    SignInOutcome,
};
use crate::wire;

/// An account as GetAccount shows it.
pub(super) fn account(account: Account) -> api::Account {
    api::Account {
        mi_id: account.mi_id.get(),
        create_time: Some(account.created_at.to_timestamp()),
        contacts: account
            .contacts
            .iter()
            .map(|contact| api::Contact {
                kind: wire::contact_kind(contact.value.kind()).into(),
                value: contact.value.as_str().to_owned(),
                primary: contact.primary,
                verify_time: Some(contact.verified_at.to_timestamp()),
            })
            .collect(),
        two_factor: Some(api::TwoFactorStatus {
            enabled: account.two_factor.enabled(),
            totp_enabled: account.two_factor.totp,
            code_enabled: account.two_factor.codes,
            recovery_codes_left: account.two_factor.recovery_codes_left,
        }),
        consent: Some(api::Consent {
            terms_version: account.consent.terms_version,
            privacy_policy_version: account.consent.privacy_policy_version,
            accept_time: Some(account.consent.accepted_at.to_timestamp()),
        }),
        display_name: account.display_name,
        region: account.region,
        locale: account.locale,
    }
}

/// Session tokens as the client gets them.
pub(super) fn tokens(session_tokens: SessionTokens) -> api::SessionTokens {
    let SessionTokens { session, tokens } = session_tokens;
    api::SessionTokens {
        mi_id: session.mi_id.get(),
        session_id: session.session_id,
        access_token: tokens.access_token,
        access_token_expire_time: Some(tokens.access_expires_at.to_timestamp()),
        refresh_token: tokens.refresh_token,
        refresh_token_expire_time: Some(tokens.refresh_expires_at.to_timestamp()),
    }
}

/// A challenge as SignIn returns it.
pub(super) fn challenge(
    challenge: Challenge,
    contacts: Vec<MaskedContact>,
) -> api::SecondFactorChallenge {
    let reason = match challenge.reason {
        ChallengeReason::TwoFactor => api::ChallengeReason::TwoFactor,
        ChallengeReason::NewDevice => api::ChallengeReason::NewDevice,
    };
    api::SecondFactorChallenge {
        challenge_id: challenge.challenge_id,
        expire_time: Some(challenge.expires_at.to_timestamp()),
        methods: challenge
            .methods
            .iter()
            .map(|method| i32::from(method_to_wire(*method)))
            .collect(),
        contacts: masked_contacts(contacts),
        reason: reason.into(),
    }
}

/// Contacts offered masked, with their send tokens (a challenge's, a password reset's).
pub(super) fn masked_contacts(contacts: Vec<MaskedContact>) -> Vec<api::MaskedContact> {
    contacts
        .into_iter()
        .map(|contact| api::MaskedContact {
            contact_id: contact.contact_id,
            kind: wire::contact_kind(contact.kind).into(),
            masked: contact.masked,
            send_token: contact.send_token,
        })
        .collect()
}

/// A document as GetLegalDocuments and the consent step show it.
pub(super) fn legal_document(view: DocumentView) -> api::LegalDocument {
    let kind = match view.kind {
        DocumentKind::TermsOfService => api::LegalDocumentKind::TermsOfService,
        DocumentKind::PrivacyPolicy => api::LegalDocumentKind::PrivacyPolicy,
    };
    api::LegalDocument {
        kind: kind.into(),
        version: view.version,
        url: view.url,
        locale: view.locale,
    }
}

/// The consent step as SignIn and CompleteSignIn return it.
fn consent_required(
    challenge: ConsentChallenge,
    documents: Vec<DocumentView>,
) -> api::ConsentRequired {
    api::ConsentRequired {
        challenge_id: challenge.challenge_id,
        expire_time: Some(challenge.expires_at.to_timestamp()),
        documents: documents.into_iter().map(legal_document).collect(),
    }
}

fn method_to_wire(method: SecondFactorMethod) -> api::SecondFactorMethod {
    match method {
        SecondFactorMethod::Totp => api::SecondFactorMethod::Totp,
        SecondFactorMethod::RecoveryCode => api::SecondFactorMethod::RecoveryCode,
        SecondFactorMethod::VerificationCode => api::SecondFactorMethod::VerificationCode,
    }
}

/// A session as ListSessions shows it.
pub(super) fn session(session: Session, current_session_id: &str) -> api::Session {
    api::Session {
        current: session.session_id == current_session_id,
        device: Some(device_to_wire(&session.device.without_credential())),
        client_address: session.client_address,
        create_time: Some(session.created_at.to_timestamp()),
        last_used_time: Some(session.last_used_at.to_timestamp()),
        session_id: session.session_id,
    }
}

/// A second-factor proof as CompleteSignIn and Reauthenticate carry it.
pub(super) fn proof_from_wire(
    proof: Option<api::SecondFactorProof>,
) -> Result<SecondFactorProof, Status> {
    use api::second_factor_proof::Proof;
    match proof.and_then(|proof| proof.proof) {
        Some(Proof::TotpCode(code)) => Ok(SecondFactorProof::Totp(code)),
        Some(Proof::RecoveryCode(code)) => Ok(SecondFactorProof::RecoveryCode(code)),
        Some(Proof::VerificationToken(token)) => Ok(SecondFactorProof::VerificationToken(token)),
        None => Err(ServiceError::invalid_field(
            "proof",
            "give a totp_code, a recovery_code or a verification_token",
        )
        .into()),
    }
}

/// What SignIn answers.
pub(super) fn sign_in_response(outcome: SignInOutcome) -> api::SignInResponse {
    let result = match outcome {
        SignInOutcome::SignedIn(session_tokens) => {
            api::sign_in_response::Result::Tokens(tokens(session_tokens))
        }
        SignInOutcome::Challenged {
            challenge: issued,
            contacts,
        } => api::sign_in_response::Result::Challenge(challenge(issued, contacts)),
        SignInOutcome::ConsentRequired {
            challenge,
            documents,
        } => api::sign_in_response::Result::ConsentRequired(consent_required(challenge, documents)),
    };
    api::SignInResponse {
        result: Some(result),
    }
}

/// What CompleteSignIn answers.
pub(super) fn complete_sign_in_response(
    outcome: CompleteSignInOutcome,
) -> api::CompleteSignInResponse {
    let result = match outcome {
        CompleteSignInOutcome::SignedIn(session_tokens) => {
            api::complete_sign_in_response::Result::Tokens(tokens(session_tokens))
        }
        CompleteSignInOutcome::ConsentRequired {
            challenge,
            documents,
        } => api::complete_sign_in_response::Result::ConsentRequired(consent_required(
            challenge, documents,
        )),
    };
    api::CompleteSignInResponse {
        result: Some(result),
    }
}
