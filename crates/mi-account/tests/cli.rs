//! The binary's command line: `--help` and `--version` answer without starting anything, and
//! `migrate` migrates every service's database and exits (issue 13).

use std::process::{Command, Output};

use mi_test_support as testing;

/// Runs the binary with `arguments` in an empty directory whose `data` it would use.
fn mi_account(arguments: &[&str], environment: &[(&str, &str)]) -> (Output, tempfile::TempDir) {
    let directory = tempfile::tempdir().expect("temporary directory");
    let output = Command::new(env!("CARGO_BIN_EXE_mi-account"))
        .args(arguments)
        .current_dir(directory.path())
        .env("MI_DATA_DIR", directory.path().join("data"))
        .envs(environment.iter().copied())
        .output()
        .expect("run mi-account");
    (output, directory)
}

#[test]
fn help_and_version_answer_without_starting_the_platform() {
    let (help, directory) = mi_account(&["--help"], &[]);
    assert!(help.status.success(), "{help:?}");
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("Usage: mi-account"), "{text}");
    assert!(text.contains("migrate"), "{text}");
    // Started, the platform would have made its SQLite databases there.
    assert!(
        !directory.path().join("data").exists(),
        "--help started the platform"
    );

    let (version, _) = mi_account(&["--version"], &[]);
    assert!(version.status.success(), "{version:?}");
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("mi-account {}", env!("CARGO_PKG_VERSION"))
    );

    let (unknown, _) = mi_account(&["--frobnicate"], &[]);
    assert_eq!(unknown.status.code(), Some(2), "{unknown:?}");
}

#[test]
fn migrate_creates_every_sqlite_database_and_exits() {
    let (output, directory) = mi_account(&["migrate"], &[]);
    assert!(output.status.success(), "{output:?}");
    for service in ["identity", "verification", "notification", "device"] {
        let file = directory.path().join("data").join(format!("{service}.db"));
        assert!(file.exists(), "no {}", file.display());
    }
}

#[tokio::test]
async fn migrate_migrates_every_postgres_database_and_exits() {
    let server = testing::postgres_url();
    let prefix = testing::unique_name("t_") + "_";
    let (output, _) = mi_account(
        &["migrate"],
        &[
            ("MI_POSTGRES__URL", server.as_str()),
            ("MI_POSTGRES__DATABASE_PREFIX", prefix.as_str()),
        ],
    );
    assert!(output.status.success(), "{output:?}");
    for service in ["identity", "verification", "notification", "device"] {
        let url = format!("{server}/{prefix}{service}");
        let mut connection = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
            .await
            .unwrap_or_else(|error| panic!("no database {prefix}{service}: {error}"));
        let outbox: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'outbox'",
        )
        .fetch_one(&mut connection)
        .await
        .expect("query");
        assert_eq!(outbox, 1, "{service} has no outbox table");
    }
}
