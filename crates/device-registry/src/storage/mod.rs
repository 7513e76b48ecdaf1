//! Where devices live: the SQL implementation of the domain's
//! [`DeviceStore`](crate::domain::DeviceStore). One implementation serves PostgreSQL and SQLite.

mod accounts;
pub(crate) mod audit;
mod sql;

pub(crate) use sql::{SqlDeviceStore, expiries};
