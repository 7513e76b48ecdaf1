//! The gRPC-level fuzzer: random and mutated-valid requests to every RPC of every service of the
//! running embedded platform, sent as raw bytes so the services' own decoding is under test.
//! Every answer must be a clear error or a success: never INTERNAL or UNKNOWN, never a hang
//! (a call over [`CALL_TIMEOUT`] fails), and every service still healthy afterwards.
//!
//! `MI_FUZZ_CASES` sets the number of requests (CI runs [`DEFAULT_CASES`]), `MI_FUZZ_SEED`
//! replays a run, `MI_FUZZ_ONLY=CheckCode` fuzzes only the RPCs whose path contains it;
//! docs/fuzzing.md has the long-run command and its figures.

mod dictionary;
mod generate;
mod raw;
mod schema;
mod values;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tonic::Code;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::support::{TestPlatform, channel};
use generate::{Generator, Kind};
use schema::{Schema, Target};
use values::{Dictionary, wild_string};

/// Requests in a default (CI) run: about 15 s on two shared cores.
const DEFAULT_CASES: u64 = 4_000;
/// Requests in flight at once.
const CONCURRENCY: u64 = 16;
/// A call that takes longer has hung. Sign-up and sign-in hash with Argon2id, unoptimized in
/// test builds and queued behind each other on the pool's low-priority threads: on two cores
/// shared at load 5 to 10, the slowest answers took 9 to 10 s (docs/fuzzing.md); the report
/// names the slowest answer of every run.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest `authorization` value sent, in characters (up to 4 bytes each).
const MAX_HEADER_CHARS: usize = 2_048;
/// Failures printed in full (the rest are counted).
const SHOWN_FAILURES: usize = 20;

/// What the services answered, by RPC and code, and every unclear answer.
#[derive(Debug, Default)]
struct Tally {
    answers: BTreeMap<(String, String), u64>,
    failures: Vec<String>,
    /// The slowest answer and its case.
    slowest: (Duration, String),
}

impl Tally {
    /// Records an unclear answer, printing the first few of each worker as they come.
    fn fail(&mut self, failure: String) {
        if self.failures.len() < SHOWN_FAILURES {
            eprintln!("fuzz: FAILURE {failure}");
        }
        self.failures.push(failure);
    }

    fn merge(&mut self, other: Self) {
        for (key, count) in other.answers {
            *self.answers.entry(key).or_default() += count;
        }
        self.failures.extend(other.failures);
        self.slowest = self.slowest.clone().max(other.slowest);
    }
}

/// Codes that tell a client what was wrong with its request (or that it succeeded).
fn is_clear(code: Code) -> bool {
    matches!(
        code,
        Code::Ok
            | Code::InvalidArgument
            | Code::FailedPrecondition
            | Code::NotFound
            | Code::AlreadyExists
            | Code::Unauthenticated
            | Code::PermissionDenied
            | Code::ResourceExhausted
            | Code::OutOfRange
            | Code::Aborted
    )
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|value| {
        value
            .replace(['_', ','], "")
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value} is not a number"))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_answers_any_input_with_a_clear_error() {
    let cases = env_number("MI_FUZZ_CASES").unwrap_or(DEFAULT_CASES);
    let seed = env_number("MI_FUZZ_SEED").unwrap_or_else(rand::random);
    let platform = TestPlatform::start_with(dictionary::fuzz_config()).await;
    let (dictionary, account) = dictionary::gather(&platform).await;
    let dictionary = Arc::new(dictionary);
    let mut schema = Schema::load();
    for target in [
        Target::Identity,
        Target::Verification,
        Target::Notification,
        Target::Device,
    ] {
        assert!(
            schema.methods.iter().any(|method| method.target == target),
            "no RPC of {target:?} to fuzz"
        );
    }
    if let Ok(only) = std::env::var("MI_FUZZ_ONLY") {
        schema.methods.retain(|method| method.path.contains(&only));
    }
    let schema = Arc::new(schema);
    // A connection per RPC: a call the transport refuses (finding 3 of docs/fuzzing.md) closes
    // its connection, and the report then names that RPC alone.
    let mut channels = Vec::new();
    for target in schema.methods.iter().map(|method| method.target) {
        channels.push(channel(target.address(&platform.addresses)).await);
    }
    let channels = Arc::new(channels);

    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..CONCURRENCY {
        let (schema, dictionary, channels) = (schema.clone(), dictionary.clone(), channels.clone());
        workers.spawn(async move {
            let mut tally = Tally::default();
            for case in (worker..cases).step_by(CONCURRENCY as usize) {
                run_case(seed, case, &schema, &dictionary, &channels, &mut tally).await;
            }
            tally
        });
    }
    let collect = async {
        let mut tally = Tally::default();
        while let Some(worker) = workers.join_next().await {
            tally.merge(worker.unwrap());
        }
        tally
    };
    let tally = tokio::select! {
        tally = collect => tally,
        () = dictionary::keep_signed_in(&platform, &dictionary, account) => unreachable!(),
    };
    let elapsed = started.elapsed();
    report(&tally, cases, seed, elapsed);
    assert_still_healthy(&platform).await;
    assert!(
        tally.failures.is_empty(),
        "{} unclear answers or hangs in {cases} requests (MI_FUZZ_SEED={seed}); first: {:#?}",
        tally.failures.len(),
        &tally.failures[..tally.failures.len().min(SHOWN_FAILURES)]
    );
    platform.stop().await;
}

