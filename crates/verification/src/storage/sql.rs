//! The SQL verification store.

use anyhow::Context;
use async_trait::async_trait;
use mi_contracts::{Channel, Purpose, UnixMillis};
use mi_platform::db::Database;
use mi_platform::outbox::Outbox;
use mi_platform::retention::Expiry;
use mi_proto::EventPayload;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, Row};

use crate::domain::{
    CodeIssued, Destination, Status, Verification, VerificationApproved, VerificationLocked,
    VerificationStore,
};
use crate::publish;

const COLUMNS: &str = "verification_id, destination, destination_hidden, channel, purpose, code_hash, \
     status, attempts, send_count, locale, expires_at, created_at";

/// The rows verification deletes once they are of no use (see `mi_platform::retention`):
/// verifications whose code expired more than `record_retention` ago. The code is useless by
/// then (a pending one is still within its `code_ttl`, so it is never deleted); the row stays
/// that long for support and fraud analysis (who was sent codes, how often, how each ended).
pub fn expiries(record_retention: std::time::Duration) -> Vec<Expiry> {
    vec![Expiry::after(
        "verifications",
        "verification_id",
        "expires_at",
        record_retention,
    )]
}

/// Verifications in the service's own database, events in its outbox.
#[derive(Debug, Clone)]
pub struct SqlVerificationStore {
    database: Database,
    outbox: Outbox,
}

impl SqlVerificationStore {
    /// A store over a migrated database.
    pub fn new(database: Database, outbox: Outbox) -> Self {
        Self { database, outbox }
    }

    /// Runs one state change and, if it changed a row, enqueues `event` (a payload from
    /// `publish`) in the same transaction; false (and nothing written) if the change matched
    /// no row.
    async fn apply<'query, P: EventPayload>(
        &self,
        change: Query<'query, Any, AnyArguments<'query>>,
        verification_id: &str,
        event: &P,
    ) -> anyhow::Result<bool> {
        let mut transaction = self.database.begin_write().await?;
        if change.execute(&mut *transaction).await?.rows_affected() == 0 {
            transaction.rollback().await?;
            return Ok(false);
        }
        self.outbox
            .enqueue(&mut transaction, verification_id, event)
            .await?;
        transaction.commit().await?;
        self.outbox.notify_committed();
        Ok(true)
    }
}

#[async_trait]
impl VerificationStore for SqlVerificationStore {
    async fn insert(&self, verification: &Verification, event: &CodeIssued) -> anyhow::Result<()> {
        let insert = sqlx::query(
            "INSERT INTO verifications (verification_id, destination, channel, purpose, code_hash, status, \
             attempts, send_count, locale, expires_at, created_at, updated_at, destination_hidden) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12)",
        )
        .bind(&verification.verification_id)
        .bind(verification.destination.as_str())
        .bind(verification.channel.as_str())
        .bind(verification.purpose.as_str())
        .bind(&verification.code_hash)
        .bind(verification.status.as_str())
        .bind(i64::from(verification.attempts))
        .bind(i64::from(verification.send_count))
        .bind(&verification.locale)
        .bind(verification.expires_at.as_i64())
        .bind(verification.created_at.as_i64())
        .bind(i64::from(verification.destination_hidden));
        anyhow::ensure!(
            self.apply(
                insert,
                &verification.verification_id,
                &publish::code_issued(event)
            )
            .await?,
            "verification was not inserted"
        );
        Ok(())
    }

    async fn reissue(
        &self,
        verification: &Verification,
        max_sends: u32,
        now: UnixMillis,
        event: &CodeIssued,
    ) -> anyhow::Result<bool> {
        let reissue = sqlx::query(
            "UPDATE verifications SET code_hash = $1, channel = $2, locale = $3, expires_at = $4, \
             attempts = 0, send_count = send_count + 1, updated_at = $5 \
             WHERE verification_id = $6 AND status = $7 AND send_count < $8",
        )
        .bind(&verification.code_hash)
        .bind(verification.channel.as_str())
        .bind(&verification.locale)
        .bind(verification.expires_at.as_i64())
        .bind(now.as_i64())
        .bind(&verification.verification_id)
        .bind(Status::Pending.as_str())
        .bind(i64::from(max_sends));
        self.apply(
            reissue,
            &verification.verification_id,
            &publish::code_issued(event),
        )
        .await
    }

