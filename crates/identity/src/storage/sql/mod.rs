//! The SQL identity store: one file per store trait of the domain — `lookup.rs`
//! ([`AccountLookup`](crate::domain::AccountLookup)), `sign_up.rs`, `sign_in.rs`, `consent.rs`,
//! `sessions.rs`, `contacts.rs`, `passwords.rs`, `two_factor.rs`, `profile.rs` and
//! `snapshots.rs` (the backfill) — with the rows they share in `rows.rs`. Every change writes
//! its events to the outbox in the same transaction, through `publish.rs`.

mod consent;
mod contacts;
mod lookup;
mod passwords;
mod profile;
mod reactivation;
mod rows;
mod sessions;
mod sign_in;
mod sign_up;
mod snapshots;
mod two_factor;

use std::time::Duration;

use mi_contracts::MiId;
use mi_platform::db::Database;
use mi_platform::outbox::Outbox;
use mi_platform::retention::Expiry;
use sqlx::{Any, AnyConnection, Row, Transaction};

use crate::config::Settings;
use crate::domain::events::{self, IdentityEvent};
use crate::domain::{DeviceInfo, RevokeScope, VerifiedContact};
use crate::publish;

pub use self::reactivation::SqlReactivationLocks;

/// Accounts, sessions and second factors in the service's own database, events in its outbox.
#[derive(Debug, Clone)]
pub struct SqlIdentityStore {
    database: Database,
    outbox: Outbox,
}

impl SqlIdentityStore {
    /// A store over a migrated database.
    pub fn new(database: Database, outbox: Outbox) -> Self {
        Self { database, outbox }
    }

    async fn begin(&self) -> anyhow::Result<Transaction<'static, Any>> {
        Ok(self.database.begin_write().await?)
    }

    /// Enqueues the events and commits.
    async fn commit_with(
        &self,
        mut transaction: Transaction<'static, Any>,
        mi_id: MiId,
        events: &[IdentityEvent],
    ) -> anyhow::Result<()> {
        for event in events {
            publish::enqueue(&self.outbox, &mut transaction, mi_id, event).await?;
        }
        transaction.commit().await?;
        if !events.is_empty() {
            self.outbox.notify_committed();
        }
        Ok(())
    }

    /// Revokes sessions inside a transaction, each with its `SessionRevoked` event.
    async fn revoke_in(
        &self,
        connection: &mut AnyConnection,
        mi_id: MiId,
        scope: RevokeScope<'_>,
        reason: &str,
    ) -> anyhow::Result<Vec<String>> {
        let (condition, session_id) = match scope {
            RevokeScope::Device {
                device_id,
                started_until,
            } => {
                // The device is inside each session's JSON: find its sessions, then revoke
                // each (an account has a handful).
                let rows = sqlx::query(
                    "SELECT session_id, device FROM sessions WHERE mi_id = $1 AND created_at <= $2",
                )
                .bind(mi_id.as_i64())
                .bind(started_until.as_i64())
                .fetch_all(&mut *connection)
                .await?;
                let mut revoked = Vec::new();
                for row in &rows {
                    let device: DeviceInfo = serde_json::from_str(row.try_get("device")?)?;
                    if device.device_id == device_id {
                        let session_id: String = row.try_get("session_id")?;
                        let one = RevokeScope::One(&session_id);
                        revoked.extend(
                            Box::pin(self.revoke_in(connection, mi_id, one, reason)).await?,
                        );
                    }
                }
                return Ok(revoked);
            }
            RevokeScope::All => ("", None),
            RevokeScope::One(session_id) => (" AND session_id = $2", Some(session_id)),
            RevokeScope::AllExcept(session_id) => (" AND session_id <> $2", Some(session_id)),
        };
        let statement =
            format!("DELETE FROM sessions WHERE mi_id = $1{condition} RETURNING session_id");
        let mut query = sqlx::query(&statement).bind(mi_id.as_i64());
        if let Some(session_id) = session_id {
            query = query.bind(session_id);
        }
        let revoked: Vec<String> = query
            .fetch_all(&mut *connection)
            .await?
            .iter()
            .map(|row| row.try_get("session_id"))
            .collect::<Result<_, _>>()?;
        for session_id in &revoked {
            sqlx::query("DELETE FROM used_refresh_tokens WHERE session_id = $1")
                .bind(session_id)
                .execute(&mut *connection)
                .await?;
            let revoked = events::session_revoked(mi_id, session_id, reason);
            publish::enqueue(&self.outbox, connection, mi_id, &revoked).await?;
        }
        Ok(revoked)
    }
}

/// The rows identity deletes once they are of no use (see `mi_platform::retention`).
pub fn expiries(settings: &Settings) -> Vec<Expiry> {
    vec![
        // Kept past their expiry for as long as a validator may still accept them (leeway).
        Expiry::after(
            "spent_verification_tokens",
            "token_id",
            "expires_at",
            Duration::from_secs(3600),
        ),
        // A traded-in refresh token is remembered for reuse detection as long as an unused
        // token would have lived; older ones are refused as invalid instead.
        Expiry::after(
            "used_refresh_tokens",
            "token_hash",
            "used_at",
            settings.tokens.refresh_idle_ttl,
        ),
        Expiry::after(
            "sessions",
            "session_id",
            "refresh_expires_at",
            Duration::ZERO,
        ),
        Expiry::after(
            "sign_in_challenges",
            "challenge_id",
            "expires_at",
            Duration::ZERO,
        ),
        Expiry::after(
            "consent_challenges",
            "challenge_id",
            "expires_at",
            Duration::ZERO,
        ),
    ]
}

/// Records a verification token as spent; false if it was spent before.
async fn spend(connection: &mut AnyConnection, token: &VerifiedContact) -> anyhow::Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO spent_verification_tokens (token_id, expires_at) VALUES ($1, $2) \
         ON CONFLICT (token_id) DO NOTHING",
    )
    .bind(&token.token_id)
    .bind(token.expires_at.as_i64())
    .execute(connection)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// A boolean as stored (BIGINT 0/1 on both backends).
fn flag(value: bool) -> i64 {
    i64::from(value)
}

/// Takes the account's row lock (PostgreSQL) or the write lock (SQLite) before a change that
/// reads first, so concurrent changes to one account's contacts or sessions run one after the
/// other; false if the account is gone.
pub(super) async fn lock_account(
    connection: &mut AnyConnection,
    mi_id: MiId,
) -> anyhow::Result<bool> {
    let locked = sqlx::query("UPDATE accounts SET mi_id = mi_id WHERE mi_id = $1")
        .bind(mi_id.as_i64())
        .execute(connection)
        .await?;
    Ok(locked.rows_affected() == 1)
}
