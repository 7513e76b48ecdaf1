//! The binary as a person meets it: help, version, passwords never on the command line, and
//! clear errors before any network call.

// Always true in a test binary: tells clippy this is test code, where tests may unwrap.
#![cfg(test)]

use std::process::{Command, Output};

fn agent(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mi-device-agent"))
        .args(args)
        .env_remove("MI_AGENT_STATE")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_lists_every_command() {
    let output = agent(&["--help"]);
    assert!(output.status.success());
    let help = text(&output.stdout);
    for command in [
        "sign-in",
        "enroll",
        "report-status",
        "find-device",
        "report-location",
        "walk",
        "run",
    ] {
        assert!(help.contains(command), "{command} missing from:\n{help}");
    }
    let run_help = text(&agent(&["--state", "x", "run", "--help"]).stdout);
    assert!(run_help.contains("--not-now"), "{run_help}");
    assert!(run_help.contains("enable-lost-mode"), "{run_help}");
}

#[test]
fn version_prints_the_package_version() {
    let output = agent(&["--version"]);
    assert!(output.status.success());
    assert_eq!(
        text(&output.stdout).trim(),
        format!("mi-device-agent {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn a_password_is_never_taken_from_the_command_line() {
    let output = agent(&[
        "--state",
        "x",
        "sign-in",
        "--identifier",
        "alice@example.com",
        "--password",
        "hunter22",
    ]);
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("--password"), "{output:?}");
}

#[test]
fn a_missing_password_variable_is_named() {
    let output = Command::new(env!("CARGO_BIN_EXE_mi-device-agent"))
        .args([
            "--state",
            "x",
            "sign-in",
            "--identifier",
            "alice@example.com",
            "--password-env",
            "MI_AGENT_TEST_UNSET_PASSWORD",
        ])
        .env_remove("MI_AGENT_TEST_UNSET_PASSWORD")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let error = text(&output.stderr);
    assert!(error.contains("MI_AGENT_TEST_UNSET_PASSWORD"), "{error}");
}

#[test]
fn commands_of_a_phone_that_never_signed_in_say_to_sign_in() {
    let directory = tempfile::tempdir().unwrap();
    let state = directory.path().join("phone.json");
    let state = state.to_str().unwrap();
    for args in [
        vec!["--state", state, "run"],
        vec!["--state", state, "find-device", "on"],
        vec![
            "--state",
            state,
            "report-location",
            "--lat",
            "-33.9",
            "--lon",
            "18.4",
        ],
    ] {
        let output = agent(&args);
        assert!(!output.status.success(), "{args:?}");
        let error = text(&output.stderr);
        assert!(error.contains("sign in first"), "{args:?}: {error}");
    }
}

#[test]
fn a_walk_takes_at_least_one_step() {
    let output = agent(&[
        "--state", "x", "walk", "--to-lat", "1", "--to-lon", "2", "--steps", "0",
    ]);
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("--steps"), "{output:?}");
}
