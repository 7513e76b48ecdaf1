//! Where devices live: the SQL implementations of the domain's
//! [`DeviceStore`](crate::domain::DeviceStore) and
//! [`CommandStore`](crate::domain::commands::CommandStore). One implementation serves
//! PostgreSQL and SQLite.

mod accounts;
pub(crate) mod audit;
mod sql;
mod sql_commands;

pub(crate) use sql::{SqlDeviceStore, expiries};
pub(crate) use sql_commands::{SqlCommandStore, wake_key};
