//! Everything the mi-account services share, written once.
//!
//! A service crate holds only its domain, storage, gRPC handlers and event handlers; it gets
//! configuration, telemetry, the database, the outbox, the event bus, the rate limiter and the
//! gRPC server from here.

pub mod auth;
pub mod backoff;
pub mod bus;
pub mod cli;
pub mod client;
pub mod config;
pub mod consumer;
pub mod contact;
pub mod crypto;
pub mod db;
pub mod ephemeral;
pub(crate) mod error;
pub mod events;
pub mod group_commit;
pub mod health;
pub mod host;
pub mod limiter;
pub mod localized;
pub mod metrics;
pub mod outage;
pub mod outbox;
pub mod paging;
pub(crate) mod redact;
pub mod redis_connection;
pub mod retention;
pub(crate) mod runtime;
pub mod send_token;
pub mod server;
pub mod service;
pub mod telemetry;
pub mod tokens;
pub mod wake;

pub use error::{ErrorCode, ServiceError};
pub use runtime::Platform;
