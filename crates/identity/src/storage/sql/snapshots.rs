//! [`SnapshotStore`] in SQL: the backfill's claim and progress in `snapshot_backfills`, one
//! batch of accounts per transaction, read in Mi ID order.

use async_trait::async_trait;
use sqlx::Row;

use super::SqlIdentityStore;
use super::rows::{account_from_rows, account_query};
use crate::domain::events;
use crate::domain::{BatchOutcome, SnapshotBatch, SnapshotStore};
use crate::publish;

#[async_trait]
impl SnapshotStore for SqlIdentityStore {
    async fn publish_snapshot_batch(
        &self,
        batch: &SnapshotBatch<'_>,
    ) -> anyhow::Result<BatchOutcome> {
        let mut transaction = self.begin().await?;
        let version = i64::from(batch.version);
        sqlx::query(
            "INSERT INTO snapshot_backfills (version, last_mi_id, claimed_by, claim_expires_at) \
             VALUES ($1, 0, '', 0) ON CONFLICT (version) DO NOTHING",
        )
        .bind(version)
        .execute(&mut *transaction)
        .await?;
        // The claim's row stays locked until this batch commits (PostgreSQL's row lock,
        // SQLite's write lock): another replica's claim waits for it, then finds it held and
        // leaves, so two replicas never publish the same batch.
        let claimed: Option<i64> = sqlx::query_scalar(
            "UPDATE snapshot_backfills SET claimed_by = $2, claim_expires_at = $3 \
             WHERE version = $1 AND finished_at IS NULL \
             AND (claimed_by = $2 OR claim_expires_at <= $4) RETURNING last_mi_id",
        )
        .bind(version)
        .bind(batch.worker)
        .bind(batch.now.saturating_add(batch.lease).as_i64())
        .bind(batch.now.as_i64())
        .fetch_optional(&mut *transaction)
        .await?;
        let Some(last_done) = claimed else {
            let finished_at: Option<i64> =
                sqlx::query_scalar("SELECT finished_at FROM snapshot_backfills WHERE version = $1")
                    .bind(version)
                    .fetch_one(&mut *transaction)
                    .await?;
            transaction.rollback().await?;
            return Ok(match finished_at {
                Some(_) => BatchOutcome::Finished,
                None => BatchOutcome::ClaimedElsewhere,
            });
        };
        let next: Vec<i64> = sqlx::query_scalar(
            "SELECT mi_id FROM accounts WHERE mi_id > $1 ORDER BY mi_id LIMIT $2",
        )
        .bind(last_done)
        .bind(i64::from(batch.size))
        .fetch_all(&mut *transaction)
        .await?;
        let last = next.last().copied().unwrap_or(last_done);
        // Locks the batch's accounts (a no-op update, as `lock_account` does for one) before
        // reading them: a second factor turned on or off meanwhile either committed before
        // (and the snapshot says so) or waits for this commit (and its event follows the
        // snapshot in the outbox), so the snapshot never contradicts a later event.
        sqlx::query("UPDATE accounts SET mi_id = mi_id WHERE mi_id > $1 AND mi_id <= $2")
            .bind(last_done)
            .bind(last)
            .execute(&mut *transaction)
            .await?;
        let rows = sqlx::query(&account_query(
            "accounts.mi_id > $1 AND accounts.mi_id <= $2",
            "",
        ))
        .bind(last_done)
        .bind(last)
        .fetch_all(&mut *transaction)
        .await?;
        let mut accounts = 0_u32;
        for account_rows in rows.chunk_by(|a, b| {
            a.try_get::<i64, _>("account_mi_id").ok() == b.try_get::<i64, _>("account_mi_id").ok()
        }) {
            let Some(account) = account_from_rows(account_rows)? else {
                continue;
            };
            let snapshot = events::account_snapshot(&account);
            publish::enqueue(&self.outbox, &mut transaction, account.mi_id, &snapshot).await?;
            accounts += 1;
        }
        let finished = next.len() < usize::try_from(batch.size)?;
        sqlx::query(
            "UPDATE snapshot_backfills SET last_mi_id = $2, finished_at = $3 WHERE version = $1",
        )
        .bind(version)
        .bind(last)
        .bind(finished.then(|| batch.now.as_i64()))
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        if accounts > 0 {
            self.outbox.notify_committed();
        }
        Ok(BatchOutcome::Published { accounts, finished })
    }
}
