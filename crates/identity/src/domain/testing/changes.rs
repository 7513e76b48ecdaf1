//! [`FakeStore`]'s contacts, passwords, two-factor and profile.

use async_trait::async_trait;
use mi_contracts::MiId;

use super::FakeStore;
use crate::domain::events::IdentityEvent;
use crate::domain::{
    Account, AddContactOutcome, Contact, ContactStore, ContactValue, PasswordStore, ProfileStore,
    RevokeScope, SetPasswordOutcome, StoredHash, TotpState, TwoFactorStore, VerifiedContact,
};

#[async_trait]
impl ContactStore for FakeStore {
    async fn add_contact(
        &self,
        mi_id: MiId,
        contact: &Contact,
        token: &VerifiedContact,
        max_contacts: usize,
        events: &[IdentityEvent],
    ) -> anyhow::Result<AddContactOutcome> {
        let mut state = self.state();
        let Some(count) = state.accounts.get(&mi_id).map(|s| s.account.contacts.len()) else {
            return Ok(AddContactOutcome::NoAccount);
        };
        if count >= max_contacts {
            return Ok(AddContactOutcome::TooMany);
        }
        if state.spent_tokens.contains(&token.token_id) {
            return Ok(AddContactOutcome::TokenSpent);
        }
        if state.owner_of(contact.value.as_str()).is_some() {
            return Ok(AddContactOutcome::InUse);
        }
        state.spend(token);
        if let Some(stored) = state.accounts.get_mut(&mi_id) {
            stored.account.contacts.push(contact.clone());
        }
        state.events.extend_from_slice(events);
        Ok(AddContactOutcome::Added)
    }

    async fn remove_contact(
        &self,
        mi_id: MiId,
        value: &ContactValue,
        events: &[IdentityEvent],
    ) -> anyhow::Result<bool> {
        let mut state = self.state();
        let Some(stored) = state.accounts.get_mut(&mi_id) else {
            return Ok(false);
        };
        let before = stored.account.contacts.len();
        let contacts = &mut stored.account.contacts;
        contacts.retain(|contact| contact.primary || contact.value != *value);
        if contacts.len() == before {
            return Ok(false);
        }
        state.events.extend_from_slice(events);
        Ok(true)
    }

    async fn set_primary_contact(&self, mi_id: MiId, value: &ContactValue) -> anyhow::Result<bool> {
        let mut state = self.state();
        let Some(stored) = state.accounts.get_mut(&mi_id) else {
            return Ok(false);
        };
        let contacts = &mut stored.account.contacts;
        if !contacts.iter().any(|contact| contact.value == *value) {
            return Ok(false);
        }
        for contact in contacts.iter_mut() {
            contact.primary = contact.value == *value;
        }
        contacts.sort_by_key(|contact| !contact.primary);
        Ok(true)
    }
}

#[async_trait]
impl PasswordStore for FakeStore {
    async fn password_hash(&self, mi_id: MiId) -> anyhow::Result<Option<StoredHash>> {
        Ok(self.password_of(mi_id))
    }

    async fn set_password(
        &self,
        mi_id: MiId,
        hash: &StoredHash,
        token: Option<&VerifiedContact>,
        keep: Option<&str>,
        reason: &str,
        events: &[IdentityEvent],
    ) -> anyhow::Result<SetPasswordOutcome> {
        let mut state = self.state();
        if let Some(token) = token
            && state.spent_tokens.contains(&token.token_id)
        {
            return Ok(SetPasswordOutcome::TokenSpent);
        }
        let Some(stored) = state.accounts.get_mut(&mi_id) else {
            return Ok(SetPasswordOutcome::NoAccount);
        };
        stored.password = hash.clone();
        if let Some(token) = token {
            state.spend(token);
        }
        let scope = keep.map_or(RevokeScope::All, RevokeScope::AllExcept);
        let revoked = state.revoke(mi_id, scope, reason);
        state.events.extend_from_slice(events);
        Ok(SetPasswordOutcome::Changed {
            sessions_revoked: u32::try_from(revoked.len()).unwrap_or(u32::MAX),
        })
    }

    async fn record_events(&self, _mi_id: MiId, events: &[IdentityEvent]) -> anyhow::Result<()> {
        self.state().events.extend_from_slice(events);
        Ok(())
    }
}