/// One request: the case number picks the RPC; the seed and case number, everything else.
async fn run_case(
    seed: u64,
    case: u64,
    schema: &Schema,
    dictionary: &Dictionary,
    channels: &[Channel],
    tally: &mut Tally,
) {
    let mut rng = StdRng::seed_from_u64(seed ^ case.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let index = (case % schema.methods.len() as u64) as usize;
    let method = &schema.methods[index];
    let kind = Kind::pick(&mut rng);
    let generator = Generator { schema, dictionary };
    let body = generator.body(&mut rng, &method.input, kind);
    let authorization = authorization(&mut rng, dictionary);
    let described = format!(
        "case {case} {} {kind:?} ({} bytes)",
        method.path,
        body.len()
    );
    let call = raw::call(
        channels[index].clone(),
        (&method.path, method.streaming),
        body,
        authorization,
    );
    let sent = Instant::now();
    let code = match tokio::time::timeout(CALL_TIMEOUT, call).await {
        Ok(Ok(())) => Code::Ok,
        Ok(Err(status)) if is_clear(status.code()) => status.code(),
        Ok(Err(status)) => {
            let source = std::error::Error::source(&status).map(|source| format!("{source:?}"));
            tally.fail(format!(
                "{described}: {:?} {} (source: {source:?})",
                status.code(),
                status.message()
            ));
            status.code()
        }
        Err(_) => {
            tally.fail(format!("{described}: no answer in {CALL_TIMEOUT:?}"));
            Code::DeadlineExceeded
        }
    };
    tally.slowest = tally.slowest.clone().max((sent.elapsed(), described));
    *tally
        .answers
        .entry((method.path.clone(), format!("{code:?}")))
        .or_default() += 1;
}

/// No token, a real one, a forged or expired one, a fresh device token, or any string.
fn authorization(rng: &mut StdRng, dictionary: &Dictionary) -> Option<MetadataValue<Ascii>> {
    let value = match rng.random_range(0..5) {
        0 => return None,
        // Below HTTP/2's header list limit (16 KiB in hyper): past it, the server closes the
        // client's connection, which fails the client's other calls on it too (docs/fuzzing.md).
        1 => format!("Bearer {}", wild_string(rng))
            .chars()
            .take(MAX_HEADER_CHARS)
            .collect(),
        2 => dictionary.device_bearer()?,
        _ => dictionary.bearer(rng)?,
    };
    value.parse().ok()
}

fn report(tally: &Tally, cases: u64, seed: u64, elapsed: Duration) {
    let rate = cases as f64 / elapsed.as_secs_f64();
    eprintln!(
        "fuzz: {cases} requests in {elapsed:.1?} ({rate:.0}/s), MI_FUZZ_SEED={seed}, \
         {} unclear answers; slowest answer {:.1?} ({})",
        tally.failures.len(),
        tally.slowest.0,
        tally.slowest.1,
    );
    for ((path, code), count) in &tally.answers {
        eprintln!("fuzz:   {path} {code}: {count}");
    }
}

async fn assert_still_healthy(platform: &TestPlatform) {
    let addresses = &platform.addresses;
    for address in [
        addresses.identity,
        addresses.verification,
        addresses.notification,
        addresses.device,
    ] {
        let status = HealthClient::new(channel(address).await)
            .check(HealthCheckRequest::default())
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, i32::from(ServingStatus::Serving), "{address}");
    }
}
