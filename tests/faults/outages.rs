//! Dependency outages answer UNAVAILABLE at once, never INTERNAL and never at the client's
//! deadline, and the platform recovers by itself when the dependency is back (issue 13).
//!
//! Each test runs the platform on the real servers but reaches one dependency through
//! something it can break: PostgreSQL through a proxy it cuts, Redis as a server of its own
//! that it kills and starts again.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mi_proto::common::v1::Channel as CodeChannel;
use mi_proto::verification::v1::CreateCaptchaRequest;
use mi_test_support as testing;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::support::{Backends, TestConfig, TestPlatform, test_device, unique_phone_number};

/// The pool-acquire and Redis timeouts the platform runs with here.
const TIMEOUT: &str = "1s";
/// An outage must be answered within this (the timeout and some slack), far below the 5 s a
/// client's deadline would take.
const ANSWERED_WITHIN: Duration = Duration::from_millis(2500);
/// How long the platform gets to recover once the dependency is back.
const RECOVERS_WITHIN: Duration = Duration::from_secs(20);

/// Retries `call` until it stops answering UNAVAILABLE; panics after [`RECOVERS_WITHIN`].
async fn until_recovered<T, F, Fut>(what: &str, mut call: F) -> (Result<T, tonic::Status>, Duration)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, tonic::Status>>,
{
    let back_at = Instant::now();
    loop {
        let result = call().await;
        match &result {
            Err(status) if status.code() == Code::Unavailable => {}
            _ => return (result, back_at.elapsed()),
        }
        assert!(
            back_at.elapsed() < RECOVERS_WITHIN,
            "{what} still UNAVAILABLE {RECOVERS_WITHIN:?} after the dependency came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn assert_unavailable<T: std::fmt::Debug>(
    what: &str,
    result: Result<T, tonic::Status>,
    took: Duration,
) {
    let status = result.expect_err(what);
    assert_eq!(status.code(), Code::Unavailable, "{what}: {status:?}");
    assert!(
        took < ANSWERED_WITHIN,
        "{what} took {took:?} to answer UNAVAILABLE"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_postgres_outage_answers_unavailable_and_the_platform_recovers() {
    let (mut proxy, through_proxy) = crate::proxy::in_front_of(&testing::postgres_url()).await;
    let config = TestConfig::new(Backends::Servers)
        .with_value("postgres.url", through_proxy)
        .with_value("postgres.acquire_timeout", TIMEOUT);
    let platform = TestPlatform::start_with(config).await;
    let destination = unique_phone_number();
    let sent = platform.sign_up(&destination, CodeChannel::Sms).await;
    // Whether it is right or wrong, checking it reads and writes the database.
    let wrong = "000000";

    proxy.cut();
    let started = Instant::now();
    let result = platform.check(&sent.verification_id, wrong).await;
    let took = started.elapsed();
    eprintln!(
        "postgres outage: CheckCode answered {:?} in {took:?}",
        result.as_ref().map_err(tonic::Status::code)
    );
    assert_unavailable("CheckCode while PostgreSQL is down", result, took);

    proxy.resume().await;
    let (result, recovered) =
        until_recovered("CheckCode", || platform.check(&sent.verification_id, wrong)).await;
    eprintln!(
        "postgres outage: CheckCode answered {:?} {recovered:?} after PostgreSQL came back",
        result.as_ref().map_err(tonic::Status::code)
    );
    assert!(
        result.is_ok()
            || result
                .as_ref()
                .is_err_and(|status| status.code() != Code::Internal),
        "{result:?}"
    );
}

/// A Redis server of the test's own on a free port, without persistence.
struct OwnRedis {
    port: u16,
    process: Option<Child>,
}

impl OwnRedis {
    async fn start() -> Self {
        let mut redis = Self {
            port: crate::tansu::free_port(),
            process: None,
        };
        redis.restart().await;
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill().expect("kill redis");
            process.wait().expect("reap redis");
        }
    }

    async fn restart(&mut self) {
        let process = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("start redis-server (scripts/test needs it installed)");
        self.process = Some(process);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not listen on {}", self.port);
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Sign-in without Redis refuses (UNAVAILABLE) rather than checking passwords without the
/// brute-force counters: a careful operator would rather have sign-ins wait out an outage
/// than open unlimited guessing during one (which an attacker might even cause).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redis_outage_answers_unavailable_and_the_platform_recovers() {
    let mut redis = OwnRedis::start().await;
    let config = TestConfig::new(Backends::Servers)
        .with_value("redis.url", redis.url())
        .with_value("redis.timeout", TIMEOUT);
    let platform = TestPlatform::start_with(config).await;
    let destination = unique_phone_number();
    let (_, password) = platform
        .create_account(&destination, CodeChannel::Sms)
        .await;
    platform
        .sign_in_for_tokens(&destination, &password, test_device("phone-2"))
        .await;

    redis.kill();
    let started = Instant::now();
    let result = platform
        .sign_in(&destination, &password, test_device("phone-3"))
        .await;
    let took = started.elapsed();
    eprintln!(
        "redis outage: SignIn answered {:?} in {took:?}",
        result.as_ref().map(|_| ()).map_err(tonic::Status::code)
    );
    assert_unavailable("SignIn while Redis is down", result, took);
    let started = Instant::now();
    let result = platform
        .verification()
        .await
        .create_captcha(CreateCaptchaRequest {})
        .await;
    assert_unavailable(
        "CreateCaptcha while Redis is down",
        result,
        started.elapsed(),
    );

    redis.restart().await;
    let (result, recovered) = until_recovered("SignIn", || {
        platform.sign_in(&destination, &password, test_device("phone-4"))
    })
    .await;
    eprintln!(
        "redis outage: SignIn answered {:?} {recovered:?} after Redis came back",
        result.as_ref().map(|_| ()).map_err(tonic::Status::code)
    );
    assert!(result.is_ok(), "SignIn after Redis came back: {result:?}");
}

/// A platform started while PostgreSQL is down waits for it, and serves once it is back with
/// nobody restarting it (it used to exit at once: a replica started during an outage needed
/// whatever restarts processes).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_platform_started_during_a_postgres_outage_comes_up_once_it_is_back() {
    let (mut proxy, through_proxy) = crate::proxy::in_front_of(&testing::postgres_url()).await;
    proxy.cut();
    let config = TestConfig::new(Backends::Servers).with_value("postgres.url", through_proxy);
    let platform = TestPlatform::start_with(config).await;
    // Several failed connections and their backoff. A platform that gave up meanwhile never
    // serves below, and `stop` names its error.
    tokio::time::sleep(Duration::from_secs(2)).await;

    proxy.resume().await;
    let back_at = Instant::now();
    let mut health =
        HealthClient::new(crate::support::channel(platform.addresses.verification).await);
    loop {
        let mut request = tonic::Request::new(HealthCheckRequest {
            service: String::new(),
        });
        request.set_timeout(Duration::from_secs(1));
        let serving = health
            .check(request)
            .await
            .is_ok_and(|answer| answer.into_inner().status == ServingStatus::Serving as i32);
        if serving {
            break;
        }
        assert!(
            back_at.elapsed() < RECOVERS_WITHIN,
            "not serving {RECOVERS_WITHIN:?} after PostgreSQL came up"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!(
        "started during a PostgreSQL outage: serving {:?} after it came up",
        back_at.elapsed()
    );
    // And it works: a code is sent, which writes the database.
    let sent = platform
        .sign_up(&unique_phone_number(), CodeChannel::Sms)
        .await;
    assert!(!sent.verification_id.is_empty());
    platform.stop().await;
}