#[async_trait]
impl TwoFactorStore for FakeStore {
    async fn totp_state(&self, mi_id: MiId) -> anyhow::Result<TotpState> {
        let state = self.state();
        Ok(state
            .accounts
            .get(&mi_id)
            .map(|s| s.totp.clone())
            .unwrap_or_default())
    }

    async fn set_pending_totp(&self, mi_id: MiId, sealed: &[u8]) -> anyhow::Result<()> {
        if let Some(stored) = self.state().accounts.get_mut(&mi_id) {
            stored.totp.pending = Some(sealed.to_vec());
        }
        Ok(())
    }

    async fn confirm_totp(
        &self,
        mi_id: MiId,
        pending: &[u8],
        step: u64,
        recovery_hashes: &[String],
        events: &[IdentityEvent],
    ) -> anyhow::Result<bool> {
        let mut state = self.state();
        let Some(stored) = state.accounts.get_mut(&mi_id) else {
            return Ok(false);
        };
        if stored.totp.pending.as_deref() != Some(pending) {
            return Ok(false);
        }
        stored.totp.secret = stored.totp.pending.take();
        stored.totp_last_step = step;
        stored.recovery_codes = recovery_hashes.to_vec();
        state.events.extend_from_slice(events);
        Ok(true)
    }

    async fn accept_totp_step(&self, mi_id: MiId, step: u64) -> anyhow::Result<bool> {
        let mut state = self.state();
        let Some(stored) = state.accounts.get_mut(&mi_id) else {
            return Ok(false);
        };
        let later = step > stored.totp_last_step;
        if later {
            stored.totp_last_step = step;
        }
        Ok(later)
    }

    async fn disable_totp(&self, mi_id: MiId, events: &[IdentityEvent]) -> anyhow::Result<bool> {
        let mut state = self.state();
        let Some(stored) = state.accounts.get_mut(&mi_id) else {
            return Ok(false);
        };
        if stored.totp.secret.is_none() {
            return Ok(false);
        }
        stored.totp = TotpState::default();
        if !stored.account.two_factor.codes {
            stored.recovery_codes.clear();
        }
        state.events.extend_from_slice(events);
        Ok(true)
    }

    async fn set_code_second_factor(
        &self,
        mi_id: MiId,
        enabled: bool,
        events: &[IdentityEvent],
    ) -> anyhow::Result<bool> {
        let mut state = self.state();
        let Some(stored) = state.accounts.get_mut(&mi_id) else {
            return Ok(false);
        };
        if stored.account.two_factor.codes == enabled {
            return Ok(false);
        }
        stored.account.two_factor.codes = enabled;
        state.events.extend_from_slice(events);
        Ok(true)
    }

    async fn replace_recovery_codes(&self, mi_id: MiId, hashes: &[String]) -> anyhow::Result<()> {
        if let Some(stored) = self.state().accounts.get_mut(&mi_id) {
            stored.recovery_codes = hashes.to_vec();
        }
        Ok(())
    }

    async fn use_recovery_code(&self, mi_id: MiId, hash: &str) -> anyhow::Result<bool> {
        let mut state = self.state();
        let Some(stored) = state.accounts.get_mut(&mi_id) else {
            return Ok(false);
        };
        let before = stored.recovery_codes.len();
        stored.recovery_codes.retain(|code| code != hash);
        Ok(stored.recovery_codes.len() < before)
    }

    async fn record_alerts(&self, _mi_id: MiId, events: &[IdentityEvent]) -> anyhow::Result<()> {
        self.state().events.extend_from_slice(events);
        Ok(())
    }
}

#[async_trait]
impl ProfileStore for FakeStore {
    async fn update_profile(
        &self,
        account: &Account,
        events: &[IdentityEvent],
    ) -> anyhow::Result<bool> {
        let mut state = self.state();
        let Some(stored) = state.accounts.get_mut(&account.mi_id) else {
            return Ok(false);
        };
        stored.account.display_name = account.display_name.clone();
        stored.account.region = account.region.clone();
        stored.account.locale = account.locale.clone();
        state.events.extend_from_slice(events);
        Ok(true)
    }

    async fn delete_account(&self, mi_id: MiId, events: &[IdentityEvent]) -> anyhow::Result<bool> {
        let mut state = self.state();
        state.revoke(mi_id, RevokeScope::All, "account_deleted");
        if state.accounts.remove(&mi_id).is_none() {
            return Ok(false);
        }
        state.events.extend_from_slice(events);
        Ok(true)
    }
}
