//! Identity scenarios: accounts are created untimed first (SignUp with sign-up verification
//! tokens this program mints itself from the verification service's signing seed), then
//! password sign-in, session refresh and GetAccount are driven, alone or side by side.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use mi_contracts::{Channel as CodeChannel, Purpose};
use mi_platform::auth::{
    VERIFICATION_TOKEN_AUDIENCE, VERIFICATION_TOKEN_ISSUER, VerificationClaims,
};
use mi_platform::crypto::SecretKey;
use mi_platform::tokens::TokenSigner;
use mi_proto::common::v1::DeviceInfo;
use mi_proto::identity::v1::identity_service_client::IdentityServiceClient;
use mi_proto::identity::v1::{
    GetAccountRequest, GetLegalDocumentsRequest, LegalDocumentKind, RefreshSessionRequest,
    SessionTokens, SignInRequest, SignUpRequest, sign_in_response,
};
use secrecy::SecretString;
use tokio::sync::Mutex;
use tonic::transport::Channel;

use crate::driver::{self, Report};

/// Mints sign-up verification tokens with the verification service's signing key.
#[derive(Debug)]
pub(crate) struct TokenMinter {
    signer: TokenSigner,
}

impl TokenMinter {
    /// From the base64 seed (`MI_VERIFICATION__TOKEN__SIGNING_KEY`), or else the development
    /// key embedded mode keeps in `dev_key_file`.
    pub(crate) fn new(seed: Option<&str>, dev_key_file: &Path) -> anyhow::Result<Self> {
        let seed = match seed {
            Some(seed) => SecretKey::parse_base64(&SecretString::from(seed.to_owned()))
                .context("invalid verification signing key")?,
            None => {
                let text = std::fs::read_to_string(dev_key_file).with_context(|| {
                    format!(
                        "no --verification-signing-key and no development key in {}",
                        dev_key_file.display()
                    )
                })?;
                SecretKey::parse_base64(&SecretString::from(text))
                    .with_context(|| format!("invalid key in {}", dev_key_file.display()))?
            }
        };
        Ok(Self {
            signer: TokenSigner::from_seed(&seed, None)?,
        })
    }

    /// The public key as `MI_IDENTITY__VERIFICATION_PUBLIC_KEYS` takes it: `kid:x`.
    pub(crate) fn public_key(&self) -> String {
        let key = self.signer.public_key();
        format!("{}:{}", key.key_id, key.x)
    }

    /// A sign-up token for an email address, valid for 10 minutes.
    fn sign_up_token(&self, email: &str) -> anyhow::Result<String> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs();
        let now = i64::try_from(now)?;
        self.signer.sign(&VerificationClaims {
            iss: VERIFICATION_TOKEN_ISSUER.to_owned(),
            aud: VERIFICATION_TOKEN_AUDIENCE.to_owned(),
            sub: email.to_owned(),
            sealed_sub: None,
            jti: uuid::Uuid::new_v4().to_string(),
            iat: now,
            exp: now + 600,
            vid: uuid::Uuid::now_v7().to_string(),
            channel: CodeChannel::Email,
            purpose: Purpose::SignUp,
        })
    }
}

/// An account made for the run, with the session SignUp started.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    /// Its email address, the sign-in identifier.
    pub identifier: String,
    /// Its password.
    pub password: String,
    /// Its first session.
    pub tokens: SessionTokens,
}

/// The device of one load-generator client; the same on every call, so it is a known device
/// after the first sign-in.
fn device(worker: usize) -> DeviceInfo {
    DeviceInfo {
        device_id: format!("loadgen-{worker}"),
        model: "Redmi Note 13".into(),
        os: "HyperOS 2.0".into(),
        name: format!("Load generator {worker}"),
        ..DeviceInfo::default()
    }
}

