//! The log test, in a process of its own: it installs the global log subscriber before the
//! harness does, which it could not do beside the other end-to-end tests.

// Always true in a test binary: it tells clippy that all of this is test code, where
// clippy.toml lets tests unwrap.
#![cfg(test)]

#[path = "../e2e/support/mod.rs"]
#[allow(unused)] // this binary uses a few of the harness's helpers
mod support;

mod secrets_stay_out_of_logs;
