//! Where devices live: the SQL implementation of the domain's
//! [`DeviceStore`](crate::domain::DeviceStore). One implementation serves PostgreSQL and SQLite.

mod sql;

pub(crate) use sql::{SqlDeviceStore, expiries};
