//! Issue 13's fault suite: the four services as separate processes, two replicas each, on
//! PostgreSQL and Redis (each through a proxy the test cuts) and a durable tansu broker, under
//! steady SendCode, sign-up and Find Device command load, with one fault after another: the
//! broker paused, the broker killed and restarted, each service's replica SIGKILLed and
//! restarted, Redis cut, PostgreSQL cut, and finally one replica of each service killed for
//! good.
//!
//! After each fault the load stops and the suite waits (bounded, touching no process) until
//! the SMS provider, an HTTP receiver in the test, has received every accepted code, every
//! signed-up device is linked, and every accepted command was run by its phone and
//! acknowledged. It prints a table (fault | accepted | delivered | duplicated | lost | drain
//! time | … | commands | …) and fails on any lost or duplicated code, any lost command or
//! command run twice, or any fault that did not drain by itself.
//!
//! The short version (the default, for CI) runs a few faults under light load;
//! `MI_FAULTS_FULL=1` runs every fault under 40 SendCode/s (docs/faults.md).

use std::time::{Duration, Instant};

use mi_platform::crypto::SecretKey;
use mi_platform::tokens::TokenSigner;
use mi_test_support as testing;
use secrecy::ExposeSecret;

use crate::cluster::{Cluster, Service, Settings};
use crate::command_load::{CommandLoad, IssuedCommand};
use crate::proxy::{CuttableProxy, in_front_of};
use crate::send_load::SendLoad;
use crate::sign_up_load::{DOCUMENTS_VERSION, SignUpLoad, SignedUp};
use crate::support::providers::{ProviderBehavior, SmsProvider};
use crate::tally::{Row, table};
use crate::tansu::DurableTansu;

/// One thing that breaks.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// SIGSTOP, then SIGCONT.
    BrokerPause,
    /// SIGKILL, then a new broker on the same storage.
    BrokerRestart,
    /// SIGKILL of the first replica, then a new process.
    ServiceRestart(Service),
    /// The proxy to Redis closes every connection and refuses new ones, then opens again.
    RedisOutage,
    /// Likewise for PostgreSQL.
    PostgresOutage,
    /// SIGKILL of the second replica of every service, never restarted.
    ReplicasLost,
}

impl Fault {
    fn name(self) -> String {
        match self {
            Self::BrokerPause => "broker paused (SIGSTOP/SIGCONT)".into(),
            Self::BrokerRestart => "broker SIGKILLed and restarted".into(),
            Self::ServiceRestart(service) => {
                format!("{} replica SIGKILLed and restarted", service.section())
            }
            Self::RedisOutage => "Redis cut and back".into(),
            Self::PostgresOutage => "PostgreSQL cut and back".into(),
            Self::ReplicasLost => "one replica of each service killed for good".into(),
        }
    }
}

/// Every fault, in order; losing replicas for good comes last.
const FULL: [Fault; 9] = [
    Fault::BrokerPause,
    Fault::BrokerRestart,
    Fault::ServiceRestart(Service::Identity),
    Fault::ServiceRestart(Service::Verification),
    Fault::ServiceRestart(Service::Notification),
    Fault::ServiceRestart(Service::Device),
    Fault::RedisOutage,
    Fault::PostgresOutage,
    Fault::ReplicasLost,
];

/// CI's selection: faults that drain within seconds, among them a device-registry replica
/// restarted, so that phones move to the other replica and back. Losing a replica for good is
/// left to the full run: on tansu 0.6.0 with its `postgres` storage the survivor's ListOffsets
/// fails (docs/faults.md) and the lost replica's partitions were not drained.
const SHORT: [Fault; 5] = [
    Fault::BrokerPause,
    Fault::ServiceRestart(Service::Notification),
    Fault::ServiceRestart(Service::Device),
    Fault::RedisOutage,
    Fault::PostgresOutage,
];

/// How hard and how long each fault is driven.
#[derive(Debug, Clone, Copy)]
struct Pace {
    sends_per_second: u32,
    sign_ups_per_second: u32,
    /// Phones with their command channel open, and the Ring commands their owners issue.
    phones: usize,
    commands_per_second: u32,
    /// Load before the fault.
    before: Duration,
    /// How long the fault lasts (the restart of a process adds its start time).
    held: Duration,
    /// Load after the fault is healed.
    after: Duration,
    /// How long the platform gets to deliver everything once the load stops.
    drain_within: Duration,
}

