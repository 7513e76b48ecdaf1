//! [`PasswordStore`] in SQL: password hashes, and a change that revokes sessions.

use async_trait::async_trait;
use mi_contracts::MiId;
use sqlx::Row;

use super::{SqlIdentityStore, spend};
use crate::domain::events::IdentityEvent;
use crate::domain::{PasswordStore, RevokeScope, SetPasswordOutcome, StoredHash, VerifiedContact};

#[async_trait]
impl PasswordStore for SqlIdentityStore {
    async fn password_hash(&self, mi_id: MiId) -> anyhow::Result<Option<StoredHash>> {
        let row = sqlx::query("SELECT password_hash FROM accounts WHERE mi_id = $1")
            .bind(mi_id.as_i64())
            .fetch_optional(self.database.pool())
            .await?;
        row.map(|row| Ok(StoredHash(row.try_get("password_hash")?)))
            .transpose()
    }

    async fn set_password(
        &self,
        mi_id: MiId,
        hash: &StoredHash,
        token: Option<&VerifiedContact>,
        keep: Option<&str>,
        reason: &str,
        events: &[IdentityEvent],
    ) -> anyhow::Result<SetPasswordOutcome> {
        let mut transaction = self.begin().await?;
        if let Some(token) = token
            && !spend(&mut transaction, token).await?
        {
            transaction.rollback().await?;
            return Ok(SetPasswordOutcome::TokenSpent);
        }
        let updated = sqlx::query("UPDATE accounts SET password_hash = $2 WHERE mi_id = $1")
            .bind(mi_id.as_i64())
            .bind(&hash.0)
            .execute(&mut *transaction)
            .await?;
        if updated.rows_affected() == 0 {
            transaction.rollback().await?;
            return Ok(SetPasswordOutcome::NoAccount);
        }
        let scope = keep.map_or(RevokeScope::All, RevokeScope::AllExcept);
        let revoked = self
            .revoke_in(&mut transaction, mi_id, scope, reason)
            .await?;
        self.commit_with(transaction, mi_id, events).await?;
        Ok(SetPasswordOutcome::Changed {
            sessions_revoked: u32::try_from(revoked.len()).unwrap_or(u32::MAX),
        })
    }

    async fn record_events(&self, mi_id: MiId, events: &[IdentityEvent]) -> anyhow::Result<()> {
        let transaction = self.begin().await?;
        self.commit_with(transaction, mi_id, events).await
    }
}
