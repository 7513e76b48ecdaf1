//! `mi-loadgen`: drives mi-account RPCs with concurrent clients and prints throughput and
//! p50/p99/p999 latency. Scenarios are added here as the services grow.
//!
//! The platform under test must let the load through its fraud guard: run it with
//! `MI_VERIFICATION__TRUSTED_PROXY_HEADER=x-forwarded-for` (each request claims its own client
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
mod identity;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use mi_proto::common::v1::{Channel as CodeChannel, Purpose};
use mi_proto::notification::v1::ListInboxMessagesRequest;
use mi_proto::notification::v1::notification_service_client::NotificationServiceClient;
use mi_proto::verification::v1::verification_service_client::VerificationServiceClient;
use mi_proto::verification::v1::{CheckCodeRequest, SendCodeRequest};
use rand::Rng;
use tonic::transport::Channel;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Scenario {
    /// SendCode to a new destination each call.
    SendCode,
    /// CheckCode with the right code, on codes sent (untimed) before the run.
    CheckCode,
    /// From SendCode's reply until the message is in the dev inbox.
    CodeToInbox,
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
}

#[derive(Debug, Parser)]
#[command(about = "Load generator for mi-account")]
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
    /// For sign-in-and-get-account: GetAccount clients (beside `--concurrency` sign-in clients).
    #[arg(long, default_value_t = 4)]
    readers: usize,
    /// For get-account and sign-in-and-get-account: GetAccount calls per second in total;
    /// 0 sends each call as soon as the previous one of its client is answered.
    #[arg(long, default_value_t = 0.0)]
    read_rate: f64,
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

/// A destination no other call of this run uses: a valid Chinese mobile number.
fn destination(run: u32, iteration: u64) -> String {
    format!("+86139{:02}{:06}", run % 100, iteration % 1_000_000)
}

/// A SendCode request from its own client address (the trusted proxy header).
fn send_request(destination: &str, iteration: u64) -> tonic::Request<SendCodeRequest> {
    let mut request = tonic::Request::new(SendCodeRequest {
        destination: destination.to_owned(),
        channel: CodeChannel::Sms.into(),
        purpose: Purpose::PasswordReset.into(),
        locale: "en".into(),
        captcha: None,
    });
    let address = format!(
        "10.{}.{}.{}",
        (iteration >> 16) & 0xff,
        (iteration >> 8) & 0xff,
        iteration & 0xff
    );
    if let Ok(value) = address.parse() {
        request.metadata_mut().insert("x-forwarded-for", value);
    }
    request
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
            verification_scenario(&args).await?.print(&name);
        }
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

fn access_tokens(accounts: &[identity::Prepared]) -> Arc<Vec<String>> {
    Arc::new(
        accounts
            .iter()
            .map(|account| account.tokens.access_token.clone())
            .collect(),
    )
}