const FULL_PACE: Pace = Pace {
    sends_per_second: 40,
    sign_ups_per_second: 2,
    phones: 8,
    commands_per_second: 4,
    before: Duration::from_secs(5),
    held: Duration::from_secs(15),
    after: Duration::from_secs(10),
    drain_within: Duration::from_secs(120),
};

const SHORT_PACE: Pace = Pace {
    sends_per_second: 20,
    sign_ups_per_second: 2,
    phones: 4,
    commands_per_second: 2,
    before: Duration::from_secs(1),
    held: Duration::from_secs(3),
    after: Duration::from_secs(2),
    drain_within: Duration::from_secs(60),
};

/// Everything the faults act on.
struct World {
    broker: DurableTansu,
    postgres: CuttableProxy,
    redis: CuttableProxy,
    cluster: Cluster,
}

impl World {
    fn break_down(&mut self, fault: Fault) {
        match fault {
            Fault::BrokerPause => self.broker.pause(),
            Fault::BrokerRestart => self.broker.kill(),
            Fault::ServiceRestart(service) => self.cluster.replica(service, 0).kill(),
            Fault::RedisOutage => self.redis.cut(),
            Fault::PostgresOutage => self.postgres.cut(),
            Fault::ReplicasLost => {
                for service in Service::ALL {
                    self.cluster.replica(service, 1).kill();
                }
            }
        }
    }