/// A request from the client's own address (the trusted proxy header), with its bearer token.
fn request<T>(message: T, worker: usize, access_token: Option<&str>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let address = format!("10.77.{}.{}", (worker >> 8) & 0xff, worker & 0xff);
    if let Ok(value) = address.parse() {
        request.metadata_mut().insert("x-forwarded-for", value);
    }
    if let Some(token) = access_token
        && let Ok(value) = format!("Bearer {token}").parse()
    {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

fn client(channels: &[Channel], worker: usize) -> IdentityServiceClient<Channel> {
    IdentityServiceClient::new(channels[worker % channels.len()].clone())
}

/// The tokens of a sign-in that asked for nothing more.
fn signed_in(reply: mi_proto::identity::v1::SignInResponse) -> Result<SessionTokens, String> {
    match reply.result {
        Some(sign_in_response::Result::Tokens(tokens)) => Ok(tokens),
        Some(sign_in_response::Result::Challenge(challenge)) => Err(format!(
            "asked for a second factor ({:?})",
            challenge.reason()
        )),
        Some(sign_in_response::Result::ConsentRequired(_)) => {
            Err("asked to accept new terms (the documents changed during the run)".into())
        }
        None => Err("empty SignInResponse".into()),
    }
}

/// The current terms-of-service and privacy-policy versions, which sign-ups accept.
async fn current_versions(
    client: &mut IdentityServiceClient<Channel>,
) -> anyhow::Result<(String, String)> {
    let documents = client
        .get_legal_documents(GetLegalDocumentsRequest::default())
        .await
        .context("GetLegalDocuments")?
        .into_inner()
        .documents;
    let version = |kind: LegalDocumentKind| {
        documents
            .iter()
            .find(|document| document.kind == i32::from(kind))
            .map(|document| document.version.clone())
            .with_context(|| format!("GetLegalDocuments lists no {kind:?}"))
    };
    Ok((
        version(LegalDocumentKind::TermsOfService)?,
        version(LegalDocumentKind::PrivacyPolicy)?,
    ))
}

/// Creates `count` accounts (untimed), `concurrency` sign-ups at a time.
pub(crate) async fn prepare_accounts(
    channels: &Arc<Vec<Channel>>,
    minter: TokenMinter,
    count: usize,
    concurrency: usize,
) -> anyhow::Result<Arc<Vec<Prepared>>> {
    let tag: u32 = rand::random();
    let (terms, privacy_policy) = current_versions(&mut client(channels, 0)).await?;
    let made = Arc::new(Mutex::new(vec![None; count]));
    let (minter, recorder, channels) = (Arc::new(minter), Arc::clone(&made), Arc::clone(channels));
    let started = Instant::now();
    let report = driver::run(
        concurrency.min(count).max(1),
        Duration::from_secs(3600),
        count as u64,
        move |worker, iteration| {
            let mut client = client(&channels, worker);
            let (minter, recorder) = (Arc::clone(&minter), Arc::clone(&recorder));
            let (terms, privacy_policy) = (terms.clone(), privacy_policy.clone());
            async move {
                let start = Instant::now();
                let index = usize::try_from(iteration).map_err(|error| error.to_string())?;
                let identifier = format!("loadgen-{tag:08x}-{index}@example.com");
                let password = format!("Tangerine-Orbit-{index}");
                let token = minter
                    .sign_up_token(&identifier)
                    .map_err(|error| format!("{error:#}"))?;
                let reply = client
                    .sign_up(request(
                        SignUpRequest {
                            verification_token: token,
                            password: password.clone(),
                            region: "CN".into(),
                            locale: "en".into(),
                            display_name: String::new(),
                            accepted_terms_version: terms,
                            accepted_privacy_policy_version: privacy_policy,
                            device: Some(device(index)),
                        },
                        index,
                        None,
                    ))
                    .await
                    .map_err(|status| status.to_string())?;
                let tokens = reply
                    .into_inner()
                    .tokens
                    .ok_or("SignUp returned no tokens")?;
                recorder.lock().await[index] = Some(Prepared {
                    identifier,
                    password,
                    tokens,
                });
                Ok(start.elapsed())
            }
        },
    )
    .await?;
    anyhow::ensure!(
        report.failed == 0,
        "signing up {count} accounts failed: {:?}",
        report.first_error
    );
    let made: Vec<Prepared> = made.lock().await.iter().flatten().cloned().collect();
    anyhow::ensure!(made.len() == count, "only {} accounts made", made.len());
    #[allow(clippy::print_stdout)] // progress of the untimed setup, before the report
    {
        println!(
            "prepared      {count} accounts in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(Arc::new(made))
}

/// One session per client: the sessions SignUp started, then more sign-ins (untimed) when
/// there are more clients than accounts.
pub(crate) async fn prepare_sessions(
    channels: &Arc<Vec<Channel>>,
    accounts: &[Prepared],
    count: usize,
) -> anyhow::Result<Vec<SessionTokens>> {
    let mut sessions: Vec<SessionTokens> = accounts
        .iter()
        .take(count)
        .map(|account| account.tokens.clone())
        .collect();
    for worker in sessions.len()..count {
        let account = &accounts[worker % accounts.len()];
        let reply = client(channels, worker)
            .sign_in(request(
                SignInRequest {
                    identifier: account.identifier.clone(),
                    password: account.password.clone(),
                    device: Some(device(worker)),
                    ..SignInRequest::default()
                },
                worker,
                None,
            ))
            .await
            .context("preparing a session")?;
        sessions.push(signed_in(reply.into_inner()).map_err(anyhow::Error::msg)?);
    }
    Ok(sessions)
}

/// SignIn with the right password: client `worker` signs in to account `worker % accounts`.
pub(crate) async fn sign_in(
    channels: Arc<Vec<Channel>>,
    accounts: Arc<Vec<Prepared>>,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<Report> {
    driver::run(concurrency, duration, u64::MAX, move |worker, _| {
        let mut client = client(&channels, worker);
        let account = accounts[worker % accounts.len()].clone();
        async move {
            let start = Instant::now();
            let reply = client
                .sign_in(request(
                    SignInRequest {
                        identifier: account.identifier,
                        password: account.password,
                        device: Some(device(worker)),
                        ..SignInRequest::default()
                    },
                    worker,
                    None,
                ))
                .await
                .map_err(|status| status.to_string())?;
            signed_in(reply.into_inner())?;
            Ok(start.elapsed())
        }
    })
    .await
}

/// RefreshSession: each client holds its own session and refreshes it in a loop, always with
/// the newest refresh token.
pub(crate) async fn refresh_session(
    channels: Arc<Vec<Channel>>,
    sessions: Vec<SessionTokens>,
    duration: Duration,
) -> anyhow::Result<Report> {
    let concurrency = sessions.len();
    let refresh_tokens: Arc<Vec<Mutex<String>>> = Arc::new(
        sessions
            .into_iter()
            .map(|session| Mutex::new(session.refresh_token))
            .collect(),
    );
    driver::run(concurrency, duration, u64::MAX, move |worker, _| {
        let mut client = client(&channels, worker);
        let refresh_tokens = Arc::clone(&refresh_tokens);
        async move {
            // Each client is the only user of its slot: the lock is never contended.
            let mut refresh_token = refresh_tokens[worker].lock().await;
            let start = Instant::now();
            let tokens = client
                .refresh_session(request(
                    RefreshSessionRequest {
                        refresh_token: refresh_token.clone(),
                    },
                    worker,
                    None,
                ))
                .await
                .map_err(|status| status.to_string())?;
            let latency = start.elapsed();
            *refresh_token = tokens.into_inner().refresh_token;
            Ok(latency)
        }
    })
    .await
}

/// GetAccount with a bearer access token, client `worker` on session `worker % sessions`.
/// With `rate` > 0 the calls are paced to `rate` per second in total (call `n` is sent at
/// `n / rate` s, or as soon as a client is free); latency is from send to reply.
pub(crate) async fn get_account(
    channels: Arc<Vec<Channel>>,
    access_tokens: Arc<Vec<String>>,
    concurrency: usize,
    rate: f64,
    duration: Duration,
) -> anyhow::Result<Report> {
    let start_of_run = tokio::time::Instant::now();
    driver::run(concurrency, duration, u64::MAX, move |worker, iteration| {
        let mut client = client(&channels, worker);
        let token = access_tokens[worker % access_tokens.len()].clone();
        let send_at =
            (rate > 0.0).then(|| start_of_run + Duration::from_secs_f64(iteration as f64 / rate));
        async move {
            if let Some(send_at) = send_at {
                tokio::time::sleep_until(send_at).await;
            }
            let start = Instant::now();
            client
                .get_account(request(GetAccountRequest {}, worker, Some(&token)))
                .await
                .map_err(|status| status.to_string())?;
            Ok(start.elapsed())
        }
    })
    .await
}
