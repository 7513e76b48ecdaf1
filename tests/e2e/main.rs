//! Black-box end-to-end tests: the whole platform driven over gRPC, as a client would, in
//! embedded mode and on the real servers.
//!
//! One test binary with a module per file: the crate compiles once and links once, about four
//! times faster on two cores than a binary per file (the README's Development section has the
//! figures). `cargo test -p mi-e2e --test e2e codes::` runs one file's tests. The log test is
//! the exception, in `tests/logs/`: it needs the process's global log subscriber to itself.

// Always true in a test binary: it tells clippy that all of this is test code, where
// clippy.toml lets tests unwrap.
#![cfg(test)]

mod support;

mod account_snapshots;
mod backbone;
mod bad_input;
mod captcha_guard;
mod challenge_contacts;
mod client_walk;
mod code_cooldown;
mod code_limits;
mod codes;
mod contact_case;
mod delivery;
mod dev_inbox;
mod device_access;
mod device_agent;
mod device_credentials;
mod device_linking;
mod device_locations;
mod device_notifications;
mod displayed_text;
mod field_limits;
mod find_device_commands;
mod find_device_switch;
mod find_my_phone;
mod fuzz;
mod health_and_reflection;
mod identity_alerts;
mod identity_contacts;
mod identity_field_limits;
mod identity_passwords;
mod identity_profile;
mod identity_sessions;
mod identity_sign_in;
mod identity_sign_up;
mod identity_two_factor;
mod legal_documents;
mod localized_errors;
mod operations;
mod p256_device_keys;
mod password_length;
mod password_reset_start;
mod proxy_header;
mod reactivation_lock;
mod second_factor_delays;
mod security_alerts;
mod session_lifetime;
mod session_paging;
mod sign_in_captcha;
mod sync_settings;
mod test_captcha;
mod thin_flow;
mod toll_fraud;
