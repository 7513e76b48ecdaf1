//! Fault tests: the platform's dependencies are killed, stopped and restarted under it, and
//! nothing accepted may be lost, delivered twice, or need a human to recover.
//!
//! A binary of its own: each test owns throwaway servers (a durable tansu broker, a Redis, a
//! TCP proxy in front of PostgreSQL) that it breaks on purpose, so these tests never touch the
//! shared servers the e2e suite runs on. `scripts/test -p mi-e2e --test faults` runs them.

#![cfg(test)]

// The e2e suite's harness (platform, clients, helpers); this binary uses a part of it.
#[allow(dead_code, unused_imports, unused_macros)]
#[path = "../e2e/support/mod.rs"]
mod support;

mod broker_restart;
mod cluster;
mod command_load;
mod member_kill;
mod outages;
mod proxy;
mod replicas;
mod send_load;
mod sign_up_load;
mod steady;
mod tally;
mod tansu;