/// The verification scenarios.
async fn verification_scenario(args: &Args) -> anyhow::Result<driver::Report> {
    let run: u32 = rand::rng().random_range(0..100);
    let verification = Arc::new(channels_to(&args.verification, args.connections).await?);
    let notification = Arc::new(channels_to(&args.notification, args.connections).await?);
    let duration = Duration::from_secs(args.seconds);
    let report = match args.scenario {
        Scenario::SendCode => {
            driver::run(
                args.concurrency,
                duration,
                u64::MAX,
                move |worker, iteration| {
                    let mut client = VerificationServiceClient::new(
                        verification[worker % verification.len()].clone(),
                    );
                    async move {
                        let start = Instant::now();
                        client
                            .send_code(send_request(&destination(run, iteration), iteration))
                            .await
                            .map_err(|status| status.to_string())?;
                        Ok(start.elapsed())
                    }
                },
            )
            .await?
        }
        Scenario::CheckCode => {
            let prepared = Arc::new(
                prepare_codes(
                    &verification,
                    &notification,
                    run,
                    args.prepared,
                    args.concurrency,
                )
                .await?,
            );
            let count = prepared.len() as u64;
            driver::run(
                args.concurrency,
                duration,
                count,
                move |worker, iteration| {
                    let mut client = VerificationServiceClient::new(
                        verification[worker % verification.len()].clone(),
                    );
                    let (verification_id, code) = prepared
                        [usize::try_from(iteration).unwrap_or(usize::MAX) % prepared.len()]
                    .clone();
                    async move {
                        let start = Instant::now();
                        client
                            .check_code(CheckCodeRequest {
                                verification_id,
                                code,
                            })
                            .await
                            .map_err(|status| status.to_string())?;
                        Ok(start.elapsed())
                    }
                },
            )
            .await?
        }
        Scenario::CodeToInbox => {
            driver::run(
                args.concurrency,
                duration,
                u64::MAX,
                move |worker, iteration| {
                    let mut sender = VerificationServiceClient::new(
                        verification[worker % verification.len()].clone(),
                    );
                    let mut inbox = NotificationServiceClient::new(
                        notification[worker % notification.len()].clone(),
                    );
                    async move {
                        let destination = destination(run, iteration);
                        sender
                            .send_code(send_request(&destination, iteration))
                            .await
                            .map_err(|status| status.to_string())?;
                        let replied = Instant::now();
                        loop {
                            let request = ListInboxMessagesRequest {
                                destination: destination.clone(),
                                page_size: 1,
                                page_token: String::new(),
                            };
                            let messages = inbox
                                .list_inbox_messages(request)
                                .await
                                .map_err(|status| status.to_string())?;
                            if !messages.into_inner().messages.is_empty() {
                                return Ok(replied.elapsed());
                            }
                            if replied.elapsed() > Duration::from_secs(30) {
                                return Err("message did not arrive within 30 s".into());
                            }
                            tokio::time::sleep(Duration::from_millis(2)).await;
                        }
                    }
                },
            )
            .await?
        }
        _ => anyhow::bail!("not a verification scenario"),
    };
    Ok(report)
}

/// Sends `count` codes (untimed) and reads each one back from the dev inbox.
async fn prepare_codes(
    verification: &Arc<Vec<Channel>>,
    notification: &Arc<Vec<Channel>>,
    run: u32,
    count: u64,
    concurrency: usize,
) -> anyhow::Result<Vec<(String, String)>> {
    let sent = Arc::new(tokio::sync::Mutex::new(HashMap::new()));
    let verification_channels = Arc::clone(verification);
    let recorder = Arc::clone(&sent);
    // Destinations of this phase are offset so they never collide with another scenario's run.
    let offset = 500_000;
    let report = driver::run(
        concurrency,
        Duration::from_secs(3600),
        count,
        move |worker, iteration| {
            let mut client = VerificationServiceClient::new(
                verification_channels[worker % verification_channels.len()].clone(),
            );
            let recorder = Arc::clone(&recorder);
            async move {
                let start = Instant::now();
                let destination = destination(run, offset + iteration);
                let reply = client
                    .send_code(send_request(&destination, offset + iteration))
                    .await
                    .map_err(|status| status.to_string())?;
                recorder
                    .lock()
                    .await
                    .insert(destination, reply.into_inner().verification_id);
                Ok(start.elapsed())
            }
        },
    )
    .await?;
    anyhow::ensure!(
        report.failed == 0,
        "preparing codes failed: {:?}",
        report.first_error
    );

    let sent = Arc::try_unwrap(sent)
        .map_err(|_| anyhow::anyhow!("prepare still running"))?
        .into_inner();
    let mut inbox = NotificationServiceClient::new(notification[0].clone());
    let mut codes = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while codes.len() < sent.len() && Instant::now() < deadline {
        let mut page_token = String::new();
        loop {
            let page = inbox
                .list_inbox_messages(ListInboxMessagesRequest {
                    destination: String::new(),
                    page_size: 500,
                    page_token,
                })
                .await?
                .into_inner();
            for message in page.messages {
                if let Some(verification_id) = sent.get(&message.destination) {
                    let code: String = message
                        .body
                        .split("code is ")
                        .nth(1)
                        .unwrap_or_default()
                        .chars()
                        .take(6)
                        .collect();
                    codes.insert(verification_id.clone(), code);
                }
            }
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
    }
    anyhow::ensure!(
        codes.len() == sent.len(),
        "only {} of {} codes reached the inbox",
        codes.len(),
        sent.len()
    );
    Ok(codes.into_iter().collect())
}