    async fn heal(&mut self, fault: Fault) {
        match fault {
            Fault::BrokerPause => self.broker.unpause(),
            Fault::BrokerRestart => self.broker.restart().await,
            Fault::ServiceRestart(service) => {
                let settings = self.cluster.settings.clone();
                self.cluster.replica(service, 0).start(&settings).await;
            }
            Fault::RedisOutage => self.redis.resume().await,
            Fault::PostgresOutage => self.postgres.resume().await,
            Fault::ReplicasLost => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_fault_drains_by_itself_without_loss_or_duplicates() {
    let full = std::env::var("MI_FAULTS_FULL").is_ok_and(|value| value == "1");
    let (faults, pace): (&[Fault], Pace) = if full {
        (&FULL, FULL_PACE)
    } else {
        (&SHORT, SHORT_PACE)
    };
    let run_id = testing::unique_name("");
    let broker = DurableTansu::start().await;
    let (postgres, postgres_url) = in_front_of(&testing::postgres_url()).await;
    let (redis, redis_url) = in_front_of(&testing::redis_url()).await;
    let provider = SmsProvider::start(ProviderBehavior::Accept).await;
    let verification_seed = SecretKey::generate();
    let servers = Servers {
        postgres_url: &postgres_url,
        redis_url: &redis_url,
        broker: &broker,
        provider: &provider,
    };
    let settings = settings(&run_id, &servers, &verification_seed);
    let started = Instant::now();
    let cluster = Cluster::start(settings, &run_id).await;
    eprintln!(
        "replicas: {} replicas of 4 services started in {:?}",
        Cluster::REPLICAS,
        started.elapsed()
    );
    let load = SendLoad::new(&cluster.urls(Service::Verification));
    let sign_up_load = SignUpLoad::new(
        &cluster.urls(Service::Identity),
        &cluster.urls(Service::Device),
        &verification_seed,
        &run_id,
    );
    let mut world = World {
        broker,
        postgres,
        redis,
        cluster,
    };

    load.warm_up(Duration::from_secs(60)).await;
    let phones_started = Instant::now();
    let command_load = CommandLoad::start(
        &world.cluster.urls(Service::Identity),
        &world.cluster.urls(Service::Device),
        &sign_up_load.accounts(pace.phones).await,
        Duration::from_secs(60),
    )
    .await;
    eprintln!(
        "replicas: {} phones signed in with Find Device on and their channels open in {:?}",
        pace.phones,
        phones_started.elapsed()
    );
    let mut measured = Vec::new();
    for fault in faults {
        let lasting = pace.before + pace.held + pace.after;
        let (mut sent, sign_ups, issued, ()) = tokio::join!(
            load.run(pace.sends_per_second, lasting),
            sign_up_load.run(pace.sign_ups_per_second, lasting),
            command_load.run(pace.commands_per_second, lasting),
            async {
                tokio::time::sleep(pace.before).await;
                world.break_down(*fault);
                tokio::time::sleep(pace.held).await;
                world.heal(*fault).await;
            }
        );
        let (drain, linked) = drained(
            &provider,
            &sent.accepted,
            (&sign_up_load, sign_ups.accepted.as_slice()),
            (&command_load, issued.accepted.as_slice()),
            pace.drain_within,
        )
        .await;
        eprintln!(
            "replicas: {}: {} codes accepted, {linked} of {} sign-ups linked, {} commands \
             accepted, drained {drain:?}",
            fault.name(),
            sent.accepted.len(),
            sign_ups.accepted.len(),
            issued.accepted.len()
        );
        sent.refused.extend(sign_ups.refused);
        sent.refused.extend(issued.refused);
        let identity = (sign_ups.accepted.len(), linked);
        measured.push((fault.name(), sent, identity, issued.accepted, drain));
    }

    // Counted at the end, so that a code delivered twice, or a command run twice, long after
    // its fault still shows.
    let requests = provider.requests();
    let mut rows = Vec::new();
    for (fault, sent, identity, commands, drain) in measured {
        rows.push(Row::count(
            fault,
            (sent.accepted.as_slice(), requests.as_slice()),
            identity,
            command_load.count(&commands).await,
            sent.refused,
            drain,
        ));
    }
    eprintln!(
        "replicas ({}, {} SendCode/s, each fault held {:?}):\n{}",
        if full { "full" } else { "short" },
        pace.sends_per_second,
        pace.held,
        table(&rows)
    );
    let failed: Vec<&str> = rows
        .iter()
        .filter(|row| row.failed())
        .map(|row| row.fault.as_str())
        .collect();
    assert!(
        failed.is_empty(),
        "codes or commands lost, duplicated or not drained after: {failed:?} (table above; \
         replica logs under {}/{run_id}-*.log)",
        std::env::temp_dir().display()
    );
    assert!(
        rows.iter()
            .all(|row| row.accepted > 0 && row.commands.accepted > 0),
        "a fault accepted no SendCode or no IssueCommand at all: the load did not reach the \
         services"
    );
}

/// Waits until the provider has received every accepted destination's code, the registry
/// lists every signed-up account's device, and every accepted command was run by its phone
/// and shows succeeded; how long that took (`None` if it did not happen `within`), and how
/// many devices were linked.
async fn drained(
    provider: &SmsProvider,
    accepted: &[String],
    (sign_up_load, signed_up): (&SignUpLoad, &[SignedUp]),
    (command_load, commands): (&CommandLoad, &[IssuedCommand]),
    within: Duration,
) -> (Option<Duration>, usize) {
    let since = Instant::now();
    let mut unlinked: Vec<&SignedUp> = signed_up.iter().collect();
    loop {
        let received: std::collections::HashSet<String> = provider
            .requests()
            .into_iter()
            .filter_map(|request| request.body["destination"].as_str().map(str::to_owned))
            .collect();
        let mut still_unlinked = Vec::new();
        for account in unlinked {
            if !sign_up_load.linked(account).await {
                still_unlinked.push(account);
            }
        }
        unlinked = still_unlinked;
        let linked = signed_up.len() - unlinked.len();
        if unlinked.is_empty()
            && accepted
                .iter()
                .all(|destination| received.contains(destination))
            && command_load.settled(commands).await
        {
            return (Some(since.elapsed()), linked);
        }
        if since.elapsed() > within {
            return (None, linked);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The servers the services reach, each as the test set it up.
struct Servers<'a> {
    postgres_url: &'a str,
    redis_url: &'a str,
    broker: &'a DurableTansu,
    provider: &'a SmsProvider,
}

/// A server-mode configuration of the whole platform, as a deployment sets it, with the test's
/// own names, the proxies' URLs, the durable broker and the HTTP SMS provider; limits opened
/// for load from one machine (each call claims its own client address).
fn settings(run_id: &str, servers: &Servers<'_>, verification_seed: &SecretKey) -> Settings {
    let key = || SecretKey::generate().to_base64().expose_secret().to_owned();
    let public_key = |seed: &SecretKey| {
        let signer = TokenSigner::from_seed(seed, None).expect("a signing key");
        format!("[\"{}\"]", signer.public_key())
    };
    let identity_seed = SecretKey::generate();
    Settings::default()
        .set("MI_POSTGRES__URL", servers.postgres_url)
        .set("MI_POSTGRES__DATABASE_PREFIX", format!("t_{run_id}_"))
        .set("MI_POSTGRES__MAX_CONNECTIONS", "4")
        .set("MI_POSTGRES__ACQUIRE_TIMEOUT", "1s")
        .set("MI_KAFKA__BROKERS", servers.broker.brokers())
        .set("MI_KAFKA__TOPIC_PREFIX", format!("t.{run_id}."))
        .set("MI_KAFKA__MESSAGE_TIMEOUT", "10s")
        .set("MI_KAFKA__SESSION_TIMEOUT", "6s")
        .set("MI_REDIS__URL", servers.redis_url)
        .set("MI_REDIS__KEY_PREFIX", format!("t:{run_id}:"))
        .set("MI_REDIS__TIMEOUT", "1s")
        .set("MI_OUTBOX__POLL_INTERVAL", "100ms")
        .set("MI_OUTBOX__MAX_BACKOFF", "2s")
        .set(
            "MI_TELEMETRY__LOG_FILTER",
            "warn,librdkafka=off,rdkafka=off",
        )
        .set("MI_CODE_ENCRYPTION_KEY", key())
        .set("MI_SEND_TOKEN_KEY", key())
        // Email stays in the dev inbox; SMS goes to the provider.
        .set("MI_DEV__ALLOW_DEV_INBOX", "true")
        .set("MI_NOTIFICATION__SMS_TRANSPORT", "http")
        .set(
            "MI_NOTIFICATION__HTTP_PROVIDER__URL",
            servers.provider.url.as_str(),
        )
        .set("MI_VERIFICATION__CODE_HASH_KEY", key())
        .set(
            "MI_VERIFICATION__TOKEN__SIGNING_KEY",
            verification_seed.to_base64().expose_secret(),
        )
        .set("MI_VERIFICATION__TRUSTED_PROXY_HEADER", "x-forwarded-for")
        .set("MI_VERIFICATION__TRUSTED_PROXIES", "[\"127.0.0.1/32\"]")
        .set("MI_VERIFICATION__CAPTCHA__RISK_THRESHOLD", "1000000000")
        .set("MI_VERIFICATION__LIMITS__COUNTRY_PER_HOUR", "1000000000")
        .set("MI_VERIFICATION__LIMITS__GLOBAL_PER_HOUR", "1000000000")
        .set(
            "MI_IDENTITY__VERIFICATION_PUBLIC_KEYS",
            public_key(verification_seed),
        )
        // The phones' owners issue commands with the access tokens of their sign-ups, made
        // before the first fault; the full run lasts longer than the default 15 minutes.
        .set("MI_IDENTITY__TOKENS__ACCESS_TTL", "1h")
        .set(
            "MI_IDENTITY__TOKENS__SIGNING_KEY",
            identity_seed.to_base64().expose_secret(),
        )
        .set("MI_IDENTITY__PASSWORD__PEPPER", key())
        .set("MI_IDENTITY__TOTP_ENCRYPTION_KEY", key())
        // Hashing on threads: a SIGKILLed replica leaves no worker processes behind.
        .set("MI_IDENTITY__PASSWORD__HASH_PROCESSES", "false")
        .set("MI_IDENTITY__PASSWORD__ARGON2__MEMORY_KIB", "7168")
        .set("MI_IDENTITY__PASSWORD__ARGON2__ITERATIONS", "5")
        .set("MI_IDENTITY__TRUSTED_PROXY_HEADER", "x-forwarded-for")
        .set("MI_IDENTITY__TRUSTED_PROXIES", "[\"127.0.0.1/32\"]")
        .set("MI_IDENTITY__LEGAL__TERMS__VERSION", DOCUMENTS_VERSION)
        .set(
            "MI_IDENTITY__LEGAL__TERMS__URLS__EN",
            "https://legal.example/terms",
        )
        .set(
            "MI_IDENTITY__LEGAL__PRIVACY_POLICY__VERSION",
            DOCUMENTS_VERSION,
        )
        .set(
            "MI_IDENTITY__LEGAL__PRIVACY_POLICY__URLS__EN",
            "https://legal.example/privacy",
        )
        .set("MI_DEVICE__ACCESS_TOKEN_KEYS", public_key(&identity_seed))
}
