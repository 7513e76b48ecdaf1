//! The gRPC face of the identity service.

use std::sync::Arc;

use mi_platform::{ErrorCode, ServiceError, clock};
use mi_proto::identity::v1 as api;
use mi_proto::identity::v1::identity_service_server::IdentityService;
use tonic::{Request, Response, Status};

use crate::domain::MiId;
use crate::storage::AccountStore;

/// Serves `mi.identity.v1.IdentityService`.
#[derive(Debug)]
pub struct IdentityHandler {
    accounts: Arc<dyn AccountStore>,
}

impl IdentityHandler {
    /// A handler over the account store.
    pub fn new(accounts: Arc<dyn AccountStore>) -> Self {
        Self { accounts }
    }
}

#[tonic::async_trait]
impl IdentityService for IdentityHandler {
    async fn get_account(
        &self,
        request: Request<api::GetAccountRequest>,
    ) -> Result<Response<api::Account>, Status> {
        let mi_id = MiId::parse(request.into_inner().mi_id)
            .map_err(|problem| ServiceError::invalid_field("mi_id", problem))?;
        let account = self
            .accounts
            .get(mi_id)
            .await
            .map_err(|error| ServiceError::internal(&error))?
            .ok_or_else(|| ServiceError::new(ErrorCode::NotFound, "no account has this Mi ID"))?;
        Ok(Response::new(api::Account {
            mi_id: account.mi_id.get(),
            display_name: account.display_name,
            region: account.region,
            locale: account.locale,
            create_time: Some(clock::millis_to_timestamp(account.created_at)),
        }))
    }
}
