//! [`FakeStore`]: the store traits in memory, with the same outcomes as the SQL store's
//! contract; here the reads, sign-up and sign-in (sessions in `sessions.rs`).

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use mi_contracts::{MiId, UnixMillis};

use crate::domain::events::{self, IdentityEvent};
use crate::domain::{
    Account, AccountLookup, Challenge, CompleteOutcome, Consent, ConsentChallenge,
    CreateAccountOutcome, Identifier, NewSession, RevokeScope, SignInCandidate, SignInStore,
    SignUpStore, StoredHash, TotpState, VerifiedContact,
};

/// An account with what the store keeps beside it.
#[derive(Debug, Clone)]
pub(super) struct StoredAccount {
    /// Contacts, profile, and whether codes are a second factor.
    pub(super) account: Account,
    pub(super) password: StoredHash,
    pub(super) totp: TotpState,
    pub(super) totp_last_step: u64,
    pub(super) recovery_codes: Vec<String>,
}

/// Everything stored.
#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) accounts: HashMap<MiId, StoredAccount>,
    pub(super) sessions: HashMap<String, NewSession>,
    /// Refresh-token hashes traded in, with their session and when.
    pub(super) used_refresh: HashMap<String, (String, UnixMillis)>,
    pub(super) challenges: HashMap<String, Challenge>,
    pub(super) consent_challenges: HashMap<String, ConsentChallenge>,
    /// The record of consent: every acceptance with its account and client address.
    pub(super) consents: Vec<(MiId, Consent, String)>,
    pub(super) spent_tokens: HashSet<String>,
    pub(super) known_devices: HashSet<(MiId, String)>,
    pub(super) events: Vec<IdentityEvent>,
}

impl State {
    /// The account as read: its two-factor state follows the stored secrets and codes.
    pub(super) fn account(&self, mi_id: MiId) -> Option<Account> {
        let stored = self.accounts.get(&mi_id)?;
        let mut account = stored.account.clone();
        account.two_factor.totp = stored.totp.secret.is_some();
        account.two_factor.recovery_codes_left =
            u32::try_from(stored.recovery_codes.len()).unwrap_or(u32::MAX);
        Some(account)
    }

    fn find(&self, identifier: &Identifier) -> Option<MiId> {
        match identifier {
            Identifier::MiId(mi_id) => self.accounts.contains_key(mi_id).then_some(*mi_id),
            Identifier::Contact(value) => self.owner_of(value.as_str()),
        }
    }

    pub(super) fn owner_of(&self, contact: &str) -> Option<MiId> {
        self.accounts.values().find_map(|stored| {
            let owns = stored
                .account
                .contacts
                .iter()
                .any(|c| c.value.as_str() == contact);
            owns.then_some(stored.account.mi_id)
        })
    }

    /// Completes a pending second-factor challenge and spends `token`; the refusal if either
    /// fails (then nothing changed).
    pub(super) fn finish_challenge(
        &mut self,
        challenge_id: &str,
        now: UnixMillis,
        max_attempts: u32,
        token: Option<&VerifiedContact>,
    ) -> Option<CompleteOutcome> {
        let pending = self.challenges.get(challenge_id).is_some_and(|challenge| {
            !challenge.completed && challenge.expires_at > now && challenge.attempts < max_attempts
        });
        if !pending {
            return Some(CompleteOutcome::NotPending);
        }
        if let Some(token) = token
            && !self.spend(token)
        {
            return Some(CompleteOutcome::TokenSpent);
        }
        if let Some(challenge) = self.challenges.get_mut(challenge_id) {
            challenge.completed = true;
        }
        None
    }

    /// Spends a token; false if it was spent before.
    pub(super) fn spend(&mut self, token: &VerifiedContact) -> bool {
        self.spent_tokens.insert(token.token_id.clone())
    }

    pub(super) fn start(&mut self, session: &NewSession) {
        let mi_id = session.session.mi_id;
        let device_id = session.session.device.device_id.clone();
        self.known_devices.insert((mi_id, device_id));
        self.sessions
            .insert(session.session.session_id.clone(), session.clone());
    }

    /// Revokes sessions, each with its `SessionRevoked`.
    pub(super) fn revoke(
        &mut self,
        mi_id: MiId,
        scope: RevokeScope<'_>,
        reason: &str,
    ) -> Vec<String> {
        let revoked: Vec<String> = self
            .sessions
            .values()
            .map(|new| &new.session)
            .filter(|session| session.mi_id == mi_id)
            .filter(|session| match scope {
                RevokeScope::All => true,
                RevokeScope::One(one) => session.session_id == one,
                RevokeScope::AllExcept(kept) => session.session_id != kept,
                RevokeScope::Device {
                    device_id,
                    started_until,
                } => session.device.device_id == device_id && session.created_at <= started_until,
            })
            .map(|session| session.session_id.clone())
            .collect();
        for session_id in &revoked {
            self.sessions.remove(session_id);
            self.events
                .push(events::session_revoked(mi_id, session_id, reason));
        }
        revoked
    }
}

/// Every store trait in memory.
#[derive(Debug, Default)]
pub(crate) struct FakeStore {
    state: Mutex<State>,
}

