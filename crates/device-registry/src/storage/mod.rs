//! Where devices live: the SQL implementations of the domain's stores
//! ([`DeviceStore`](crate::domain::DeviceStore),
//! [`CommandStore`](crate::domain::commands::CommandStore),
//! [`LocationStore`](crate::domain::LocationStore),
//! [`SyncSettingsStore`](crate::domain::SyncSettingsStore)). One implementation serves
//! PostgreSQL and SQLite.

mod accounts;
pub(crate) mod audit;
mod spent_tokens;
mod sql;
mod sql_commands;
// Public to the crate for the calls other changes make in their own transactions:
// `sql_locations::delete_locations_in` (Find Device turned off) and
// `sql_sync::write_sync_settings` (a command queued with the owner's change).
pub(crate) mod sql_locations;
pub(crate) mod sql_sync;
#[cfg(test)]
mod tests;

pub(crate) use mi_platform::group_commit::GroupCommitSettings;
pub(crate) use sql::{SqlDeviceStore, expiries};
pub(crate) use sql_commands::{SqlCommandStore, wake_key};
pub(crate) use sql_locations::SqlLocationStore;
pub(crate) use sql_sync::SqlSyncSettingsStore;
