//! [`TwoFactorStore`] in SQL: TOTP secrets, the code second factor and recovery codes.

use async_trait::async_trait;
use mi_contracts::MiId;
use sqlx::{AnyConnection, Row};

use super::{SqlIdentityStore, flag};
use crate::domain::events::IdentityEvent;
use crate::domain::{TotpState, TwoFactorStore};

#[async_trait]
impl TwoFactorStore for SqlIdentityStore {
    async fn totp_state(&self, mi_id: MiId) -> anyhow::Result<TotpState> {
        let row =
            sqlx::query("SELECT totp_secret, totp_pending_secret FROM accounts WHERE mi_id = $1")
                .bind(mi_id.as_i64())
                .fetch_optional(self.database.pool())
                .await?;
        let Some(row) = row else {
            return Ok(TotpState::default());
        };
        Ok(TotpState {
            secret: row.try_get("totp_secret")?,
            pending: row.try_get("totp_pending_secret")?,
        })
    }

    async fn set_pending_totp(&self, mi_id: MiId, sealed: &[u8]) -> anyhow::Result<()> {
        sqlx::query("UPDATE accounts SET totp_pending_secret = $2 WHERE mi_id = $1")
            .bind(mi_id.as_i64())
            .bind(sealed)
            .execute(self.database.pool())
            .await?;
        Ok(())
    }

    async fn confirm_totp(
        &self,
        mi_id: MiId,
        pending: &[u8],
        step: u64,
        recovery_hashes: &[String],
        events: &[IdentityEvent],
    ) -> anyhow::Result<bool> {
        let mut transaction = self.begin().await?;
        let confirmed = sqlx::query(
            "UPDATE accounts SET totp_secret = totp_pending_secret, totp_pending_secret = NULL, \
             totp_last_step = $3 WHERE mi_id = $1 AND totp_pending_secret = $2",
        )
        .bind(mi_id.as_i64())
        .bind(pending)
        .bind(i64::try_from(step)?)
        .execute(&mut *transaction)
        .await?;
        if confirmed.rows_affected() == 0 {
            transaction.rollback().await?;
            return Ok(false);
        }
        replace_codes(&mut transaction, mi_id, recovery_hashes).await?;
        self.commit_with(transaction, mi_id, events).await?;
        Ok(true)
    }

    async fn accept_totp_step(&self, mi_id: MiId, step: u64) -> anyhow::Result<bool> {
        let accepted = sqlx::query(
            "UPDATE accounts SET totp_last_step = $2 WHERE mi_id = $1 AND totp_last_step < $2",
        )
        .bind(mi_id.as_i64())
        .bind(i64::try_from(step)?)
        .execute(self.database.pool())
        .await?;
        Ok(accepted.rows_affected() == 1)
    }

    async fn disable_totp(&self, mi_id: MiId, events: &[IdentityEvent]) -> anyhow::Result<bool> {
        let mut transaction = self.begin().await?;
        let disabled = sqlx::query(
            "UPDATE accounts SET totp_secret = NULL, totp_pending_secret = NULL \
             WHERE mi_id = $1 AND totp_secret IS NOT NULL",
        )
        .bind(mi_id.as_i64())
        .execute(&mut *transaction)
        .await?;
        if disabled.rows_affected() == 0 {
            transaction.rollback().await?;
            return Ok(false);
        }
        // Recovery codes stand in for a second factor; with none left on, they go too.
        sqlx::query(
            "DELETE FROM recovery_codes WHERE mi_id = $1 AND NOT EXISTS \
             (SELECT 1 FROM accounts WHERE mi_id = $1 AND code_second_factor = 1)",
        )
        .bind(mi_id.as_i64())
        .execute(&mut *transaction)
        .await?;
        self.commit_with(transaction, mi_id, events).await?;
        Ok(true)
    }

    async fn set_code_second_factor(
        &self,
        mi_id: MiId,
        enabled: bool,
        events: &[IdentityEvent],
    ) -> anyhow::Result<bool> {
        let mut transaction = self.begin().await?;
        let changed = sqlx::query(
            "UPDATE accounts SET code_second_factor = $2 WHERE mi_id = $1 AND code_second_factor <> $2",
        )
        .bind(mi_id.as_i64())
        .bind(flag(enabled))
        .execute(&mut *transaction)
        .await?;
        if changed.rows_affected() == 0 {
            transaction.rollback().await?;
            return Ok(false);
        }
        self.commit_with(transaction, mi_id, events).await?;
        Ok(true)
    }

    async fn replace_recovery_codes(&self, mi_id: MiId, hashes: &[String]) -> anyhow::Result<()> {
        let mut transaction = self.begin().await?;
        replace_codes(&mut transaction, mi_id, hashes).await?;
        transaction.commit().await?;
        Ok(())
    }

    async fn use_recovery_code(&self, mi_id: MiId, hash: &str) -> anyhow::Result<bool> {
        let used = sqlx::query("DELETE FROM recovery_codes WHERE mi_id = $1 AND code_hash = $2")
            .bind(mi_id.as_i64())
            .bind(hash)
            .execute(self.database.pool())
            .await?;
        Ok(used.rows_affected() == 1)
    }

    async fn record_alerts(&self, mi_id: MiId, events: &[IdentityEvent]) -> anyhow::Result<()> {
        let transaction = self.begin().await?;
        self.commit_with(transaction, mi_id, events).await
    }
}

async fn replace_codes(
    connection: &mut AnyConnection,
    mi_id: MiId,
    hashes: &[String],
) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM recovery_codes WHERE mi_id = $1")
        .bind(mi_id.as_i64())
        .execute(&mut *connection)
        .await?;
    for hash in hashes {
        sqlx::query("INSERT INTO recovery_codes (mi_id, code_hash) VALUES ($1, $2)")
            .bind(mi_id.as_i64())
            .bind(hash)
            .execute(&mut *connection)
            .await?;
    }
    Ok(())
}
