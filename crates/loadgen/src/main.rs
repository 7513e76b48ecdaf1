//! `mi-loadgen`: drives mi-account RPCs with concurrent clients and prints throughput and
//! p50/p99/p999 latency. Scenarios are added here as the services grow.
//!
//! The platform under test must let the load through its fraud guard: run it with
//! `MI_VERIFICATION__TRUSTED_PROXY_HEADER=x-forwarded-for` and
//! `MI_VERIFICATION__TRUSTED_PROXIES='["127.0.0.1/32"]'` (each request claims its own client
//! address), a high `MI_VERIFICATION__CAPTCHA__RISK_THRESHOLD` and high limits; see
//! docs/benchmarks.md for the exact settings.
//!
//! The identity scenarios create their accounts first (untimed) with sign-up verification
//! tokens minted from the verification service's signing seed
//! (`MI_VERIFICATION__TOKEN__SIGNING_KEY`, or the development key of embedded mode); identity
//! must trust its public key (`--print-verification-public-key` prints it as `kid:x`).

mod argon2_baseline;
mod cpu;
mod driver;
mod find_device;
mod identity;
mod locations;
mod phones;
mod provider;
mod verification;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use tonic::transport::Channel;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Scenario {
    /// SendCode to a new destination each call.
    SendCode,
    /// CheckCode with the right code, on codes sent (untimed) before the run.
    CheckCode,
    /// From SendCode's reply until the message is in the dev inbox.
    CodeToInbox,
    /// SendCode at `--rate` per second (open loop), timed from its reply until the SMS provider
    /// mi-loadgen plays (`--provider-listen`) receives the message.
    CodeToProvider,
    /// No RPC: times Argon2id hashes (identity's parameters) on one thread, prints the sign-in
    /// bound that hashing sets (cores ÷ time of one hash) and what all cores hash at once.
    Argon2Baseline,
    /// SignIn with the right password, each client on its own account (made before the run).
    SignIn,
    /// RefreshSession, each client on its own session, always with its newest refresh token.
    RefreshSession,
    /// GetAccount with a bearer access token.
    GetAccount,
    /// SignIn clients (`--concurrency`) and GetAccount clients (`--readers`) at once; one report
    /// each.
    SignInAndGetAccount,
    /// ReportLocations, each client from its own device (enrolled with its key and with Find
    /// Device turned on before the run), a new device token per call.
    ReportLocations,
    /// `--devices` phones keep their command channels open (to `--device-replica` if given);
    /// owners ring them (at `--rate`, or from `--concurrency` clients), timed until the phone
    /// receives it.
    CommandToDevice,
    /// `--devices` phones open their command channels and stay idle for `--seconds`; prints
    /// the platform's RSS growth (`--platform-pid`) per channel.
    IdleChannels,
    /// Owners ring `--devices` phones that are not connected, timed until the push provider
    /// (this program on `--push-listen`) is asked to wake the phone.
    CommandToPush,
}

