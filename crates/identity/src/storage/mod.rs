//! Where accounts, sessions and second factors live: SQL implementations of the domain's store
//! traits (`domain/<family>/store.rs`), one file per trait in `sql/`. One SQL implementation
//! serves PostgreSQL and SQLite; both pass the contract suite in `tests/store_contract/`.
//! Every state change writes its events to the outbox in the same transaction.

mod sql;

pub use sql::{SqlIdentityStore, SqlReactivationLocks, expiries};
