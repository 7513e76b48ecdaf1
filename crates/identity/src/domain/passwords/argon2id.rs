//! The Argon2id computation itself, and where it runs: worker processes of this executable
//! (see `mi_workers::worker`), or threads of this process when the executable serves no
//! workers (tests, or a library user's own binary).

use std::cell::RefCell;
use std::sync::Arc;

use anyhow::Context;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use mi_platform::crypto::SecretKey;
use mi_workers::cpu::CpuPool;
use mi_workers::worker::{Job, WorkerKind, WorkerPool};
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::pepper;

/// The worker kind computing Argon2id; binaries that run identity serve it.
pub const ARGON2_WORKER: WorkerKind = WorkerKind {
    name: "argon2",
    start: start_worker,
};

/// One Argon2id computation: the password, salt and cost; the keys are the engine's, and
/// `params`' key id says which.
#[derive(Serialize, Deserialize)]
pub(super) struct Argon2Job {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    pub salt: Vec<u8>,
    pub password: String,
    pub output_length: usize,
    /// Hashed with the pepper itself, as before the derived key (a hash without a key id).
    pub pepper_as_key: bool,
}

impl Argon2Job {
    /// A job computing `password` with `params` and `salt`.
    pub(super) fn new(
        params: &Params,
        salt: &[u8],
        password: &SecretString,
        output_length: usize,
    ) -> Self {
        Self {
            memory_kib: params.m_cost(),
            iterations: params.t_cost(),
            parallelism: params.p_cost(),
            salt: salt.to_vec(),
            password: password.expose_secret().to_owned(),
            output_length,
            pepper_as_key: params.keyid().is_empty(),
        }
    }
}

/// The keys a hash may have been made with.
#[derive(Debug)]
pub(super) struct HashKeys {
    /// The key derived for password hashing: new hashes.
    derived: SecretKey,
    /// The pepper: hashes made before the derivation.
    pepper: SecretKey,
}

impl HashKeys {
    pub(super) fn new(pepper: SecretKey) -> Self {
        Self {
            derived: pepper::password_key(&pepper),
            pepper,
        }
    }

    fn for_job(&self, job: &Argon2Job) -> &SecretKey {
        if job.pepper_as_key {
            &self.pepper
        } else {
            &self.derived
        }
    }
}

impl Drop for Argon2Job {
    fn drop(&mut self) {
        secrecy::zeroize::Zeroize::zeroize(&mut self.password);
    }
}

/// Where hashes are computed.
#[derive(Debug, Clone)]
pub(super) enum Engine {
    /// Worker processes, each in a scheduling group of its own; they hold the pepper.
    Processes(WorkerPool),
    /// Threads of this process at a lower nice value.
    Threads { pool: CpuPool, keys: Arc<HashKeys> },
}

impl Engine {
    /// Worker processes running `program`, or threads when there is none.
    pub(super) fn new(
        program: Option<std::path::PathBuf>,
        workers: usize,
        pool: CpuPool,
        pepper: SecretKey,
    ) -> Self {
        match program {
            Some(program) => Self::Processes(WorkerPool::new(
                program,
                ARGON2_WORKER.name,
                workers,
                pepper.as_bytes().to_vec(),
            )),
            None => Self::Threads {
                pool,
                keys: Arc::new(HashKeys::new(pepper)),
            },
        }
    }

    /// Computes the job's output.
    pub(super) async fn compute(&self, job: Argon2Job) -> anyhow::Result<Vec<u8>> {
        match self {
            Self::Processes(workers) => {
                let request = Zeroizing::new(serde_json::to_vec(&job)?);
                workers.run(&request).await
            }
            Self::Threads { pool, keys } => {
                let keys = Arc::clone(keys);
                pool.run(move || compute(&keys, &job)).await?
            }
        }
    }
}

fn start_worker(pepper: Vec<u8>) -> anyhow::Result<Job> {
    let pepper = SecretKey::from_bytes(&pepper).context("the worker's pepper is not a key")?;
    let keys = HashKeys::new(pepper);
    Ok(Box::new(move |request| {
        let job: Argon2Job = serde_json::from_slice(request).context("not an argon2 job")?;
        compute(&keys, &job)
    }))
}

thread_local! {
    /// The Argon2 work memory of a hashing thread, kept between hashes: a fresh 19 MiB
    /// allocation per hash is what made the allocator hold hundreds of MiB after a burst of
    /// sign-ups.
    static WORK_MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Argon2id of the job, with its key, in this thread's reused work memory.
pub(super) fn compute(keys: &HashKeys, job: &Argon2Job) -> anyhow::Result<Vec<u8>> {
    let params = Params::new(job.memory_kib, job.iterations, job.parallelism, None)
        .map_err(|error| anyhow::anyhow!("invalid argon2 parameters: {error}"))?;
    let argon2 = Argon2::new_with_secret(
        keys.for_job(job).as_bytes(),
        Algorithm::Argon2id,
        Version::V0x13,
        params.clone(),
    )
    .map_err(|error| anyhow::anyhow!("cannot set up argon2: {error}"))?;
    let mut output = vec![0u8; job.output_length];
    WORK_MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        memory.resize(params.block_count(), Block::new());
        argon2
            .hash_password_into_with_memory(
                job.password.as_bytes(),
                &job.salt,
                &mut output,
                &mut memory[..],
            )
            .map_err(|error| anyhow::anyhow!("cannot hash password: {error}"))
    })?;
    Ok(output)
}

/// Gives this thread's work memory back (for threads that hash once, not pool threads).
pub(super) fn release_work_memory() {
    WORK_MEMORY.with(|memory| memory.take());
}
