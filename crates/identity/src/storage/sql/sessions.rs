//! [`SessionStore`] in SQL: sessions and refresh-token rotation.

use async_trait::async_trait;
use mi_contracts::{MiId, UnixMillis};
use mi_platform::db::Backend;
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, Row};

use super::SqlIdentityStore;
use super::rows::{SESSION_COLUMNS, insert_session, mi_id_at, session_from_row};
use crate::domain::events::IdentityEvent;
use crate::domain::{
    ActiveSession, NewSession, RevokeScope, RotateOutcome, Session, SessionPosition, SessionStore,
};

#[async_trait]
impl SessionStore for SqlIdentityStore {
    async fn start_session(
        &self,
        session: &NewSession,
        events: &[IdentityEvent],
    ) -> anyhow::Result<()> {
        let mut transaction = self.begin().await?;
        insert_session(&mut transaction, session).await?;
        self.commit_with(transaction, session.session.mi_id, events)
            .await
    }

    async fn active_session(
        &self,
        session_id: &str,
        now: UnixMillis,
    ) -> anyhow::Result<Option<ActiveSession>> {
        let row = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS}, \
             (SELECT locale FROM accounts WHERE accounts.mi_id = sessions.mi_id) AS account_locale \
             FROM sessions WHERE session_id = $1 AND refresh_expires_at > $2"
        ))
        .bind(session_id)
        .bind(now.as_i64())
        .fetch_optional(self.database.pool())
        .await?;
        row.map(|row| {
            Ok(ActiveSession {
                session: session_from_row(&row)?,
                account_locale: row
                    .try_get::<Option<String>, _>("account_locale")?
                    .unwrap_or_default(),
            })
        })
        .transpose()
    }

    async fn rotate_refresh(
        &self,
        session_id: &str,
        old_hash: &str,
        new_hash: &str,
        now: UnixMillis,
        new_expires_at: UnixMillis,
    ) -> anyhow::Result<RotateOutcome> {
        let rotation = Rotation {
            session_id,
            old_hash,
            new_hash,
            now,
            new_expires_at,
        };
        let rotated = match self.database.backend() {
            Backend::Postgres => self.rotate_in_one_statement(&rotation).await?,
            Backend::Sqlite => self.rotate_in_transaction(&rotation).await?,
        };
        if let Some(session) = rotated {
            return Ok(RotateOutcome::Rotated(Box::new(session)));
        }
        let reused = sqlx::query(
            "SELECT sessions.mi_id AS mi_id FROM used_refresh_tokens \
             JOIN sessions ON sessions.session_id = used_refresh_tokens.session_id \
             WHERE used_refresh_tokens.token_hash = $1 AND used_refresh_tokens.session_id = $2",
        )
        .bind(old_hash)
        .bind(session_id)
        .fetch_optional(self.database.pool())
        .await?;
        Ok(match reused {
            Some(row) => RotateOutcome::Reused(mi_id_at(&row, "mi_id")?),
            None => RotateOutcome::Invalid,
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
        let row = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions \
             WHERE session_id = $1 AND refresh_hash = $3 AND refresh_expires_at > $5 \
             AND EXISTS (SELECT 1 FROM used_refresh_tokens \
                         WHERE token_hash = $2 AND session_id = $1 AND used_at > $4)"
        ))
        .bind(session_id)
        .bind(old_hash)
        .bind(successor_hash)
        .bind(since.as_i64())
        .bind(now.as_i64())
        .fetch_optional(self.database.pool())
        .await?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn revoke_sessions(
        &self,
        mi_id: MiId,
        scope: RevokeScope<'_>,
        reason: &str,
    ) -> anyhow::Result<Vec<String>> {
        let mut transaction = self.begin().await?;
        let revoked = self
            .revoke_in(&mut transaction, mi_id, scope, reason)
            .await?;
        transaction.commit().await?;
        if !revoked.is_empty() {
            self.outbox.notify_committed();
        }
        Ok(revoked)
    }

    async fn list_sessions(
        &self,
        mi_id: MiId,
        now: UnixMillis,
        after: Option<&SessionPosition>,
        limit: i64,
    ) -> anyhow::Result<Vec<Session>> {
        let list = format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE mi_id = $1 AND refresh_expires_at > $2"
        );
        let order = "ORDER BY created_at DESC, session_id DESC LIMIT $3";
        let first_page = format!("{list} {order}");
        // Keyset paging: the sessions after `after` in the list's order.
        let next_page = format!(
            "{list} AND (created_at < $4 OR (created_at = $4 AND session_id < $5)) {order}"
        );
        let query = match after {
            None => sqlx::query(&first_page)
                .bind(mi_id.as_i64())
                .bind(now.as_i64())
                .bind(limit),
            Some(after) => sqlx::query(&next_page)
                .bind(mi_id.as_i64())
                .bind(now.as_i64())
                .bind(limit)
                .bind(after.created_at.as_i64())
                .bind(&after.session_id),
        };
        query
            .fetch_all(self.database.pool())
            .await?
            .iter()
            .map(session_from_row)
            .collect()
    }

    async fn mark_authenticated(
        &self,
        session_id: &str,
        now: UnixMillis,
        method: &str,
    ) -> anyhow::Result<()> {
        let mut transaction = self.begin().await?;
        // Writing first takes the row lock, so two methods proven at once both end up listed.
        let touched = sqlx::query("UPDATE sessions SET auth_time = $2 WHERE session_id = $1")
            .bind(session_id)
            .bind(now.as_i64())
            .execute(&mut *transaction)
            .await?;
        if touched.rows_affected() == 0 {
            transaction.rollback().await?;
            return Ok(());
        }
        let row = sqlx::query("SELECT methods FROM sessions WHERE session_id = $1")
            .bind(session_id)
            .fetch_one(&mut *transaction)
            .await?;
        let mut methods: Vec<String> = serde_json::from_str(&row.try_get::<String, _>("methods")?)?;
        if !methods.iter().any(|known| known == method) {
            methods.push(method.to_owned());
            sqlx::query("UPDATE sessions SET methods = $2 WHERE session_id = $1")
                .bind(session_id)
                .bind(serde_json::to_string(&methods)?)
                .execute(&mut *transaction)
                .await?;
        }
        transaction.commit().await?;
        Ok(())
    }
}