    async fn get(&self, verification_id: &str) -> anyhow::Result<Option<Verification>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM verifications WHERE verification_id = $1"
        ))
        .bind(verification_id)
        .fetch_optional(self.database.pool())
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    async fn count_wrong_attempt(
        &self,
        verification_id: &str,
        now: UnixMillis,
    ) -> anyhow::Result<Option<u32>> {
        let attempts: Option<i64> = sqlx::query_scalar(
            "UPDATE verifications SET attempts = attempts + 1, updated_at = $1 \
             WHERE verification_id = $2 AND status = $3 AND expires_at > $1 RETURNING attempts",
        )
        .bind(now.as_i64())
        .bind(verification_id)
        .bind(Status::Pending.as_str())
        .fetch_optional(self.database.pool())
        .await?;
        attempts.map(u32::try_from).transpose().map_err(Into::into)
    }

    async fn approve(
        &self,
        verification_id: &str,
        code_hash: &[u8],
        max_attempts: u32,
        now: UnixMillis,
        event: &VerificationApproved,
    ) -> anyhow::Result<bool> {
        let approve = sqlx::query(
            "UPDATE verifications SET status = $1, attempts = attempts + 1, updated_at = $2 \
             WHERE verification_id = $3 AND status = $4 AND expires_at > $2 AND code_hash = $5 AND attempts < $6",
        )
        .bind(Status::Approved.as_str())
        .bind(now.as_i64())
        .bind(verification_id)
        .bind(Status::Pending.as_str())
        .bind(code_hash)
        .bind(i64::from(max_attempts));
        self.apply(
            approve,
            verification_id,
            &publish::verification_approved(event),
        )
        .await
    }

    async fn lock(
        &self,
        verification_id: &str,
        now: UnixMillis,
        event: &VerificationLocked,
    ) -> anyhow::Result<bool> {
        let lock = sqlx::query(
            "UPDATE verifications SET status = $1, updated_at = $2 WHERE verification_id = $3 AND status = $4",
        )
        .bind(Status::Locked.as_str())
        .bind(now.as_i64())
        .bind(verification_id)
        .bind(Status::Pending.as_str());
        self.apply(lock, verification_id, &publish::verification_locked(event))
            .await
    }
}

fn from_row(row: &AnyRow) -> anyhow::Result<Verification> {
    let channel: String = row.try_get("channel")?;
    let purpose: String = row.try_get("purpose")?;
    let status: String = row.try_get("status")?;
    let attempts: i64 = row.try_get("attempts")?;
    let send_count: i64 = row.try_get("send_count")?;
    let destination_hidden: i64 = row.try_get("destination_hidden")?;
    Ok(Verification {
        verification_id: row.try_get("verification_id")?,
        destination: Destination::from_stored(row.try_get("destination")?),
        destination_hidden: destination_hidden != 0,
        channel: channel
            .parse::<Channel>()
            .with_context(|| format!("unknown stored channel {channel}"))?,
        purpose: purpose
            .parse::<Purpose>()
            .with_context(|| format!("unknown stored purpose {purpose}"))?,
        code_hash: row.try_get("code_hash")?,
        status: status
            .parse::<Status>()
            .with_context(|| format!("unknown stored status {status}"))?,
        attempts: u32::try_from(attempts)?,
        send_count: u32::try_from(send_count)?,
        locale: row.try_get("locale")?,
        expires_at: UnixMillis::from_i64(row.try_get("expires_at")?),
        created_at: UnixMillis::from_i64(row.try_get("created_at")?),
    })
}
