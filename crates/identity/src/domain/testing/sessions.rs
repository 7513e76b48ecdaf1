//! [`FakeStore`]'s sessions and refresh-token rotation, with the SQL store's outcomes.

use async_trait::async_trait;
use mi_contracts::{MiId, UnixMillis};

use super::FakeStore;
use crate::domain::events::IdentityEvent;
use crate::domain::{
    ActiveSession, NewSession, RevokeScope, RotateOutcome, Session, SessionPosition, SessionStore,
};

#[async_trait]
impl SessionStore for FakeStore {
    async fn start_session(
        &self,
        session: &NewSession,
        events: &[IdentityEvent],
    ) -> anyhow::Result<()> {
        let mut state = self.state();
        state.start(session);
        state.events.extend_from_slice(events);
        Ok(())
    }

    async fn active_session(
        &self,
        session_id: &str,
        now: UnixMillis,
    ) -> anyhow::Result<Option<ActiveSession>> {
        let state = self.state();
        let live = state
            .sessions
            .get(session_id)
            .filter(|new| new.refresh_expires_at > now);
        Ok(live.map(|new| ActiveSession {
            session: new.session.clone(),
            account_locale: state
                .account(new.session.mi_id)
                .map(|account| account.locale)
                .unwrap_or_default(),
        }))
    }

    async fn rotate_refresh(
        &self,
        session_id: &str,
        old_hash: &str,
        new_hash: &str,
        now: UnixMillis,
        new_expires_at: UnixMillis,
    ) -> anyhow::Result<RotateOutcome> {
        let mut state = self.state();
        if let Some(new) = state.sessions.get_mut(session_id)
            && new.refresh_hash == old_hash
            && new.refresh_expires_at > now
        {
            new.refresh_hash = new_hash.to_owned();
            new.refresh_expires_at = new_expires_at;
            new.session.last_used_at = now;
            let session = new.session.clone();
            state
                .used_refresh
                .insert(old_hash.to_owned(), (session_id.to_owned(), now));
            return Ok(RotateOutcome::Rotated(Box::new(session)));
        }
        let reused = state
            .used_refresh
            .get(old_hash)
            .is_some_and(|(id, _)| id == session_id);
        Ok(match state.sessions.get(session_id) {
            Some(new) if reused => RotateOutcome::Reused(new.session.mi_id),
            _ => RotateOutcome::Invalid,
        })
    }

    async fn repeated_refresh(
        &self,
        session_id: &str,
        old_hash: &str,
        successor_hash: &str,
        since: UnixMillis,
        now: UnixMillis,
    ) -> anyhow::Result<Option<Session>> {
        let state = self.state();
        let used_since = state
            .used_refresh
            .get(old_hash)
            .is_some_and(|(id, used_at)| id == session_id && *used_at > since);
        Ok(state
            .sessions
            .get(session_id)
            .filter(|new| {
                used_since && new.refresh_hash == successor_hash && new.refresh_expires_at > now
            })
            .map(|new| new.session.clone()))
    }

    async fn revoke_sessions(
        &self,
        mi_id: MiId,
        scope: RevokeScope<'_>,
        reason: &str,
    ) -> anyhow::Result<Vec<String>> {
        Ok(self.state().revoke(mi_id, scope, reason))
    }

    async fn list_sessions(
        &self,
        mi_id: MiId,
        now: UnixMillis,
        after: Option<&SessionPosition>,
        limit: i64,
    ) -> anyhow::Result<Vec<Session>> {
        let state = self.state();
        // The list's order, newest first, as a key that sorts ascending.
        let sort_key = |position: &SessionPosition| {
            (
                std::cmp::Reverse(position.created_at),
                std::cmp::Reverse(position.session_id.clone()),
            )
        };
        let mut live: Vec<Session> = state
            .sessions
            .values()
            .filter(|new| new.session.mi_id == mi_id && new.refresh_expires_at > now)
            .filter(|new| {
                after.is_none_or(|after| sort_key(&new.session.position()) > sort_key(after))
            })
            .map(|new| new.session.clone())
            .collect();
        live.sort_by_key(|session| sort_key(&session.position()));
        live.truncate(usize::try_from(limit).unwrap_or(0));
        Ok(live)
    }

    async fn mark_authenticated(
        &self,
        session_id: &str,
        now: UnixMillis,
        method: &str,
    ) -> anyhow::Result<()> {
        if let Some(new) = self.state().sessions.get_mut(session_id) {
            new.session.auth_time = now;
            if !new.session.methods.iter().any(|known| known == method) {
                new.session.methods.push(method.to_owned());
            }
        }
        Ok(())
    }
}
