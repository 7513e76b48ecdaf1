//! [`ContactStore`] in SQL: recovery contacts within the limit, and the primary one.

use async_trait::async_trait;
use mi_contracts::MiId;
use sqlx::Row;

use super::rows::insert_contact;
use super::{SqlIdentityStore, lock_account, spend};
use crate::domain::events::IdentityEvent;
use crate::domain::{AddContactOutcome, Contact, ContactStore, ContactValue, VerifiedContact};

#[async_trait]
impl ContactStore for SqlIdentityStore {
    async fn add_contact(
        &self,
        mi_id: MiId,
        contact: &Contact,
        token: &VerifiedContact,
        max_contacts: usize,
        events: &[IdentityEvent],
    ) -> anyhow::Result<AddContactOutcome> {
        let mut transaction = self.begin().await?;
        if !lock_account(&mut transaction, mi_id).await? {
            transaction.rollback().await?;
            return Ok(AddContactOutcome::NoAccount);
        }
        let existing: i64 =
            sqlx::query("SELECT COUNT(*) AS contact_count FROM contacts WHERE mi_id = $1")
                .bind(mi_id.as_i64())
                .fetch_one(&mut *transaction)
                .await?
                .try_get("contact_count")?;
        if usize::try_from(existing).unwrap_or(usize::MAX) >= max_contacts {
            transaction.rollback().await?;
            return Ok(AddContactOutcome::TooMany);
        }
        if !spend(&mut transaction, token).await? {
            transaction.rollback().await?;
            return Ok(AddContactOutcome::TokenSpent);
        }
        if !insert_contact(&mut transaction, mi_id, contact).await? {
            transaction.rollback().await?;
            return Ok(AddContactOutcome::InUse);
        }
        self.commit_with(transaction, mi_id, events).await?;
        Ok(AddContactOutcome::Added)
    }

    async fn remove_contact(
        &self,
        mi_id: MiId,
        value: &ContactValue,
        events: &[IdentityEvent],
    ) -> anyhow::Result<bool> {
        let mut transaction = self.begin().await?;
        if !lock_account(&mut transaction, mi_id).await? {
            transaction.rollback().await?;
            return Ok(false);
        }
        let removed = sqlx::query(
            "DELETE FROM contacts WHERE mi_id = $1 AND contact_value = $2 AND is_primary = 0",
        )
        .bind(mi_id.as_i64())
        .bind(value.as_str())
        .execute(&mut *transaction)
        .await?;
        if removed.rows_affected() == 0 {
            transaction.rollback().await?;
            return Ok(false);
        }
        self.commit_with(transaction, mi_id, events).await?;
        Ok(true)
    }

    async fn set_primary_contact(&self, mi_id: MiId, value: &ContactValue) -> anyhow::Result<bool> {
        let mut transaction = self.begin().await?;
        if !lock_account(&mut transaction, mi_id).await? {
            transaction.rollback().await?;
            return Ok(false);
        }
        let owned =
            sqlx::query("SELECT 1 AS owned FROM contacts WHERE mi_id = $1 AND contact_value = $2")
                .bind(mi_id.as_i64())
                .bind(value.as_str())
                .fetch_optional(&mut *transaction)
                .await?;
        if owned.is_none() {
            transaction.rollback().await?;
            return Ok(false);
        }
        sqlx::query("UPDATE contacts SET is_primary = CASE WHEN contact_value = $2 THEN 1 ELSE 0 END WHERE mi_id = $1")
            .bind(mi_id.as_i64())
            .bind(value.as_str())
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        Ok(true)
    }
}
