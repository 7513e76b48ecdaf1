//! Steady SendCode load across the verification replicas, as clients behind a load balancer
//! send it: each call to the next replica in turn, to a destination no other call uses, from a
//! client address of its own (the trusted proxy header), so no limit refuses the load.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mi_proto::common::v1::{Channel as CodeChannel, Purpose};
use mi_proto::verification::v1::SendCodeRequest;
use mi_proto::verification::v1::send_code_request::Target;
use mi_proto::verification::v1::verification_service_client::VerificationServiceClient;
use tonic::transport::Channel;

use crate::steady::{Answers, CALL_DEADLINE, at_rate};

/// Sends SendCode to the verification replicas at a steady rate.
#[derive(Clone)]
pub(crate) struct SendLoad {
    replicas: Arc<Vec<VerificationServiceClient<Channel>>>,
    next_destination: Arc<AtomicU64>,
}

impl SendLoad {
    /// Clients of every replica URL; connections are made lazily and remade after a restart.
    pub(crate) fn new(urls: &[String]) -> Self {
        let replicas = urls
            .iter()
            .map(|url| {
                let channel = Channel::from_shared(url.clone())
                    .expect("replica url")
                    .connect_timeout(Duration::from_secs(1))
                    .connect_lazy();
                VerificationServiceClient::new(channel)
            })
            .collect();
        Self {
            replicas: Arc::new(replicas),
            next_destination: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Sends until every replica has answered one call OK (bounded): the first calls of a cold
    /// replica wait for its pool's connections, which on a busy machine took longer than a
    /// client's deadline, and would otherwise count against the first fault.
    pub(crate) async fn warm_up(&self, within: Duration) {
        let since = tokio::time::Instant::now();
        for replica in self.replicas.iter() {
            loop {
                let number = self.next_destination.fetch_add(1, Ordering::Relaxed);
                let destination = format!("+86139{number:08}");
                let answer = replica
                    .clone()
                    .send_code(request(&destination, number))
                    .await;
                if answer.is_ok() {
                    break;
                }
                assert!(
                    since.elapsed() < within,
                    "no SendCode answered OK within {within:?} of the start: {answer:?}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }

    /// Sends `per_second` calls a second for `lasting`, then waits for their answers: the
    /// destinations accepted.
    pub(crate) async fn run(&self, per_second: u32, lasting: Duration) -> Answers<String> {
        at_rate("SendCode", per_second, lasting, || {
            let number = self.next_destination.fetch_add(1, Ordering::Relaxed);
            let replica = usize::try_from(number).expect("a count") % self.replicas.len();
            let mut client = self.replicas[replica].clone();
            async move {
                let destination = format!("+86139{number:08}");
                client.send_code(request(&destination, number)).await?;
                Ok(destination)
            }
        })
        .await
    }
}

/// A password-reset code (sent whether or not an account exists) by SMS, from client address
/// `10.x.y.z` numbered like the destination.
fn request(destination: &str, number: u64) -> tonic::Request<SendCodeRequest> {
    let mut request = tonic::Request::new(SendCodeRequest {
        target: Some(Target::Destination(destination.to_owned())),
        channel: CodeChannel::Sms.into(),
        purpose: Purpose::PasswordReset.into(),
        locale: "en".into(),
        captcha: None,
    });
    request.set_timeout(CALL_DEADLINE);
    let address = format!(
        "10.{}.{}.{}",
        (number >> 16) & 0xff,
        (number >> 8) & 0xff,
        number & 0xff
    );
    request
        .metadata_mut()
        .insert("x-forwarded-for", address.parse().expect("an address"));
    request
}
