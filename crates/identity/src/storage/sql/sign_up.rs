//! [`SignUpStore`] in SQL: the account, its first contact, consent and session, and the spent
//! token, in one transaction.

use async_trait::async_trait;

use super::consent::record_consent;
use super::rows::{insert_contact, insert_session};
use super::{SqlIdentityStore, spend};
use crate::domain::events::IdentityEvent;
use crate::domain::{
    Account, CreateAccountOutcome, NewSession, SignUpStore, StoredHash, VerifiedContact,
};

#[async_trait]
impl SignUpStore for SqlIdentityStore {
    async fn create_account(
        &self,
        account: &Account,
        password_hash: &StoredHash,
        token: &VerifiedContact,
        session: &NewSession,
        events: &[IdentityEvent],
    ) -> anyhow::Result<CreateAccountOutcome> {
        let mut transaction = self.begin().await?;
        if !spend(&mut transaction, token).await? {
            transaction.rollback().await?;
            return Ok(CreateAccountOutcome::TokenSpent);
        }
        let inserted = sqlx::query(
            "INSERT INTO accounts (mi_id, display_name, region, locale, created_at, password_hash, \
             terms_version, privacy_policy_version, consent_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (mi_id) DO NOTHING",
        )
        .bind(account.mi_id.as_i64())
        .bind(&account.display_name)
        .bind(&account.region)
        .bind(&account.locale)
        .bind(account.created_at.as_i64())
        .bind(&password_hash.0)
        .bind(&account.consent.terms_version)
        .bind(&account.consent.privacy_policy_version)
        .bind(account.consent.accepted_at.as_i64())
        .execute(&mut *transaction)
        .await?;
        if inserted.rows_affected() == 0 {
            transaction.rollback().await?;
            return Ok(CreateAccountOutcome::MiIdTaken);
        }
        for contact in &account.contacts {
            if !insert_contact(&mut transaction, account.mi_id, contact).await? {
                transaction.rollback().await?;
                return Ok(CreateAccountOutcome::ContactTaken);
            }
        }
        let client_address = &session.session.client_address;
        record_consent(
            &mut transaction,
            account.mi_id,
            &account.consent,
            client_address,
        )
        .await?;
        insert_session(&mut transaction, session).await?;
        self.commit_with(transaction, account.mi_id, events).await?;
        Ok(CreateAccountOutcome::Created)
    }
}
