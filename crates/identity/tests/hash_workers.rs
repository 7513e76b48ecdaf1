//! Password hashing in worker processes of the identity binary: the same hashes as hashing
//! on threads, computed in a session (and so a scheduling group) of their own, and a worker
//! that dies is replaced.

use std::path::{Path, PathBuf};

use mi_identity::config::{Argon2Settings, PasswordSettings};
use mi_identity::domain::{PasswordCheck, PasswordHasher, PasswordPolicy, StoredHash};
use mi_platform::crypto::SecretKey;
use rustix::process::{Pid, Signal, kill_process};
use secrecy::SecretString;

const CHEAP: Argon2Settings = Argon2Settings {
    memory_kib: 8 * 1024,
    iterations: 1,
    parallelism: 1,
};

fn identity_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mi-identity"))
}

fn policy() -> PasswordPolicy {
    PasswordPolicy::new(PasswordSettings::default())
}

async fn hash(hasher: &PasswordHasher, password: &SecretString) -> StoredHash {
    hasher
        .hash_new(&policy(), password, Vec::new())
        .await
        .expect("hash")
        .expect("strong password")
}

/// What /proc says of a process: parent, session and nice value.
struct ProcessStat {
    pid: i32,
    parent: i32,
    session: i32,
    nice: i32,
}

fn stat(path: &Path) -> Option<ProcessStat> {
    let text = std::fs::read_to_string(path.join("stat")).ok()?;
    let pid = text.split_whitespace().next()?.parse().ok()?;
    // Fields after the command name, which may hold spaces: state, ppid, pgrp, session, ...
    let fields: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
    Some(ProcessStat {
        pid,
        parent: fields.get(1)?.parse().ok()?,
        session: fields.get(3)?.parse().ok()?,
        nice: fields.get(16)?.parse().ok()?,
    })
}

/// This test process's children running the identity binary.
fn workers() -> Vec<ProcessStat> {
    let me = i32::try_from(std::process::id()).expect("pid");
    let binary = std::fs::canonicalize(identity_binary()).expect("identity binary");
    std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| std::fs::read_link(path.join("exe")).is_ok_and(|exe| exe == binary))
        .filter_map(|path| stat(&path))
        .filter(|process| process.parent == me)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_hash_like_threads_in_a_session_of_their_own_and_are_replaced_when_they_die() {
    let pepper = SecretKey::generate();
    let in_processes =
        PasswordHasher::new(&CHEAP, pepper.clone(), Some(2), Some(identity_binary()))
            .expect("hasher");
    let on_threads = PasswordHasher::new(&CHEAP, pepper, Some(1), None).expect("hasher");
    let password = SecretString::from("Tangerine-Orbit-47");
    let wrong = SecretString::from("Tangerine-Orbit-48");

    let from_workers = hash(&in_processes, &password).await;
    let from_threads = hash(&on_threads, &password).await;
    for stored in [&from_workers, &from_threads] {
        for hasher in [&in_processes, &on_threads] {
            assert_eq!(
                hasher
                    .check(&policy(), &password, Some(stored))
                    .await
                    .expect("check"),
                PasswordCheck::Right
            );
            assert_eq!(
                hasher
                    .check(&policy(), &wrong, Some(stored))
                    .await
                    .expect("check"),
                PasswordCheck::Wrong
            );
        }
    }

    let started = workers();
    assert!(!started.is_empty(), "no worker process was started");
    let my_session = stat(Path::new("/proc/self")).expect("own stat").session;
    for worker in &started {
        assert_eq!(
            worker.session, worker.pid,
            "a worker leads a session of its own"
        );
        assert_ne!(worker.session, my_session);
        assert_eq!(worker.nice, 19, "a worker runs at the lowest priority");
        let name = std::fs::read_to_string(format!("/proc/{}/comm", worker.pid)).expect("comm");
        assert_eq!(name.trim(), "argon2-worker", "ps and top name the worker");
    }

    for worker in &started {
        let pid = Pid::from_raw(worker.pid).expect("pid");
        kill_process(pid, Signal::KILL).expect("kill worker");
    }
    // Each dead worker is found out by the request that lands on it, which is redone on a
    // fresh worker; two at once reach both.
    let after_deaths = hash(&in_processes, &password).await;
    let policy = policy();
    let (first, second) = tokio::join!(
        in_processes.check(&policy, &password, Some(&after_deaths)),
        in_processes.check(&policy, &wrong, Some(&after_deaths)),
    );
    assert_eq!(
        first.expect("check after the workers died"),
        PasswordCheck::Right
    );
    assert_eq!(
        second.expect("check after the workers died"),
        PasswordCheck::Wrong
    );
    let replaced = workers();
    assert!(!replaced.is_empty(), "no worker runs after the deaths");
    assert!(
        replaced
            .iter()
            .all(|worker| started.iter().all(|old| old.pid != worker.pid)),
        "dead workers were replaced"
    );
}

/// A password longer than the policy allows (1.1 M characters here, over the workers' 1 MiB
/// frames) is wrong without being hashed, never an error (INTERNAL at the edge).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_over_long_password_is_wrong_without_reaching_a_worker() {
    let hasher = PasswordHasher::new(
        &CHEAP,
        SecretKey::generate(),
        Some(1),
        Some(identity_binary()),
    )
    .expect("hasher");
    let stored = hash(&hasher, &SecretString::from("Tangerine-Orbit-47")).await;
    let over_long = SecretString::from("Aa1-".repeat(275_000));
    for stored in [Some(&stored), None] {
        let checked = hasher.check(&policy(), &over_long, stored).await;
        assert_eq!(
            checked.expect("an over-long password is no error"),
            PasswordCheck::Wrong
        );
    }
}
