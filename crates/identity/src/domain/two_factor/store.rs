//! What the two-factor family needs stored: TOTP secrets, the code second factor and
//! recovery codes.

use async_trait::async_trait;
use mi_contracts::MiId;

use crate::domain::events::IdentityEvent;

/// The state of an account's authenticator app.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TotpState {
    /// The confirmed secret, sealed.
    pub secret: Option<Vec<u8>>,
    /// A secret waiting for its first code, sealed.
    pub pending: Option<Vec<u8>>,
}

/// TOTP secrets, code second factor and recovery codes.
#[async_trait]
pub trait TwoFactorStore: Send + Sync + std::fmt::Debug {
    /// The authenticator app state.
    async fn totp_state(&self, mi_id: MiId) -> anyhow::Result<TotpState>;

    /// Stores a secret waiting for confirmation (replacing an earlier one).
    async fn set_pending_totp(&self, mi_id: MiId, sealed: &[u8]) -> anyhow::Result<()>;

    /// Turns the pending secret `pending` on, accepting `step`, and replaces the recovery
    /// codes, with the events; false if the pending secret changed meanwhile.
    async fn confirm_totp(
        &self,
        mi_id: MiId,
        pending: &[u8],
        step: u64,
        recovery_hashes: &[String],
        events: &[IdentityEvent],
    ) -> anyhow::Result<bool>;

    /// Accepts a TOTP time step only if it is later than the last one accepted.
    async fn accept_totp_step(&self, mi_id: MiId, step: u64) -> anyhow::Result<bool>;

    /// Turns the authenticator app off and drops the recovery codes if no second factor is
    /// left; false if it was off.
    async fn disable_totp(&self, mi_id: MiId, events: &[IdentityEvent]) -> anyhow::Result<bool>;

    /// Turns codes as a second factor on or off; false if it was so already.
    async fn set_code_second_factor(
        &self,
        mi_id: MiId,
        enabled: bool,
        events: &[IdentityEvent],
    ) -> anyhow::Result<bool>;

    /// Replaces the recovery codes.
    async fn replace_recovery_codes(&self, mi_id: MiId, hashes: &[String]) -> anyhow::Result<()>;

    /// Uses up a recovery code; false if the account has no such unused code.
    async fn use_recovery_code(&self, mi_id: MiId, hash: &str) -> anyhow::Result<bool>;

    /// Writes alerts that go with no state change here (`SecondFactorFailures`).
    async fn record_alerts(&self, mi_id: MiId, events: &[IdentityEvent]) -> anyhow::Result<()>;
}