#[derive(Debug, Parser)]
#[command(version, about = "Load generator for mi-account")]
struct Args {
    /// What to drive.
    #[arg(long, value_enum, default_value = "send-code")]
    scenario: Scenario,
    /// The verification service.
    #[arg(long, default_value = "http://127.0.0.1:50052")]
    verification: String,
    /// The notification service (dev inbox).
    #[arg(long, default_value = "http://127.0.0.1:50053")]
    notification: String,
    /// Concurrent clients.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// HTTP/2 connections the clients share.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// How long to run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// For check-code: how many codes to prepare (and check at most).
    #[arg(long, default_value_t = 20_000)]
    prepared: u64,
    /// The identity service.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    identity: String,
    /// For identity scenarios: accounts to create before the run.
    #[arg(long, default_value_t = 64)]
    accounts: usize,
    /// The device registry.
    #[arg(long, default_value = "http://127.0.0.1:50054")]
    device: String,
    /// For the command and channel scenarios: phones to enroll (untimed) and use.
    #[arg(long, default_value_t = 1000)]
    devices: usize,
    /// For command-to-device and idle-channels: the device registry replica the phones
    /// connect to (default `--device`); owners always call `--device`.
    #[arg(long)]
    device_replica: Option<String>,
    /// For command-to-push: where to listen as the push provider
    /// (`MI_NOTIFICATION__PUSH_PROVIDER__URL` must point here).
    #[arg(long, default_value = "127.0.0.1:50099")]
    push_listen: std::net::SocketAddr,
    /// For report-locations: locations per ReportLocations call (1 to 100).
    #[arg(long, default_value_t = 1)]
    locations_per_call: usize,
    /// For sign-in-and-get-account: GetAccount clients (beside `--concurrency` sign-in clients).
    #[arg(long, default_value_t = 4)]
    readers: usize,
    /// For get-account and sign-in-and-get-account: GetAccount calls per second in total;
    /// 0 sends each call as soon as the previous one of its client is answered.
    #[arg(long, default_value_t = 0.0)]
    read_rate: f64,
    /// Calls per second, sent on time whatever the answers take (an open loop). For
    /// code-to-provider (SendCode; 500 unless given), command-to-device and command-to-push
    /// (IssueCommand; without it, `--concurrency` owners each ring as soon as their last ring
    /// arrived, which measures the saturation point).
    #[arg(long)]
    rate: Option<f64>,
    /// For code-to-provider: where the HTTP SMS provider listens (notification's
    /// `MI_NOTIFICATION__HTTP_PROVIDER__URL` must point here, with `SMS_TRANSPORT=http`).
    #[arg(long, default_value_t = provider::DEFAULT_LISTEN)]
    provider_listen: std::net::SocketAddr,
    /// For argon2-baseline: hashes to time on one thread (and on each core at once).
    #[arg(long, default_value_t = 20)]
    hashes: usize,
    /// The verification service's token signing seed (base64, 32 bytes), to mint sign-up
    /// tokens; without it, the development key of embedded mode (`--dev-key-file`).
    #[arg(
        long,
        env = "MI_VERIFICATION__TOKEN__SIGNING_KEY",
        hide_env_values = true
    )]
    verification_signing_key: Option<String>,
    /// Embedded mode's development verification key.
    #[arg(long, default_value = "data/dev-keys/verification-token.key")]
    dev_key_file: PathBuf,
    /// Print the public key (`kid:x`) of the verification signing key for
    /// `MI_IDENTITY__VERIFICATION_PUBLIC_KEYS`, and exit.
    #[arg(long)]
    print_verification_public_key: bool,
    /// The platform's process id: identity scenarios then also print the CPU it used during
    /// the timed run (and every scenario how busy the machine was).
    #[arg(long)]
    platform_pid: Option<u32>,
}

