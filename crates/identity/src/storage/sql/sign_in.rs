//! [`SignInStore`] in SQL: sign-in candidates, challenges and spent tokens.

use async_trait::async_trait;
use mi_contracts::{MiId, UnixMillis};
use sqlx::{AnyConnection, Row};

use super::rows::{account_from_rows, account_query, insert_session, mi_id_at, time_at};
use super::{SqlIdentityStore, flag, spend};
use crate::domain::events::IdentityEvent;
use crate::domain::{
    Challenge, ChallengeReason, CompleteOutcome, Identifier, NewSession, SecondFactorMethod,
    SignInCandidate, SignInStore, StoredHash, VerifiedContact,
};

#[async_trait]
impl SignInStore for SqlIdentityStore {
    async fn sign_in_candidate(
        &self,
        identifier: &Identifier,
        device_id: &str,
    ) -> anyhow::Result<Option<SignInCandidate>> {
        let extra = ", password_hash, \
             (SELECT COUNT(*) FROM known_devices WHERE known_devices.mi_id = accounts.mi_id \
              AND known_devices.device_id = $2) AS known_device";
        let rows = match identifier {
            Identifier::MiId(mi_id) => {
                sqlx::query(&account_query("accounts.mi_id = $1", extra))
                    .bind(mi_id.as_i64())
                    .bind(device_id)
                    .fetch_all(self.database.pool())
                    .await?
            }
            Identifier::Contact(contact) => {
                let condition =
                    "accounts.mi_id = (SELECT mi_id FROM contacts WHERE contact_value = $1)";
                sqlx::query(&account_query(condition, extra))
                    .bind(contact.as_str())
                    .bind(device_id)
                    .fetch_all(self.database.pool())
                    .await?
            }
        };
        let (Some(account), Some(row)) = (account_from_rows(&rows)?, rows.first()) else {
            return Ok(None);
        };
        Ok(Some(SignInCandidate {
            account,
            password: StoredHash(row.try_get("password_hash")?),
            known_device: row.try_get::<i64, _>("known_device")? > 0,
        }))
    }

    async fn upgrade_password_hash(
        &self,
        mi_id: MiId,
        old: &StoredHash,
        new: &StoredHash,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE accounts SET password_hash = $3 WHERE mi_id = $1 AND password_hash = $2",
        )
        .bind(mi_id.as_i64())
        .bind(&old.0)
        .bind(&new.0)
        .execute(self.database.pool())
        .await?;
        Ok(())
    }

    async fn create_challenge(&self, challenge: &Challenge) -> anyhow::Result<()> {
        let methods: Vec<&str> = challenge
            .methods
            .iter()
            .map(|method| method.as_str())
            .collect();
        sqlx::query(
            "INSERT INTO sign_in_challenges (challenge_id, mi_id, device, client_address, reason, \
             methods, new_device, attempts, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&challenge.challenge_id)
        .bind(challenge.mi_id.as_i64())
        .bind(serde_json::to_string(&challenge.device)?)
        .bind(&challenge.client_address)
        .bind(challenge.reason.as_str())
        .bind(serde_json::to_string(&methods)?)
        .bind(flag(challenge.new_device))
        .bind(i64::from(challenge.attempts))
        .bind(challenge.expires_at.as_i64())
        .execute(self.database.pool())
        .await?;
        Ok(())
    }

    async fn challenge(&self, challenge_id: &str) -> anyhow::Result<Option<Challenge>> {
        let Some(row) = sqlx::query(
            "SELECT mi_id, device, client_address, reason, methods, new_device, attempts, \
             expires_at, completed_at FROM sign_in_challenges WHERE challenge_id = $1",
        )
        .bind(challenge_id)
        .fetch_optional(self.database.pool())
        .await?
        else {
            return Ok(None);
        };
        let device: String = row.try_get("device")?;
        let methods: Vec<String> = serde_json::from_str(&row.try_get::<String, _>("methods")?)?;
        let reason: String = row.try_get("reason")?;
        Ok(Some(Challenge {
            challenge_id: challenge_id.to_owned(),
            mi_id: mi_id_at(&row, "mi_id")?,
            device: serde_json::from_str(&device)?,
            client_address: row.try_get("client_address")?,
            reason: reason
                .parse::<ChallengeReason>()
                .map_err(|_| anyhow::anyhow!("unknown challenge reason {reason}"))?,
            methods: methods
                .iter()
                .filter_map(|method| method.parse::<SecondFactorMethod>().ok())
                .collect(),
            new_device: row.try_get::<i64, _>("new_device")? == 1,
            attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
            expires_at: time_at(&row, "expires_at")?,
            completed: row.try_get::<Option<i64>, _>("completed_at")?.is_some(),
        }))
    }

    async fn count_challenge_attempt(
        &self,
        challenge_id: &str,
        now: UnixMillis,
    ) -> anyhow::Result<Option<u32>> {
        let row = sqlx::query(
            "UPDATE sign_in_challenges SET attempts = attempts + 1 \
             WHERE challenge_id = $1 AND completed_at IS NULL AND expires_at > $2 RETURNING attempts",
        )
        .bind(challenge_id)
        .bind(now.as_i64())
        .fetch_optional(self.database.pool())
        .await?;
        row.map(|row| Ok(u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX)))
            .transpose()
    }

    async fn complete_challenge(
        &self,
        challenge_id: &str,
        max_attempts: u32,
        token: Option<&VerifiedContact>,
        session: &NewSession,
        events: &[IdentityEvent],
    ) -> anyhow::Result<CompleteOutcome> {
        let now = session.session.created_at;
        let mut transaction = self.begin().await?;
        let finished = finish_challenge(&mut transaction, challenge_id, now, max_attempts, token);
        if let Some(refused) = finished.await? {
            transaction.rollback().await?;
            return Ok(refused);
        }
        insert_session(&mut transaction, session).await?;
        self.commit_with(transaction, session.session.mi_id, events)
            .await?;
        Ok(CompleteOutcome::Completed)
    }

    async fn spend_token(&self, token: &VerifiedContact) -> anyhow::Result<bool> {
        let mut connection = self.database.pool().acquire().await?;
        spend(&mut connection, token).await
    }
}

/// Marks a pending second-factor challenge with fewer than `max_attempts` attempts completed
/// and spends `token` if given, inside the caller's transaction; the refusal if either fails
/// (the caller rolls back).
pub(super) async fn finish_challenge(
    connection: &mut AnyConnection,
    challenge_id: &str,
    now: UnixMillis,
    max_attempts: u32,
    token: Option<&VerifiedContact>,
) -> anyhow::Result<Option<CompleteOutcome>> {
    let completed = sqlx::query(
        "UPDATE sign_in_challenges SET completed_at = $2 \
         WHERE challenge_id = $1 AND completed_at IS NULL AND expires_at > $2 AND attempts < $3",
    )
    .bind(challenge_id)
    .bind(now.as_i64())
    .bind(i64::from(max_attempts))
    .execute(&mut *connection)
    .await?;
    if completed.rows_affected() == 0 {
        return Ok(Some(CompleteOutcome::NotPending));
    }
    if let Some(token) = token
        && !spend(connection, token).await?
    {
        return Ok(Some(CompleteOutcome::TokenSpent));
    }
    Ok(None)
}
