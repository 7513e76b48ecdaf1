//! Where verifications live: the SQL implementation of the domain's
//! [`VerificationStore`](crate::domain::VerificationStore), writing each state change's event
//! to the outbox in the same transaction.

mod sql;

pub use sql::{SqlVerificationStore, expiries};
