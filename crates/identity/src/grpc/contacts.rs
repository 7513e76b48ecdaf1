//! AddRecoveryContact, RemoveRecoveryContact and SetPrimaryContact on the wire, and
//! [`ContactsError`] as the client sees it.

use std::sync::Arc;

use mi_contracts::Reason;
use mi_platform::{ErrorCode, ServiceError};
use mi_proto::identity::v1 as api;
use tonic::{Request, Response, Status};

use super::caller::Callers;
use super::{convert, limits, status};
use crate::domain::{Contacts, ContactsError};

/// The contacts family's RPCs.
#[derive(Debug)]
pub(super) struct ContactRpcs {
    pub(super) service: Contacts,
    pub(super) callers: Arc<Callers>,
}

impl ContactRpcs {
    pub(super) async fn add_recovery_contact(
        &self,
        request: Request<api::AddRecoveryContactRequest>,
    ) -> Result<Response<api::AddRecoveryContactResponse>, Status> {
        limits::add_recovery_contact(request.get_ref()).map_err(ServiceError::from)?;
        let caller = self.callers.caller(&request).await?;
        let token = request.into_inner().verification_token;
        let added = self.service.add_recovery_contact(&caller, &token).await;
        Ok(Response::new(api::AddRecoveryContactResponse {
            account: Some(convert::account(added.map_err(contacts_status)?)),
        }))
    }

    pub(super) async fn remove_recovery_contact(
        &self,
        request: Request<api::RemoveRecoveryContactRequest>,
    ) -> Result<Response<api::RemoveRecoveryContactResponse>, Status> {
        limits::contact_value(&request.get_ref().value).map_err(ServiceError::from)?;
        let caller = self.callers.caller(&request).await?;
        let value = request.into_inner().value;
        let removed = self.service.remove_recovery_contact(&caller, &value).await;
        Ok(Response::new(api::RemoveRecoveryContactResponse {
            account: Some(convert::account(removed.map_err(contacts_status)?)),
        }))
    }

    pub(super) async fn set_primary_contact(
        &self,
        request: Request<api::SetPrimaryContactRequest>,
    ) -> Result<Response<api::SetPrimaryContactResponse>, Status> {
        limits::contact_value(&request.get_ref().value).map_err(ServiceError::from)?;
        let caller = self.callers.caller(&request).await?;
        let value = request.into_inner().value;
        let promoted = self.service.set_primary_contact(&caller, &value).await;
        Ok(Response::new(api::SetPrimaryContactResponse {
            account: Some(convert::account(promoted.map_err(contacts_status)?)),
        }))
    }
}

/// The contacts family's errors.
fn contacts_status(error: ContactsError) -> Status {
    let service_error = match error {
        ContactsError::InvalidValue(problem) => ServiceError::invalid_field("value", problem),
        ContactsError::ReauthenticationRequired => status::reauthentication_required(),
        ContactsError::AccountGone => status::account_gone(),
        ContactsError::TokenInvalid => status::token_invalid(),
        ContactsError::TokenUsed => status::token_used(),
        ContactsError::ContactInUse => ServiceError::new(
            ErrorCode::AlreadyExists,
            "this phone number or email already belongs to an account",
        )
        .with_reason(Reason::ContactInUse),
        ContactsError::TooManyContacts => ServiceError::failed_precondition(
            Reason::TooManyContacts,
            "contacts",
            "the account has the most contacts allowed; remove one first",
        ),
        ContactsError::ContactNotFound => {
            ServiceError::new(ErrorCode::NotFound, "the account has no such contact")
        }
        ContactsError::PrimaryContact => ServiceError::failed_precondition(
            Reason::PrimaryContact,
            "value",
            "the primary contact cannot be removed; make another contact primary first",
        ),
        ContactsError::Unexpected(error) => ServiceError::internal(&error),
    };
    service_error.into()
}
