//! RefreshSession, ListSessions, RevokeSession, RevokeAllSessions and ListSigningKeys on the
//! wire; the sessions family's errors, and [`CallerError`] (every authenticated RPC's first
//! refusal), as the client sees them.

use std::sync::Arc;

use mi_contracts::Reason;
use mi_platform::paging::PageRequest;
use mi_platform::tokens::jwk_set_json;
use mi_platform::{ErrorCode, ServiceError};
use mi_proto::identity::v1 as api;
use tonic::{Request, Response, Status};

use super::caller::Callers;
use super::{convert, limits};
use crate::domain::{CallerError, RefreshError, Session, SessionError, SessionPosition, Sessions};

/// The sessions family's RPCs.
#[derive(Debug)]
pub(super) struct SessionRpcs {
    pub(super) service: Sessions,
    pub(super) callers: Arc<Callers>,
}

impl SessionRpcs {
    pub(super) async fn refresh_session(
        &self,
        request: Request<api::RefreshSessionRequest>,
    ) -> Result<Response<api::SessionTokens>, Status> {
        let request = request.into_inner();
        limits::refresh_session(&request).map_err(ServiceError::from)?;
        let tokens = self
            .service
            .refresh(&request.refresh_token)
            .await
            .map_err(refresh_status)?;
        Ok(Response::new(convert::tokens(tokens)))
    }

    pub(super) async fn list_sessions(
        &self,
        request: Request<api::ListSessionsRequest>,
    ) -> Result<Response<api::ListSessionsResponse>, Status> {
        let caller = self.callers.caller(&request).await?;
        let request = request.into_inner();
        let page =
            PageRequest::<SessionPosition>::from_wire(request.page_size, &request.page_token)?;
        let sessions = self
            .service
            .list_sessions(&caller, page.after.as_ref(), page.fetch_limit())
            .await
            .map_err(session_status)?;
        let page = page.page(sessions, Session::position);
        Ok(Response::new(api::ListSessionsResponse {
            sessions: page
                .items
                .into_iter()
                .map(|session| convert::session(session, &caller.session_id))
                .collect(),
            next_page_token: page.next_page_token,
        }))
    }

    pub(super) async fn revoke_session(
        &self,
        request: Request<api::RevokeSessionRequest>,
    ) -> Result<Response<api::RevokeSessionResponse>, Status> {
        limits::revoke_session(request.get_ref()).map_err(ServiceError::from)?;
        let caller = self.callers.caller(&request).await?;
        self.service
            .revoke_session(&caller, &request.into_inner().session_id)
            .await
            .map_err(session_status)?;
        Ok(Response::new(api::RevokeSessionResponse {}))
    }

    pub(super) async fn revoke_all_sessions(
        &self,
        request: Request<api::RevokeAllSessionsRequest>,
    ) -> Result<Response<api::RevokeAllSessionsResponse>, Status> {
        let caller = self.callers.caller(&request).await?;
        let revoked = self
            .service
            .revoke_all_sessions(&caller)
            .await
            .map_err(session_status)?;
        Ok(Response::new(api::RevokeAllSessionsResponse { revoked }))
    }

    pub(super) fn list_signing_keys(&self) -> Response<api::ListSigningKeysResponse> {
        let keys = self.service.public_keys();
        Response::new(api::ListSigningKeysResponse {
            jwks_json: jwk_set_json(&keys),
            keys: keys
                .into_iter()
                .map(|key| api::SigningKey {
                    key_id: key.key_id,
                    algorithm: "EdDSA".into(),
                    public_key: key.x,
                })
                .collect(),
        })
    }
}

/// RefreshSession's errors.
fn refresh_status(error: RefreshError) -> Status {
    let service_error = match error {
        RefreshError::Invalid => ServiceError::unauthenticated(
            Reason::RefreshTokenInvalid,
            "the refresh token is invalid or expired; sign in again",
        ),
        RefreshError::Reused => ServiceError::unauthenticated(
            Reason::RefreshTokenReused,
            "this refresh token was already used, so the session was ended; sign in again",
        ),
        RefreshError::SessionExpired => ServiceError::unauthenticated(
            Reason::SessionExpired,
            "this session reached its maximum lifetime; sign in again",
        ),
        RefreshError::Unexpected(error) => ServiceError::internal(&error),
    };
    service_error.into()
}

/// ListSessions', RevokeSession's and RevokeAllSessions' errors.
fn session_status(error: SessionError) -> Status {
    let service_error = match error {
        SessionError::SessionNotFound => ServiceError::new(
            ErrorCode::NotFound,
            "the account has no session with this id",
        ),
        SessionError::Unexpected(error) => ServiceError::internal(&error),
    };
    service_error.into()
}

/// Why an access token names no caller, for every authenticated RPC.
pub(super) fn caller_status(error: CallerError) -> Status {
    let service_error = match error {
        CallerError::SessionRevoked => ServiceError::unauthenticated(
            Reason::SessionRevoked,
            "the session of this access token has ended; sign in again",
        ),
        CallerError::Unexpected(error) => ServiceError::internal(&error),
    };
    service_error.into()
}
