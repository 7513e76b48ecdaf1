//! GetLegalDocuments and AcceptLegalDocuments on the wire, and [`ConsentError`] as the client
//! sees it.

use std::sync::Arc;

use mi_contracts::{Locale, Reason};
use mi_platform::{ErrorCode, ServiceError};
use mi_proto::identity::v1 as api;
use tonic::{Request, Response, Status};

use super::caller::Callers;
use super::{convert, limits, status};
use crate::domain::{AcceptRequest, AccountGone, ConsentError, LegalDocuments, SignIn};

/// The legal documents' RPCs.
#[derive(Debug)]
pub(super) struct LegalRpcs {
    pub(super) documents: Arc<LegalDocuments>,
    pub(super) sign_in: SignIn,
    pub(super) callers: Arc<Callers>,
}

impl LegalRpcs {
    pub(super) fn get_legal_documents(
        &self,
        request: Request<api::GetLegalDocumentsRequest>,
    ) -> Result<Response<api::GetLegalDocumentsResponse>, Status> {
        let request = request.into_inner();
        // Locale::parse refuses a tag over its maximum before reading it.
        let locale = match request.locale.trim() {
            "" => Locale::english(),
            tag => Locale::parse(tag)
                .map_err(|problem| ServiceError::invalid_field("locale", problem.to_string()))?,
        };
        let documents = self.documents.in_locale(&locale);
        Ok(Response::new(api::GetLegalDocumentsResponse {
            documents: documents.into_iter().map(convert::legal_document).collect(),
        }))
    }

    pub(super) async fn accept_legal_documents(
        &self,
        request: Request<api::AcceptLegalDocumentsRequest>,
    ) -> Result<Response<api::AcceptLegalDocumentsResponse>, Status> {
        let client_address = self.callers.client(&request);
        let request = request.into_inner();
        limits::accept_legal_documents(&request).map_err(ServiceError::from)?;
        let tokens = self
            .sign_in
            .accept_legal_documents(AcceptRequest {
                challenge_id: request.challenge_id,
                terms_version: request.accepted_terms_version,
                privacy_policy_version: request.accepted_privacy_policy_version,
                client_address,
            })
            .await
            .map_err(consent_status)?;
        Ok(Response::new(api::AcceptLegalDocumentsResponse {
            tokens: Some(convert::tokens(tokens)),
        }))
    }
}

/// AcceptLegalDocuments' errors.
fn consent_status(error: ConsentError) -> Status {
    let service_error = match error {
        ConsentError::InvalidRequest { field, problem } => {
            ServiceError::invalid_field(field, problem)
        }
        ConsentError::NotFound => {
            ServiceError::new(ErrorCode::NotFound, "no consent step has this id")
        }
        // The account was deleted while its owner read the documents.
        ConsentError::Unexpected(error) if error.is::<AccountGone>() => {
            ServiceError::new(ErrorCode::NotFound, "no consent step has this id")
        }
        ConsentError::Expired => ServiceError::failed_precondition(
            Reason::ChallengeExpired,
            "challenge_id",
            "this consent step was answered already or has expired; sign in again",
        ),
        ConsentError::NotAccepted => status::terms_not_accepted(),
        ConsentError::Outdated(outdated) => status::consent_outdated(&outdated),
        ConsentError::Unexpected(error) => ServiceError::internal(&error),
    };
    service_error.into()
}
