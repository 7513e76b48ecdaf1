//! Delivery records and the dev inbox: the SQL implementation of the domain's
//! [`NotificationStore`](crate::domain::NotificationStore), publishing each outcome through
//! the outbox in the same transaction. One implementation serves PostgreSQL and SQLite.

mod batched;
mod sql;
#[cfg(test)]
mod tests;

pub(crate) use sql::{SqlNotificationStore, expiries};
