//! [`ConsentStore`] in SQL: consent steps of sign-ins, and the consent that ends them — the
//! account's current versions, a row of the consent record, and the session, in one
//! transaction.

use async_trait::async_trait;
use mi_contracts::MiId;
use sqlx::{AnyConnection, Row};

use super::rows::{insert_session, mi_id_at, time_at};
use super::sign_in::finish_challenge;
use super::{SqlIdentityStore, flag};
use crate::domain::events::IdentityEvent;
use crate::domain::{
    CompleteOutcome, Consent, ConsentChallenge, ConsentStore, NewSession, VerifiedContact,
};

#[async_trait]
impl ConsentStore for SqlIdentityStore {
    async fn create_consent_challenge(&self, challenge: &ConsentChallenge) -> anyhow::Result<()> {
        let mut connection = self.database.pool().acquire().await?;
        insert_consent_challenge(&mut connection, challenge).await
    }

    async fn consent_challenge(
        &self,
        challenge_id: &str,
    ) -> anyhow::Result<Option<ConsentChallenge>> {
        let Some(row) = sqlx::query(
            "SELECT mi_id, device, client_address, methods, new_device, authenticated_at, \
             expires_at, completed_at FROM consent_challenges WHERE challenge_id = $1",
        )
        .bind(challenge_id)
        .fetch_optional(self.database.pool())
        .await?
        else {
            return Ok(None);
        };
        let device: String = row.try_get("device")?;
        let methods: String = row.try_get("methods")?;
        Ok(Some(ConsentChallenge {
            challenge_id: challenge_id.to_owned(),
            mi_id: mi_id_at(&row, "mi_id")?,
            device: serde_json::from_str(&device)?,
            client_address: row.try_get("client_address")?,
            methods: serde_json::from_str(&methods)?,
            new_device: row.try_get::<i64, _>("new_device")? == 1,
            authenticated_at: time_at(&row, "authenticated_at")?,
            expires_at: time_at(&row, "expires_at")?,
            completed: row.try_get::<Option<i64>, _>("completed_at")?.is_some(),
        }))
    }

    async fn complete_challenge_for_consent(
        &self,
        challenge_id: &str,
        max_attempts: u32,
        token: Option<&VerifiedContact>,
        consent_challenge: &ConsentChallenge,
    ) -> anyhow::Result<CompleteOutcome> {
        let now = consent_challenge.authenticated_at;
        let mut transaction = self.begin().await?;
        let finished = finish_challenge(&mut transaction, challenge_id, now, max_attempts, token);
        if let Some(refused) = finished.await? {
            transaction.rollback().await?;
            return Ok(refused);
        }
        insert_consent_challenge(&mut transaction, consent_challenge).await?;
        transaction.commit().await?;
        Ok(CompleteOutcome::Completed)
    }

    async fn accept_consent(
        &self,
        challenge_id: &str,
        consent: &Consent,
        client_address: &str,
        session: &NewSession,
        events: &[IdentityEvent],
    ) -> anyhow::Result<CompleteOutcome> {
        let mi_id = session.session.mi_id;
        let now = consent.accepted_at;
        let mut transaction = self.begin().await?;
        let completed = sqlx::query(
            "UPDATE consent_challenges SET completed_at = $2 \
             WHERE challenge_id = $1 AND completed_at IS NULL AND expires_at > $2",
        )
        .bind(challenge_id)
        .bind(now.as_i64())
        .execute(&mut *transaction)
        .await?;
        if completed.rows_affected() == 0 {
            transaction.rollback().await?;
            return Ok(CompleteOutcome::NotPending);
        }
        sqlx::query(
            "UPDATE accounts SET terms_version = $2, privacy_policy_version = $3, consent_at = $4 \
             WHERE mi_id = $1",
        )
        .bind(mi_id.as_i64())
        .bind(&consent.terms_version)
        .bind(&consent.privacy_policy_version)
        .bind(now.as_i64())
        .execute(&mut *transaction)
        .await?;
        record_consent(&mut transaction, mi_id, consent, client_address).await?;
        // Refuses with AccountGone if the account was deleted meanwhile.
        insert_session(&mut transaction, session).await?;
        self.commit_with(transaction, mi_id, events).await?;
        Ok(CompleteOutcome::Completed)
    }
}

async fn insert_consent_challenge(
    connection: &mut AnyConnection,
    challenge: &ConsentChallenge,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO consent_challenges (challenge_id, mi_id, device, client_address, methods, \
         new_device, authenticated_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&challenge.challenge_id)
    .bind(challenge.mi_id.as_i64())
    .bind(serde_json::to_string(&challenge.device)?)
    .bind(&challenge.client_address)
    .bind(serde_json::to_string(&challenge.methods)?)
    .bind(flag(challenge.new_device))
    .bind(challenge.authenticated_at.as_i64())
    .bind(challenge.expires_at.as_i64())
    .execute(connection)
    .await?;
    Ok(())
}

/// Adds a row to the account's record of consent.
pub(super) async fn record_consent(
    connection: &mut AnyConnection,
    mi_id: MiId,
    consent: &Consent,
    client_address: &str,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO consents (mi_id, terms_version, privacy_policy_version, accepted_at, \
         client_address) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(mi_id.as_i64())
    .bind(&consent.terms_version)
    .bind(&consent.privacy_policy_version)
    .bind(consent.accepted_at.as_i64())
    .bind(client_address)
    .execute(connection)
    .await?;
    Ok(())
}
