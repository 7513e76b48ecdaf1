//! The store as the whole service sees it: each family's focused trait (in its own
//! `<family>/store.rs`), the reads every family shares, and [`IdentityStore`], which is all of
//! them at once. `storage/sql/<family>.rs` implements each trait in SQL.

use async_trait::async_trait;
use mi_contracts::MiId;

use super::contacts::ContactStore;
use super::passwords::PasswordStore;
use super::profile::ProfileStore;
use super::sessions::SessionStore;
use super::sign_in::{ConsentStore, SignInStore};
use super::sign_up::SignUpStore;
use super::two_factor::TwoFactorStore;
use super::{Account, Identifier};

/// A store error: a session for an account deleted meanwhile (a sign-in racing the account's
/// deletion). The edge answers it like a wrong password, not INTERNAL (docs/fuzzing.md).
#[derive(Debug, thiserror::Error)]
#[error("account {0} no longer exists")]
pub struct AccountGone(pub MiId);

/// The reads every family shares: an account and who an identifier names.
#[async_trait]
pub trait AccountLookup: Send + Sync + std::fmt::Debug {
    /// The account with this Mi ID, with its contacts and second-factor state.
    async fn account(&self, mi_id: MiId) -> anyhow::Result<Option<Account>>;

    /// The account a Mi ID or contact names, if any.
    async fn find_account(&self, identifier: &Identifier) -> anyhow::Result<Option<MiId>>;

    /// The account a Mi ID or contact names, with its contacts, in one read whether or not
    /// there is one (StartPasswordReset answers both alike).
    async fn account_named(&self, identifier: &Identifier) -> anyhow::Result<Option<Account>>;
}

/// Every store identity needs, in one object.
pub trait IdentityStore:
    AccountLookup
    + SignUpStore
    + SignInStore
    + ConsentStore
    + SessionStore
    + ContactStore
    + PasswordStore
    + TwoFactorStore
    + ProfileStore
{
}

impl<T> IdentityStore for T where
    T: AccountLookup
        + SignUpStore
        + SignInStore
        + ConsentStore
        + SessionStore
        + ContactStore
        + PasswordStore
        + TwoFactorStore
        + ProfileStore
{
}
