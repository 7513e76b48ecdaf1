//! Who calls an authenticated RPC, and from where: the access token's active session, and the
//! client address (from a trusted proxy's header when configured).

use mi_platform::auth::AccessTokenVerifier;
use mi_platform::client::ProxyTrust;
use mi_platform::localized;
use tonic::{Request, Status};

use super::sessions;
use crate::domain::{Caller, Sessions};

/// Finds callers and client addresses; every family's handler shares one.
#[derive(Debug)]
pub(super) struct Callers {
    access_tokens: AccessTokenVerifier,
    sessions: Sessions,
    proxy_trust: ProxyTrust,
}

impl Callers {
    /// Callers of access tokens `sessions`' issuer signed.
    pub(super) fn new(sessions: Sessions, proxy_trust: ProxyTrust) -> anyhow::Result<Self> {
        Ok(Self {
            access_tokens: AccessTokenVerifier::new(&sessions.public_keys())?,
            sessions,
            proxy_trust,
        })
    }

    /// The client address of a request.
    pub(super) fn client<T>(&self, request: &Request<T>) -> String {
        self.proxy_trust.client_address(request)
    }

    /// The caller of an authenticated RPC: a valid access token of an active session. The
    /// request's errors are written in the account's locale from here on.
    pub(super) async fn caller<T>(&self, request: &Request<T>) -> Result<Caller, Status> {
        let claims = self.access_tokens.authenticate(request.metadata())?;
        let caller = self
            .sessions
            .caller(&claims)
            .await
            .map_err(sessions::caller_status)?;
        localized::prefer_account_locale(request, &caller.locale);
        Ok(caller)
    }
}
