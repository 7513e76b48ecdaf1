//! [`AccountLookup`] in SQL: the account with its contacts in one round trip.

use async_trait::async_trait;
use mi_contracts::MiId;

use super::SqlIdentityStore;
use super::rows::{account_from_rows, account_query, mi_id_at};
use crate::domain::{Account, AccountLookup, Identifier};

#[async_trait]
impl AccountLookup for SqlIdentityStore {
    async fn account(&self, mi_id: MiId) -> anyhow::Result<Option<Account>> {
        let rows = sqlx::query(&account_query("accounts.mi_id = $1", ""))
            .bind(mi_id.as_i64())
            .fetch_all(self.database.pool())
            .await?;
        account_from_rows(&rows)
    }

    async fn find_account(&self, identifier: &Identifier) -> anyhow::Result<Option<MiId>> {
        let row = match identifier {
            Identifier::MiId(mi_id) => {
                sqlx::query("SELECT mi_id FROM accounts WHERE mi_id = $1")
                    .bind(mi_id.as_i64())
                    .fetch_optional(self.database.pool())
                    .await?
            }
            Identifier::Contact(contact) => {
                sqlx::query("SELECT mi_id FROM contacts WHERE contact_value = $1")
                    .bind(contact.as_str())
                    .fetch_optional(self.database.pool())
                    .await?
            }
        };
        row.map(|row| mi_id_at(&row, "mi_id")).transpose()
    }

    async fn account_named(&self, identifier: &Identifier) -> anyhow::Result<Option<Account>> {
        let pool = self.database.pool();
        let rows = match identifier {
            Identifier::MiId(mi_id) => {
                sqlx::query(&account_query("accounts.mi_id = $1", ""))
                    .bind(mi_id.as_i64())
                    .fetch_all(pool)
                    .await?
            }
            Identifier::Contact(contact) => {
                let owner =
                    "accounts.mi_id = (SELECT mi_id FROM contacts WHERE contact_value = $1)";
                sqlx::query(&account_query(owner, ""))
                    .bind(contact.as_str())
                    .fetch_all(pool)
                    .await?
            }
        };
        account_from_rows(&rows)
    }
}
