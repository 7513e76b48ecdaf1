//! Spent device tokens, written by group commit (`mi_platform::group_commit`). Every
//! device-side call spends its token's jti; alone, each spend would be a transaction of its
//! own, and its commit (a WAL flush) the bound on how many calls a second the devices can make
//! (a location report spent more on its token than on its location). Concurrent spends share
//! one transaction instead, and a spend is answered only once it is committed, so a replayed
//! token is refused however the two calls are timed.

use std::collections::{HashMap, HashSet};

use mi_platform::db::Database;
use mi_platform::group_commit::{GroupCommit, GroupCommitSettings};
use sqlx::Row;

/// Rows per statement: two parameters each stays far below both backends' limits.
const ROWS_PER_CHUNK: usize = 400;

/// One call's token: its key and when it expires (Unix milliseconds).
#[derive(Debug)]
struct Spend {
    key: String,
    expires_at: i64,
}

/// The spent-token table, written in batches.
#[derive(Debug, Clone)]
pub(crate) struct SpentTokens {
    writes: std::sync::Arc<GroupCommit<Spend, bool>>,
}

impl SpentTokens {
    /// Writes spends to `database` in batches as `writes` says.
    pub(crate) fn new(database: Database, writes: GroupCommitSettings) -> Self {
        let writes = GroupCommit::start(writes, move |spends| {
            let database = database.clone();
            async move { write_batch(&database, spends).await }
        });
        Self {
            writes: std::sync::Arc::new(writes),
        }
    }

    /// Spends `key`, valid until `expires_at`; false if it was spent before (a replay).
    pub(crate) async fn spend(&self, key: String, expires_at: i64) -> anyhow::Result<bool> {
        self.writes.submit(Spend { key, expires_at }).await
    }
}

/// Inserts a batch's keys in one transaction; whether each call spent its key first. Of two
/// calls with one key in a batch, the first spends it.
async fn write_batch(database: &Database, spends: Vec<Spend>) -> anyhow::Result<Vec<bool>> {
    let mut firsts: HashMap<&str, usize> = HashMap::new();
    for (index, spend) in spends.iter().enumerate() {
        firsts.entry(spend.key.as_str()).or_insert(index);
    }
    let unique: Vec<&Spend> = spends
        .iter()
        .enumerate()
        .filter(|(index, spend)| firsts.get(spend.key.as_str()) == Some(index))
        .map(|(_, spend)| spend)
        .collect();
    let mut inserted: HashSet<String> = HashSet::new();
    let mut transaction = database.begin_write().await?;
    for chunk in unique.chunks(ROWS_PER_CHUNK) {
        let values: Vec<String> = (0..chunk.len())
            .map(|row| format!("(${}, ${})", row * 2 + 1, row * 2 + 2))
            .collect();
        let statement = format!(
            "INSERT INTO spent_device_tokens (token_key, expires_at) VALUES {} \
             ON CONFLICT (token_key) DO NOTHING RETURNING token_key",
            values.join(", ")
        );
        let mut query = sqlx::query(&statement);
        for spend in chunk {
            query = query.bind(&spend.key).bind(spend.expires_at);
        }
        for row in query.fetch_all(&mut *transaction).await? {
            inserted.insert(row.try_get("token_key")?);
        }
    }
    transaction.commit().await?;
    Ok(spends
        .iter()
        .enumerate()
        .map(|(index, spend)| {
            firsts.get(spend.key.as_str()) == Some(&index) && inserted.contains(&spend.key)
        })
        .collect())
}
