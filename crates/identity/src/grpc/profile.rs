//! GetAccount, UpdateProfile and DeleteAccount on the wire, and [`ProfileError`] as the client
//! sees it.

use std::sync::Arc;

use mi_platform::ServiceError;
use mi_proto::identity::v1 as api;
use tonic::{Request, Response, Status};

use super::caller::Callers;
use super::{convert, limits, status};
use crate::domain::{Profile, ProfileError, ProfileUpdate};

/// The profile family's RPCs.
#[derive(Debug)]
pub(super) struct ProfileRpcs {
    pub(super) service: Profile,
    pub(super) callers: Arc<Callers>,
}

impl ProfileRpcs {
    pub(super) async fn get_account(
        &self,
        request: Request<api::GetAccountRequest>,
    ) -> Result<Response<api::Account>, Status> {
        let caller = self.callers.caller(&request).await?;
        let account = self
            .service
            .get_account(&caller)
            .await
            .map_err(profile_status)?;
        Ok(Response::new(convert::account(account)))
    }

    pub(super) async fn update_profile(
        &self,
        request: Request<api::UpdateProfileRequest>,
    ) -> Result<Response<api::Account>, Status> {
        limits::update_profile(request.get_ref()).map_err(ServiceError::from)?;
        let caller = self.callers.caller(&request).await?;
        let request = request.into_inner();
        let paths = request
            .update_mask
            .map(|mask| mask.paths)
            .unwrap_or_default();
        let update = ProfileUpdate::parse(
            &paths,
            &request.display_name,
            &request.region,
            &request.locale,
        )
        .map_err(|(field, problem)| ServiceError::invalid_field(field, problem))?;
        let account = self
            .service
            .update_profile(&caller, update)
            .await
            .map_err(profile_status)?;
        Ok(Response::new(convert::account(account)))
    }

    pub(super) async fn delete_account(
        &self,
        request: Request<api::DeleteAccountRequest>,
    ) -> Result<Response<api::DeleteAccountResponse>, Status> {
        let caller = self.callers.caller(&request).await?;
        self.service
            .delete_account(&caller)
            .await
            .map_err(profile_status)?;
        Ok(Response::new(api::DeleteAccountResponse {}))
    }
}

/// The profile family's errors.
fn profile_status(error: ProfileError) -> Status {
    let service_error = match error {
        ProfileError::ReauthenticationRequired => status::reauthentication_required(),
        ProfileError::AccountGone => status::account_gone(),
        ProfileError::Unexpected(error) => ServiceError::internal(&error),
    };
    service_error.into()
}
