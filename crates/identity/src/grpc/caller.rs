//! Who calls an authenticated RPC, and from where: the access token's active session, and the
//! client address (from a trusted proxy's header when configured).

use mi_platform::auth::AccessTokenVerifier;
use mi_platform::server;
use tonic::{Request, Status};

use super::sessions;
use crate::domain::{Caller, Sessions};

/// Finds callers and client addresses; every family's handler shares one.
#[derive(Debug)]
pub(super) struct Callers {
    access_tokens: AccessTokenVerifier,
    sessions: Sessions,
    trusted_proxy_header: Option<String>,
}

impl Callers {
    /// Callers of access tokens `sessions`' issuer signed.
    pub(super) fn new(
        sessions: Sessions,
        trusted_proxy_header: Option<String>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            access_tokens: AccessTokenVerifier::new(&sessions.public_keys())?,
            sessions,
            trusted_proxy_header,
        })
    }

    /// The client address of a request.
    pub(super) fn client<T>(&self, request: &Request<T>) -> String {
        server::client_address(request, self.trusted_proxy_header.as_deref())
    }

    /// The caller of an authenticated RPC: a valid access token of an active session.
    pub(super) async fn caller<T>(&self, request: &Request<T>) -> Result<Caller, Status> {
        let claims = self.access_tokens.authenticate(request.metadata())?;
        self.sessions
            .caller(&claims)
            .await
            .map_err(sessions::caller_status)
    }
}