async fn channels_to(endpoint: &str, count: usize) -> anyhow::Result<Vec<Channel>> {
    let mut channels = Vec::with_capacity(count);
    for _ in 0..count.max(1) {
        channels.push(Channel::from_shared(endpoint.to_owned())?.connect().await?);
    }
    Ok(channels)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.print_verification_public_key {
        let minter = identity::TokenMinter::new(
            args.verification_signing_key.as_deref(),
            &args.dev_key_file,
        )?;
        #[allow(clippy::print_stdout)] // the key is this mode's output
        {
            println!("{}", minter.public_key());
        }
        return Ok(());
    }
    let name = format!("{:?}", args.scenario);
    let duration = Duration::from_secs(args.seconds);
    cpu::watch(args.platform_pid);
    match args.scenario {
        Scenario::SendCode | Scenario::CheckCode | Scenario::CodeToInbox => {
            verification::scenario(&args).await?.print(&name);
        }
        Scenario::CodeToProvider => provider::code_to_provider(&args).await?,
        Scenario::Argon2Baseline => {
            let hashes = args.hashes;
            tokio::task::spawn_blocking(move || argon2_baseline::measure(hashes))
                .await??
                .print();
        }
        Scenario::SignIn => {
            let (channels, accounts) = identity_setup(&args).await?;
            let sample = cpu::Sample::now();
            let report = identity::sign_in(channels, accounts, args.concurrency, duration).await?;
            report.print(&name);
            sample.print_since(report.succeeded);
        }
        Scenario::RefreshSession => {
            let (channels, accounts) = identity_setup(&args).await?;
            let sessions =
                identity::prepare_sessions(&channels, &accounts, args.concurrency).await?;
            let sample = cpu::Sample::now();
            let report = identity::refresh_session(channels, sessions, duration).await?;
            report.print(&name);
            sample.print_since(report.succeeded);
        }
        Scenario::GetAccount => {
            let (channels, accounts) = identity_setup(&args).await?;
            let sample = cpu::Sample::now();
            let report = identity::get_account(
                channels,
                access_tokens(&accounts),
                args.concurrency,
                args.read_rate,
                duration,
            )
            .await?;
            report.print(&name);
            sample.print_since(report.succeeded);
        }
        Scenario::SignInAndGetAccount => {
            let (channels, accounts) = identity_setup(&args).await?;
            // The readers get connections of their own, as other devices would.
            let reader_channels = Arc::new(channels_to(&args.identity, args.connections).await?);
            let sample = cpu::Sample::now();
            let (sign_ins, reads) = tokio::join!(
                identity::sign_in(channels, Arc::clone(&accounts), args.concurrency, duration),
                identity::get_account(
                    reader_channels,
                    access_tokens(&accounts),
                    args.readers,
                    args.read_rate,
                    duration,
                ),
            );
            sign_ins?.print(&format!("{name}/SignIn"));
            reads?.print(&format!("{name}/GetAccount"));
            sample.print_since(0);
        }
        Scenario::ReportLocations => {
            let (_, accounts) = identity_setup(&args).await?;
            let channels = Arc::new(channels_to(&args.device, args.connections).await?);
            let phones = phones::prepare(channels[0].clone(), &accounts, args.concurrency).await?;
            let sample = cpu::Sample::now();
            let report =
                locations::report_locations(channels, phones, args.locations_per_call, duration)
                    .await?;
            report.print(&name);
            sample.print_since(report.succeeded);
        }
        Scenario::CommandToDevice | Scenario::CommandToPush => {
            let (owners, accounts, phones) = phones_setup(&args).await?;
            let pace = args
                .rate
                .map_or(driver::Pace::Closed(args.concurrency), driver::Pace::Open);
            let sample = cpu::Sample::now();
            let report = if matches!(args.scenario, Scenario::CommandToDevice) {
                let replica = args.device_replica.as_deref().unwrap_or(&args.device);
                find_device::command_to_device(owners, replica, accounts, phones, pace, duration)
                    .await?
            } else {
                find_device::command_to_push(
                    owners,
                    args.push_listen,
                    accounts,
                    phones,
                    pace,
                    duration,
                )
                .await?
            };
            report.print(&name);
            sample.print_since(report.succeeded);
        }
        Scenario::IdleChannels => {
            let (_, _, phones) = phones_setup(&args).await?;
            find_device::idle_channels(
                args.device_replica.as_deref().unwrap_or(&args.device),
                phones,
                duration,
                cpu::platform_rss,
            )
            .await?;
        }
    }
    Ok(())
}

/// Connections to identity and `--accounts` accounts made on it (untimed).
async fn identity_setup(
    args: &Args,
) -> anyhow::Result<(Arc<Vec<Channel>>, Arc<Vec<identity::Prepared>>)> {
    let accounts = args.accounts;
    anyhow::ensure!(accounts > 0, "--accounts must be at least 1");
    let minter =
        identity::TokenMinter::new(args.verification_signing_key.as_deref(), &args.dev_key_file)?;
    let channels = Arc::new(channels_to(&args.identity, args.connections).await?);
    let accounts =
        identity::prepare_accounts(&channels, minter, accounts, args.concurrency.max(8)).await?;
    Ok((channels, accounts))
}

/// Connections to the device registry, the accounts, and `--devices` phones enrolled on them
/// with Find Device on (untimed).
async fn phones_setup(
    args: &Args,
) -> anyhow::Result<(
    Arc<Vec<Channel>>,
    Arc<Vec<identity::Prepared>>,
    Arc<Vec<phones::Phone>>,
)> {
    let (_, accounts) = identity_setup(args).await?;
    let owners = Arc::new(channels_to(&args.device, args.connections).await?);
    let phones = phones::prepare(owners[0].clone(), &accounts, args.devices).await?;
    Ok((owners, accounts, phones))
}

fn access_tokens(accounts: &[identity::Prepared]) -> Arc<Vec<String>> {
    Arc::new(
        accounts
            .iter()
            .map(|account| account.tokens.access_token.clone())
            .collect(),
    )
}
