//! The identity path under the same faults: sign-ups across the identity replicas, each with a
//! device, whose `SignedUp` event must link that device in the device registry.
//!
//! Sign-up tokens are minted with the verification service's signing seed, as the load
//! generator does: the SMS path is what the SendCode load already drives.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mi_contracts::{Channel as CodeChannel, Purpose};
use mi_platform::auth::{
    VERIFICATION_TOKEN_AUDIENCE, VERIFICATION_TOKEN_ISSUER, VerificationClaims,
};
use mi_platform::crypto::SecretKey;
use mi_platform::tokens::TokenSigner;
use mi_proto::common::v1::DeviceInfo;
use mi_proto::device::v1::ListDevicesRequest;
use mi_proto::device::v1::device_registry_service_client::DeviceRegistryServiceClient;
use mi_proto::identity::v1::SignUpRequest;
use mi_proto::identity::v1::identity_service_client::IdentityServiceClient;
use tonic::transport::Channel;

use crate::steady::{Answers, CALL_DEADLINE, at_rate};

/// The legal documents' version the suite configures, which every sign-up accepts.
pub(crate) const DOCUMENTS_VERSION: &str = "faults";
/// An account a sign-up made, how to sign in to it, and the device it signed up on.
#[derive(Debug, Clone)]
pub(crate) struct SignedUp {
    pub email: String,
    pub password: String,
    pub access_token: String,
    pub device_id: String,
}

/// Signs up at a steady rate across the identity replicas, and reads the device registry.
#[derive(Clone)]
pub(crate) struct SignUpLoad {
    identity: Arc<Vec<IdentityServiceClient<Channel>>>,
    registry: Arc<Vec<DeviceRegistryServiceClient<Channel>>>,
    signer: Arc<TokenSigner>,
    run_id: String,
    next_account: Arc<AtomicU64>,
}

/// A client channel to a replica that connects on first use and again after a restart.
pub(crate) fn lazy(url: &str) -> Channel {
    Channel::from_shared(url.to_owned())
        .expect("replica url")
        .connect_timeout(Duration::from_secs(1))
        .connect_lazy()
}

impl SignUpLoad {
    pub(crate) fn new(
        identity_urls: &[String],
        registry_urls: &[String],
        verification_seed: &SecretKey,
        run_id: &str,
    ) -> Self {
        Self {
            identity: Arc::new(
                identity_urls
                    .iter()
                    .map(|url| IdentityServiceClient::new(lazy(url)))
                    .collect(),
            ),
            registry: Arc::new(
                registry_urls
                    .iter()
                    .map(|url| DeviceRegistryServiceClient::new(lazy(url)))
                    .collect(),
            ),
            signer: Arc::new(
                TokenSigner::from_seed(verification_seed, None).expect("a signing key"),
            ),
            run_id: run_id.to_owned(),
            next_account: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Signs up `per_second` accounts a second for `lasting`, then waits for the answers.
    pub(crate) async fn run(&self, per_second: u32, lasting: Duration) -> Answers<SignedUp> {
        at_rate("SignUp", per_second, lasting, || {
            let number = self.next_account.fetch_add(1, Ordering::Relaxed);
            let replica = usize::try_from(number).expect("a count") % self.identity.len();
            let mut client = self.identity[replica].clone();
            let email = format!("faults-{}-{number}@example.com", self.run_id);
            let device_id = format!("faults-phone-{number}");
            let password = format!("Tangerine-Orbit-{number}");
            let request = self.request(&email, &password, &device_id, number);
            async move {
                let reply = client.sign_up(request).await?;
                Ok(SignedUp {
                    email,
                    password,
                    access_token: reply
                        .into_inner()
                        .tokens
                        .map(|tokens| tokens.access_token)
                        .unwrap_or_default(),
                    device_id,
                })
            }
        })
        .await
    }

    /// `count` accounts signed up now (through a few rounds at `count` a second if some are
    /// refused), for the phones the command load rings; they count in no fault's row.
    pub(crate) async fn accounts(&self, count: usize) -> Vec<SignedUp> {
        let per_second = u32::try_from(count).expect("a few phones");
        let mut accounts = Vec::new();
        for _ in 0..30 {
            let sign_ups = self.run(per_second, Duration::from_secs(1)).await;
            accounts.extend(sign_ups.accepted);
            if accounts.len() >= count {
                accounts.truncate(count);
                return accounts;
            }
        }
        panic!(
            "only {} of {count} sign-ups for the phones answered OK",
            accounts.len()
        );
    }

    /// Whether the registry lists the account's sign-up device; asks each replica in turn
    /// (one may be down), and says no if none answers.
    pub(crate) async fn linked(&self, account: &SignedUp) -> bool {
        for registry in self.registry.iter() {
            let mut request = tonic::Request::new(ListDevicesRequest::default());
            request.set_timeout(CALL_DEADLINE);
            request.metadata_mut().insert(
                "authorization",
                format!("Bearer {}", account.access_token)
                    .parse()
                    .expect("a header value"),
            );
            if let Ok(reply) = registry.clone().list_devices(request).await {
                return reply.into_inner().devices.iter().any(|device| {
                    device
                        .info
                        .as_ref()
                        .is_some_and(|info| info.device_id == account.device_id)
                });
            }
        }
        false
    }

    fn request(
        &self,
        email: &str,
        password: &str,
        device_id: &str,
        number: u64,
    ) -> tonic::Request<SignUpRequest> {
        let mut request = tonic::Request::new(SignUpRequest {
            verification_token: self.sign_up_token(email),
            password: password.to_owned(),
            region: "CN".into(),
            locale: "en".into(),
            display_name: String::new(),
            accepted_terms_version: DOCUMENTS_VERSION.into(),
            accepted_privacy_policy_version: DOCUMENTS_VERSION.into(),
            device: Some(DeviceInfo {
                device_id: device_id.to_owned(),
                model: "Redmi Note 13".into(),
                os: "HyperOS 2.0".into(),
                name: "Fault suite phone".into(),
                ..DeviceInfo::default()
            }),
        });
        request.set_timeout(CALL_DEADLINE);
        let address = format!("10.88.{}.{}", (number >> 8) & 0xff, number & 0xff);
        request
            .metadata_mut()
            .insert("x-forwarded-for", address.parse().expect("an address"));
        request
    }

    /// A sign-up verification token for `email`, as the verification service issues one after
    /// CheckCode, valid for 10 minutes.
    fn sign_up_token(&self, email: &str) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs();
        let now = i64::try_from(now).expect("a time");
        self.signer
            .sign(&VerificationClaims {
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
            .expect("sign a token")
    }
}
