//! Sessions and tokens: RefreshSession (rotation with reuse detection), ListSessions,
//! RevokeSession, RevokeAllSessions, ListSigningKeys, and finding the caller of an access
//! token.

mod store;
#[cfg(test)]
mod tests;
mod tokens;

use std::sync::Arc;

use mi_contracts::{MiId, UnixMillis};
use mi_platform::auth::AccessClaims;
use mi_platform::tokens::PublicKey;

pub use self::store::{ActiveSession, NewSession, RevokeScope, RotateOutcome, SessionStore};
pub use self::tokens::{IssuedTokens, RefreshToken, SessionLifetimes, SessionTokens, TokenIssuer};
use super::{Caller, Session, SessionPosition};

/// Why RefreshSession was refused.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Unknown, expired or malformed: sign in again.
    #[error("invalid refresh token")]
    Invalid,
    /// A refresh token already traded in was presented: the session is revoked.
    #[error("refresh token reused")]
    Reused,
    /// The session reached its maximum lifetime: sign in again.
    #[error("session expired")]
    SessionExpired,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Why ListSessions, RevokeSession or RevokeAllSessions was refused.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// RevokeSession: no session of the account has this id.
    #[error("session not found")]
    SessionNotFound,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Why the access token of an authenticated RPC names no caller.
#[derive(Debug, thiserror::Error)]
pub enum CallerError {
    /// The access token's session was revoked or has expired.
    #[error("session revoked")]
    SessionRevoked,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Sessions and the tokens that carry them.
#[derive(Debug, Clone)]
pub struct Sessions {
    store: Arc<dyn SessionStore>,
    issuer: Arc<TokenIssuer>,
}

impl Sessions {
    /// Sessions in `store`, their tokens signed by `issuer`.
    pub fn new(store: Arc<dyn SessionStore>, issuer: Arc<TokenIssuer>) -> Self {
        Self { store, issuer }
    }

    /// The public keys that verify access tokens, the current one first.
    pub fn public_keys(&self) -> Vec<PublicKey> {
        self.issuer.public_keys()
    }

    /// The caller of a verified access token, if its session is still active.
    pub async fn caller(&self, claims: &AccessClaims) -> Result<Caller, CallerError> {
        let mi_id = claims
            .mi_id()
            .and_then(|raw| MiId::new(raw).ok())
            .ok_or(CallerError::SessionRevoked)?;
        let ActiveSession {
            session,
            account_locale,
        } = self
            .store
            .active_session(&claims.sid, UnixMillis::now())
            .await?
            .filter(|active| active.session.mi_id == mi_id)
            .ok_or(CallerError::SessionRevoked)?;
        Ok(Caller {
            mi_id,
            session_id: session.session_id,
            auth_time: session.auth_time,
            locale: account_locale,
        })
    }

    /// Trades a refresh token for new tokens of the same session. Its successor is derived
    /// from it, so a refresh racing with another one on the same token, within the reuse
    /// grace and while that successor is current, gets the same successor; any other
    /// presentation of a traded-in token is a reuse and ends the session.
    pub async fn refresh(&self, refresh_token: &str) -> Result<SessionTokens, RefreshError> {
        let presented = refresh_token.trim();
        let session_id = RefreshToken::session_id_of(presented).ok_or(RefreshError::Invalid)?;
        let started_at =
            RefreshToken::session_started_at(session_id).ok_or(RefreshError::Invalid)?;
        let now = UnixMillis::now();
        if self.issuer.session_ends_at(started_at) <= now {
            return Err(RefreshError::SessionExpired);
        }
        let old_hash = RefreshToken::hash_of(presented);
        let next = self.issuer.successor(session_id, presented);
        let outcome = self
            .store
            .rotate_refresh(
                session_id,
                &old_hash,
                &next.hash,
                now,
                self.issuer.refresh_expires_at(now, started_at),
            )
            .await?;
        let session = match outcome {
            RotateOutcome::Rotated(session) => *session,
            RotateOutcome::Reused(mi_id) => {
                let since = now.saturating_sub(self.issuer.reuse_grace());
                let repeated = self
                    .store
                    .repeated_refresh(session_id, &old_hash, &next.hash, since, now)
                    .await?;
                if let Some(session) = repeated {
                    session
                } else {
                    // Someone holds a copy of an old token: end the session for thief and owner.
                    tracing::warn!(%mi_id, session_id, "refresh token reused; revoking the session");
                    self.store
                        .revoke_sessions(
                            mi_id,
                            RevokeScope::One(session_id),
                            "refresh_token_reused",
                        )
                        .await?;
                    return Err(RefreshError::Reused);
                }
            }
            RotateOutcome::Invalid => return Err(RefreshError::Invalid),
        };
        let tokens = self.issuer.issue(&session, &next, now)?;
        Ok(SessionTokens { session, tokens })
    }

    /// The caller's sessions, newest first: at most `limit`, those after `after`.
    pub async fn list_sessions(
        &self,
        caller: &Caller,
        after: Option<&SessionPosition>,
        limit: i64,
    ) -> Result<Vec<Session>, SessionError> {
        Ok(self
            .store
            .list_sessions(caller.mi_id, UnixMillis::now(), after, limit)
            .await?)
    }

    /// Ends one of the caller's sessions.
    pub async fn revoke_session(
        &self,
        caller: &Caller,
        session_id: &str,
    ) -> Result<(), SessionError> {
        let reason = if session_id == caller.session_id {
            "signed_out"
        } else {
            "revoked"
        };
        let revoked = self
            .store
            .revoke_sessions(caller.mi_id, RevokeScope::One(session_id.trim()), reason)
            .await?;
        if revoked.is_empty() {
            return Err(SessionError::SessionNotFound);
        }
        Ok(())
    }

    /// Ends every session device `device_id` of account `mi_id` held when its owner removed
    /// it at `removed_at` (the device registry's `DeviceRemoved`); returns how many. Applying
    /// it again ends nothing new: a later sign-in on the device started after the removal.
    pub async fn revoke_device_sessions(
        &self,
        mi_id: MiId,
        device_id: &str,
        removed_at: UnixMillis,
    ) -> anyhow::Result<usize> {
        let scope = RevokeScope::Device {
            device_id,
            started_until: removed_at,
        };
        let revoked = self
            .store
            .revoke_sessions(mi_id, scope, "device_removed")
            .await?;
        Ok(revoked.len())
    }

    /// Ends every session of the caller's account; returns how many.
    pub async fn revoke_all_sessions(&self, caller: &Caller) -> Result<u32, SessionError> {
        let revoked = self
            .store
            .revoke_sessions(caller.mi_id, RevokeScope::All, "all_revoked")
            .await?;
        Ok(u32::try_from(revoked.len()).unwrap_or(u32::MAX))
    }
}
