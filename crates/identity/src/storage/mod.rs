//! Where accounts live. One SQL implementation serves PostgreSQL and SQLite.

use async_trait::async_trait;
use mi_platform::db::Database;
use sqlx::Row;

use crate::domain::{Account, MiId};

/// Reads accounts.
#[async_trait]
pub trait AccountStore: Send + Sync + std::fmt::Debug {
    /// The account with this Mi ID, if any.
    async fn get(&self, mi_id: MiId) -> anyhow::Result<Option<Account>>;
}

/// Accounts in the identity database.
#[derive(Debug, Clone)]
pub struct SqlAccountStore {
    database: Database,
}

impl SqlAccountStore {
    /// A store over a migrated database.
    pub fn new(database: Database) -> Self {
        Self { database }
    }
}

#[async_trait]
impl AccountStore for SqlAccountStore {
    async fn get(&self, mi_id: MiId) -> anyhow::Result<Option<Account>> {
        let row = sqlx::query(
            "SELECT display_name, region, locale, created_at FROM accounts WHERE mi_id = $1",
        )
        .bind(mi_id.as_i64())
        .fetch_optional(self.database.pool())
        .await?;
        row.map(|row| {
            Ok(Account {
                mi_id,
                display_name: row.try_get("display_name")?,
                region: row.try_get("region")?,
                locale: row.try_get("locale")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .transpose()
    }
}
