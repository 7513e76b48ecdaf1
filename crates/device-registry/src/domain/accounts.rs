//! The registry's projection of accounts, from identity's events: who alerts go to (so every
//! device event carries its account's audience) and whether the account has a second factor
//! (which turning Find Device off, and erasing, then require).

use mi_contracts::MiId;

use super::DeviceRegistry;
use super::events::Audience;

/// What an identity event says about its account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AccountNews {
    /// Who its alerts go to now, when the event says.
    pub audience: Option<Audience>,
    /// Whether it has a second factor now, when the event says.
    pub has_second_factor: Option<bool>,
}

impl DeviceRegistry {
    /// Applies what event `event_id` says about account `mi_id`; false if it was applied before.
    /// Identity keys its topic by account, so an account's events arrive in order and the last
    /// one applied is the newest.
    pub(crate) async fn apply_account_news(
        &self,
        event_id: &str,
        mi_id: MiId,
        news: &AccountNews,
    ) -> anyhow::Result<bool> {
        self.store.apply_account_news(event_id, mi_id, news).await
    }

    /// Whether account `mi_id` has a second factor, as identity's events last said: an
    /// erase, and turning Find Device off, then need it proven.
    pub(crate) async fn has_second_factor(&self, mi_id: MiId) -> anyhow::Result<bool> {
        self.store.has_second_factor(mi_id).await
    }
}
