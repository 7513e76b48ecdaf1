//! The verification scenarios: SendCode, CheckCode and the time from SendCode to the dev
//! inbox, each call to a destination no other call of the run uses.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mi_proto::common::v1::{Channel as CodeChannel, Purpose};
use mi_proto::notification::v1::notification_service_client::NotificationServiceClient;
use mi_proto::notification::v1::{ListInboxMessagesRequest, MessageKind};
use mi_proto::verification::v1::send_code_request::Target;
use mi_proto::verification::v1::verification_service_client::VerificationServiceClient;
use mi_proto::verification::v1::{CheckCodeRequest, SendCodeRequest};
use rand::Rng;
use tonic::transport::Channel;

use crate::{Args, Scenario, channels_to, driver};

/// A destination no other call of this run uses: a valid Chinese mobile number.
pub(crate) fn destination(run: u32, iteration: u64) -> String {
    format!("+86139{:02}{:06}", run % 100, iteration % 1_000_000)
}

/// A SendCode request from its own client address (the trusted proxy header).
pub(crate) fn send_request(destination: &str, iteration: u64) -> tonic::Request<SendCodeRequest> {
    let mut request = tonic::Request::new(SendCodeRequest {
        target: Some(Target::Destination(destination.to_owned())),
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

/// The verification scenarios.
pub(crate) async fn scenario(args: &Args) -> anyhow::Result<driver::Report> {
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
                                kind: MessageKind::Code.into(),
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
                    kind: MessageKind::Code.into(),
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