impl FakeStore {
    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("the fake store's lock")
    }

    /// Every event recorded so far, oldest first.
    pub(crate) fn events(&self) -> Vec<IdentityEvent> {
        self.state().events.clone()
    }

    pub(super) fn clear_events(&self) {
        self.state().events.clear();
    }

    /// The stored hash of the account's password.
    pub(crate) fn password_of(&self, mi_id: MiId) -> Option<StoredHash> {
        Some(self.state().accounts.get(&mi_id)?.password.clone())
    }

    /// The ids of the account's sessions.
    pub(crate) fn session_ids(&self, mi_id: MiId) -> HashSet<String> {
        let state = self.state();
        let mine = state
            .sessions
            .values()
            .filter(|new| new.session.mi_id == mi_id);
        mine.map(|new| new.session.session_id.clone()).collect()
    }
}

#[async_trait]
impl AccountLookup for FakeStore {
    async fn account(&self, mi_id: MiId) -> anyhow::Result<Option<Account>> {
        Ok(self.state().account(mi_id))
    }

    async fn find_account(&self, identifier: &Identifier) -> anyhow::Result<Option<MiId>> {
        Ok(self.state().find(identifier))
    }

    async fn account_named(&self, identifier: &Identifier) -> anyhow::Result<Option<Account>> {
        let state = self.state();
        Ok(state
            .find(identifier)
            .and_then(|mi_id| state.account(mi_id)))
    }
}

#[async_trait]
impl SignUpStore for FakeStore {
    async fn create_account(
        &self,
        account: &Account,
        password_hash: &StoredHash,
        token: &VerifiedContact,
        session: &NewSession,
        events: &[IdentityEvent],
    ) -> anyhow::Result<CreateAccountOutcome> {
        let mut state = self.state();
        if state.spent_tokens.contains(&token.token_id) {
            return Ok(CreateAccountOutcome::TokenSpent);
        }
        if state.accounts.contains_key(&account.mi_id) {
            return Ok(CreateAccountOutcome::MiIdTaken);
        }
        let taken = account.contacts.iter();
        if taken
            .into_iter()
            .any(|c| state.owner_of(c.value.as_str()).is_some())
        {
            return Ok(CreateAccountOutcome::ContactTaken);
        }
        state.spend(token);
        state.accounts.insert(
            account.mi_id,
            StoredAccount {
                account: account.clone(),
                password: password_hash.clone(),
                totp: TotpState::default(),
                totp_last_step: 0,
                recovery_codes: Vec::new(),
            },
        );
        let client_address = session.session.client_address.clone();
        state
            .consents
            .push((account.mi_id, account.consent.clone(), client_address));
        state.start(session);
        state.events.extend_from_slice(events);
        Ok(CreateAccountOutcome::Created)
    }
}

#[async_trait]
impl SignInStore for FakeStore {
    async fn sign_in_candidate(
        &self,
        identifier: &Identifier,
        device_id: &str,
    ) -> anyhow::Result<Option<SignInCandidate>> {
        let state = self.state();
        let Some(mi_id) = state.find(identifier) else {
            return Ok(None);
        };
        Ok(state.account(mi_id).map(|account| SignInCandidate {
            password: state.accounts[&mi_id].password.clone(),
            known_device: state.known_devices.contains(&(mi_id, device_id.to_owned())),
            account,
        }))
    }

    async fn upgrade_password_hash(
        &self,
        mi_id: MiId,
        old: &StoredHash,
        new: &StoredHash,
    ) -> anyhow::Result<()> {
        if let Some(stored) = self.state().accounts.get_mut(&mi_id)
            && stored.password == *old
        {
            stored.password = new.clone();
        }
        Ok(())
    }

    async fn create_challenge(&self, challenge: &Challenge) -> anyhow::Result<()> {
        let id = challenge.challenge_id.clone();
        self.state().challenges.insert(id, challenge.clone());
        Ok(())
    }

    async fn challenge(&self, challenge_id: &str) -> anyhow::Result<Option<Challenge>> {
        Ok(self.state().challenges.get(challenge_id).cloned())
    }

    async fn count_challenge_attempt(
        &self,
        challenge_id: &str,
        now: UnixMillis,
    ) -> anyhow::Result<Option<u32>> {
        let mut state = self.state();
        let Some(challenge) = state.challenges.get_mut(challenge_id) else {
            return Ok(None);
        };
        if challenge.completed || challenge.expires_at <= now {
            return Ok(None);
        }
        challenge.attempts += 1;
        Ok(Some(challenge.attempts))
    }

    async fn complete_challenge(
        &self,
        challenge_id: &str,
        max_attempts: u32,
        token: Option<&VerifiedContact>,
        session: &NewSession,
        events: &[IdentityEvent],
    ) -> anyhow::Result<CompleteOutcome> {
        let mut state = self.state();
        let now = session.session.created_at;
        if let Some(refused) = state.finish_challenge(challenge_id, now, max_attempts, token) {
            return Ok(refused);
        }
        state.start(session);
        state.events.extend_from_slice(events);
        Ok(CompleteOutcome::Completed)
    }

    async fn spend_token(&self, token: &VerifiedContact) -> anyhow::Result<bool> {
        Ok(self.state().spend(token))
    }
}
