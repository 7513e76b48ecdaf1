//! [`FakeStore`]'s consent steps and record of consent, with the SQL store's outcomes.

use async_trait::async_trait;
use mi_contracts::MiId;

use super::FakeStore;
use crate::domain::events::IdentityEvent;
use crate::domain::{
    CompleteOutcome, Consent, ConsentChallenge, ConsentStore, NewSession, VerifiedContact,
};

impl FakeStore {
    /// The account's record of consent, oldest first: the versions, when, and from where.
    pub(crate) fn consents_of(&self, mi_id: MiId) -> Vec<(Consent, String)> {
        let state = self.state();
        let mine = state.consents.iter().filter(|(owner, ..)| *owner == mi_id);
        mine.map(|(_, consent, client)| (consent.clone(), client.clone()))
            .collect()
    }
}

impl FakeStore {
    /// Makes the account's consent an older one, as if the documents changed since.
    pub(crate) fn set_consent(
        &self,
        mi_id: MiId,
        terms_version: &str,
        privacy_policy_version: &str,
    ) {
        if let Some(stored) = self.state().accounts.get_mut(&mi_id) {
            stored.account.consent.terms_version = terms_version.into();
            stored.account.consent.privacy_policy_version = privacy_policy_version.into();
        }
    }
}

#[async_trait]
impl ConsentStore for FakeStore {
    async fn create_consent_challenge(&self, challenge: &ConsentChallenge) -> anyhow::Result<()> {
        let id = challenge.challenge_id.clone();
        self.state()
            .consent_challenges
            .insert(id, challenge.clone());
        Ok(())
    }

    async fn consent_challenge(
        &self,
        challenge_id: &str,
    ) -> anyhow::Result<Option<ConsentChallenge>> {
        Ok(self.state().consent_challenges.get(challenge_id).cloned())
    }

    async fn complete_challenge_for_consent(
        &self,
        challenge_id: &str,
        max_attempts: u32,
        token: Option<&VerifiedContact>,
        consent_challenge: &ConsentChallenge,
    ) -> anyhow::Result<CompleteOutcome> {
        let mut state = self.state();
        let now = consent_challenge.authenticated_at;
        if let Some(refused) = state.finish_challenge(challenge_id, now, max_attempts, token) {
            return Ok(refused);
        }
        let id = consent_challenge.challenge_id.clone();
        state
            .consent_challenges
            .insert(id, consent_challenge.clone());
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
        let mut state = self.state();
        let now = consent.accepted_at;
        let Some(challenge) = state
            .consent_challenges
            .get_mut(challenge_id)
            .filter(|challenge| !challenge.completed && challenge.expires_at > now)
        else {
            return Ok(CompleteOutcome::NotPending);
        };
        challenge.completed = true;
        let mi_id = session.session.mi_id;
        if let Some(stored) = state.accounts.get_mut(&mi_id) {
            stored.account.consent = consent.clone();
        }
        state
            .consents
            .push((mi_id, consent.clone(), client_address.to_owned()));
        state.start(session);
        state.events.extend_from_slice(events);
        Ok(CompleteOutcome::Completed)
    }
}
