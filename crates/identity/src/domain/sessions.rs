//! Sessions: refresh-token rotation with reuse detection, listing and revoking.

use mi_platform::clock;

use super::tokens::RefreshToken;
use super::{AccountError, Accounts, Caller, IssuedTokens, Session};
use crate::storage::{RevokeScope, RotateOutcome};

/// Why a refresh was refused.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Unknown, expired or malformed: sign in again.
    #[error("invalid refresh token")]
    Invalid,
    /// A refresh token already traded in was presented: the session is revoked.
    #[error("refresh token reused")]
    Reused,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl Accounts {
    /// Trades a refresh token for new tokens of the same session.
    pub async fn refresh(
        &self,
        refresh_token: &str,
    ) -> Result<(Session, IssuedTokens), RefreshError> {
        let session_id = RefreshToken::session_id_of(refresh_token).ok_or(RefreshError::Invalid)?;
        let now = clock::now_millis();
        let next = RefreshToken::generate(session_id);
        let outcome = self
            .store
            .rotate_refresh(
                session_id,
                &RefreshToken::hash_of(refresh_token.trim()),
                &next.hash,
                now,
                self.issuer.refresh_expires_at(now),
            )
            .await?;
        match outcome {
            RotateOutcome::Rotated(session) => {
                let tokens = self.issuer.issue(&session, &next, now)?;
                Ok((session, tokens))
            }
            RotateOutcome::Reused(mi_id) => {
                // Someone holds a copy of an old token: end the session for thief and owner.
                tracing::warn!(%mi_id, session_id, "refresh token reused; revoking the session");
                self.store
                    .revoke_sessions(mi_id, RevokeScope::One(session_id), "refresh_token_reused")
                    .await?;
                Err(RefreshError::Reused)
            }
            RotateOutcome::Invalid => Err(RefreshError::Invalid),
        }
    }

    /// The caller's sessions, newest first.
    pub async fn list_sessions(&self, caller: &Caller) -> Result<Vec<Session>, AccountError> {
        Ok(self
            .store
            .list_sessions(caller.mi_id, clock::now_millis())
            .await?)
    }

    /// Ends one of the caller's sessions.
    pub async fn revoke_session(
        &self,
        caller: &Caller,
        session_id: &str,
    ) -> Result<(), AccountError> {
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
            return Err(AccountError::SessionNotFound);
        }
        Ok(())
    }

    /// Ends every session of the caller's account; returns how many.
    pub async fn revoke_all_sessions(&self, caller: &Caller) -> Result<u32, AccountError> {
        let revoked = self
            .store
            .revoke_sessions(caller.mi_id, RevokeScope::All, "all_revoked")
            .await?;
        Ok(u32::try_from(revoked.len()).unwrap_or(u32::MAX))
    }
}
