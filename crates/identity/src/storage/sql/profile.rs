//! [`ProfileStore`] in SQL: profile fields, and deleting an account with everything it owns.

use async_trait::async_trait;
use mi_contracts::MiId;

use super::SqlIdentityStore;
use crate::domain::events::IdentityEvent;
use crate::domain::{Account, ProfileStore, RevokeScope};

#[async_trait]
impl ProfileStore for SqlIdentityStore {
    async fn update_profile(
        &self,
        account: &Account,
        events: &[IdentityEvent],
    ) -> anyhow::Result<bool> {
        let mut transaction = self.begin().await?;
        let updated = sqlx::query(
            "UPDATE accounts SET display_name = $2, region = $3, locale = $4 WHERE mi_id = $1",
        )
        .bind(account.mi_id.as_i64())
        .bind(&account.display_name)
        .bind(&account.region)
        .bind(&account.locale)
        .execute(&mut *transaction)
        .await?;
        if updated.rows_affected() == 0 {
            transaction.rollback().await?;
            return Ok(false);
        }
        self.commit_with(transaction, account.mi_id, events).await?;
        Ok(true)
    }

    async fn delete_account(&self, mi_id: MiId, events: &[IdentityEvent]) -> anyhow::Result<bool> {
        let mut transaction = self.begin().await?;
        self.revoke_in(&mut transaction, mi_id, RevokeScope::All, "account_deleted")
            .await?;
        for table in [
            "contacts",
            "known_devices",
            "sign_in_challenges",
            "consent_challenges",
            "consents",
            "recovery_codes",
        ] {
            sqlx::query(&format!("DELETE FROM {table} WHERE mi_id = $1"))
                .bind(mi_id.as_i64())
                .execute(&mut *transaction)
                .await?;
        }
        let deleted = sqlx::query("DELETE FROM accounts WHERE mi_id = $1")
            .bind(mi_id.as_i64())
            .execute(&mut *transaction)
            .await?;
        if deleted.rows_affected() == 0 {
            transaction.rollback().await?;
            return Ok(false);
        }
        self.commit_with(transaction, mi_id, events).await?;
        Ok(true)
    }
}
