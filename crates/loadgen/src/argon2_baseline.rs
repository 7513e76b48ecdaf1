//! The bound that password hashing sets on sign-in throughput, measured on this machine: one
//! Argon2id hash with identity's default parameters (OWASP: 19 MiB, 2 iterations, 1 lane) and
//! a pepper, timed on one thread, and `cores ÷ time of one hash`.
//!
//! Each thread computes into work memory kept between hashes, as identity's hashing workers
//! do: argon2's `hash_password` allocates its 19 MiB afresh and pays page faults the service
//! never pays, which would make the bound lower than the service's real hashing speed.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use mi_platform::crypto::SecretKey;

/// identity's `password.argon2` defaults.
const MEMORY_KIB: u32 = 19 * 1024;
const ITERATIONS: u32 = 2;
const LANES: u32 = 1;

/// What the baseline measured.
#[derive(Debug)]
pub(crate) struct Baseline {
    /// Hashes timed on one thread.
    pub hashes: usize,
    /// Mean time of one hash.
    pub mean: Duration,
    /// Median time of one hash.
    pub median: Duration,
    /// Fastest hash.
    pub fastest: Duration,
    /// `std::thread::available_parallelism()`.
    pub cores: usize,
    /// Hashes per second with one thread per core hashing at once (what the machine delivers,
    /// as opposed to the bound, which assumes every core scales perfectly).
    pub parallel_rate: f64,
}

impl Baseline {
    /// Sign-ins per second that hashing allows: cores ÷ median time of one hash.
    pub(crate) fn bound(&self) -> f64 {
        self.cores as f64 / self.median.as_secs_f64()
    }

    /// Prints one line per figure, like the driver's report.
    pub(crate) fn print(&self) {
        let ms = |duration: Duration| duration.as_secs_f64() * 1000.0;
        let lines = [
            "scenario      Argon2Baseline".to_owned(),
            format!("params        Argon2id m={MEMORY_KIB} KiB t={ITERATIONS} p={LANES}, peppered"),
            format!("hashes        {} on one thread", self.hashes),
            format!("mean          {:.2} ms", ms(self.mean)),
            format!("median        {:.2} ms", ms(self.median)),
            format!("fastest       {:.2} ms", ms(self.fastest)),
            format!("cores         {}", self.cores),
            format!("bound         {:.1} /s (cores ÷ median)", self.bound()),
            format!(
                "bound(mean)   {:.1} /s (cores ÷ mean)",
                self.cores as f64 / self.mean.as_secs_f64()
            ),
            format!(
                "parallel      {:.1} /s ({} threads hashing at once)",
                self.parallel_rate, self.cores
            ),
            format!(
                "scaling       {:.2} (parallel ÷ bound)",
                self.parallel_rate / self.bound()
            ),
        ];
        #[allow(clippy::print_stdout)] // the report is this program's output
        {
            println!("{}", lines.join("\n"));
        }
    }
}

/// Hashes `hashes` times on one thread (after one untimed hash), then `hashes` times on each of
/// `cores` threads at once.
pub(crate) fn measure(hashes: usize) -> anyhow::Result<Baseline> {
    let hashes = hashes.max(1);
    let pepper = SecretKey::generate();
    let params = Params::new(MEMORY_KIB, ITERATIONS, LANES, None)
        .map_err(|error| anyhow::anyhow!("invalid argon2 parameters: {error}"))?;
    let mut hasher = Hasher::new(&pepper, &params);
    hasher.hash_once()?;
    let mut times = (0..hashes)
        .map(|_| hasher.hash_once())
        .collect::<anyhow::Result<Vec<_>>>()?;
    drop(hasher);
    times.sort();
    let mean = times.iter().sum::<Duration>() / u32::try_from(hashes).unwrap_or(u32::MAX);
    let median = times[hashes / 2];
    let fastest = times[0];

    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let ready = Arc::new(Barrier::new(cores + 1));
    let threads: Vec<_> = (0..cores)
        .map(|_| {
            let (pepper, params, ready) = (pepper.clone(), params.clone(), Arc::clone(&ready));
            std::thread::spawn(move || -> anyhow::Result<()> {
                let mut hasher = Hasher::new(&pepper, &params);
                hasher.hash_once()?;
                ready.wait();
                for _ in 0..hashes {
                    hasher.hash_once()?;
                }
                Ok(())
            })
        })
        .collect();
    // Timed from when every thread has warmed its memory.
    ready.wait();
    let start = Instant::now();
    for thread in threads {
        thread
            .join()
            .map_err(|_| anyhow::anyhow!("a hashing thread panicked"))??;
    }
    let parallel_rate = (cores * hashes) as f64 / start.elapsed().as_secs_f64();
    Ok(Baseline {
        hashes,
        mean,
        median,
        fastest,
        cores,
        parallel_rate,
    })
}

/// One thread's hashing: identity's parameters and a pepper, into memory kept between hashes.
struct Hasher {
    pepper: SecretKey,
    params: Params,
    memory: Vec<Block>,
}

impl Hasher {
    fn new(pepper: &SecretKey, params: &Params) -> Self {
        Self {
            pepper: pepper.clone(),
            params: params.clone(),
            memory: vec![Block::new(); params.block_count()],
        }
    }

    /// One hash of a password with a fresh salt, set up as identity sets up each hash;
    /// checking a password costs the same.
    fn hash_once(&mut self) -> anyhow::Result<Duration> {
        let start = Instant::now();
        let argon2 = Argon2::new_with_secret(
            self.pepper.as_bytes(),
            Algorithm::Argon2id,
            Version::V0x13,
            self.params.clone(),
        )
        .map_err(|error| anyhow::anyhow!("cannot set up argon2: {error}"))?;
        let mut salt = [0u8; 16];
        OsRng.fill_bytes(&mut salt);
        let mut output = [0u8; 32];
        argon2
            .hash_password_into_with_memory(
                b"Tangerine-Orbit-47",
                &salt,
                &mut output,
                &mut self.memory,
            )
            .map_err(|error| anyhow::anyhow!("cannot hash: {error}"))?;
        std::hint::black_box(output);
        Ok(start.elapsed())
    }
}