/// One refresh-token rotation, bound as $1 session, $2 old hash, $3 new hash, $4 now and
/// $5 new expiry.
struct Rotation<'a> {
    session_id: &'a str,
    old_hash: &'a str,
    new_hash: &'a str,
    now: UnixMillis,
    new_expires_at: UnixMillis,
}

impl<'a> Rotation<'a> {
    fn bind(&self, statement: &'a str) -> Query<'a, Any, AnyArguments<'a>> {
        sqlx::query(statement)
            .bind(self.session_id)
            .bind(self.old_hash)
            .bind(self.new_hash)
            .bind(self.now.as_i64())
            .bind(self.new_expires_at.as_i64())
    }
}

/// Swaps a live session's refresh hash; the `UPDATE` both ways of rotating share.
fn rotate_statement() -> String {
    format!(
        "UPDATE sessions SET refresh_hash = $3, last_used_at = $4, refresh_expires_at = $5 \
         WHERE session_id = $1 AND refresh_hash = $2 AND refresh_expires_at > $4 \
         RETURNING {SESSION_COLUMNS}"
    )
}

/// The two ways to rotate: same effect, PostgreSQL's in one round trip (refresh is the hottest
/// write), SQLite's in a transaction because SQLite has no data-modifying CTEs.
impl SqlIdentityStore {
    /// Swaps the refresh hash and records the old one as used, in one autocommitted statement.
    async fn rotate_in_one_statement(
        &self,
        rotation: &Rotation<'_>,
    ) -> anyhow::Result<Option<Session>> {
        let statement = format!(
            "WITH rotated AS ({}), \
             used AS (INSERT INTO used_refresh_tokens (token_hash, session_id, used_at) \
                      SELECT $2, session_id, $4 FROM rotated) \
             SELECT {SESSION_COLUMNS} FROM rotated",
            rotate_statement()
        );
        let row = rotation
            .bind(&statement)
            .fetch_optional(self.database.pool())
            .await?;
        row.as_ref().map(session_from_row).transpose()
    }

    /// The same as [`Self::rotate_in_one_statement`], as an update and an insert in a transaction.
    async fn rotate_in_transaction(
        &self,
        rotation: &Rotation<'_>,
    ) -> anyhow::Result<Option<Session>> {
        let mut transaction = self.begin().await?;
        let statement = rotate_statement();
        let Some(row) = rotation
            .bind(&statement)
            .fetch_optional(&mut *transaction)
            .await?
        else {
            return Ok(None);
        };
        sqlx::query(
            "INSERT INTO used_refresh_tokens (token_hash, session_id, used_at) VALUES ($1, $2, $3)",
        )
        .bind(rotation.old_hash)
        .bind(rotation.session_id)
        .bind(rotation.now.as_i64())
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        session_from_row(&row).map(Some)
    }
}
