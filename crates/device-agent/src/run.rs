//! Keeping the command channel open: open it, obey each command and acknowledge it, and when
//! it cannot be opened or breaks, try again after a backoff with jitter (so a thousand phones
//! that lost the same registry do not all come back in the same millisecond).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures::StreamExt;
use mi_platform::backoff::Backoff;
use mi_proto::device::v1::channel_message::Message;
use rand::Rng;
use tokio::sync::mpsc::UnboundedSender;
use tonic::Status;

use crate::did::{ActionKind, Did};
use crate::link::CommandLink;
use crate::phone::{Answer, Phone};
use crate::state::StateFile;

/// How `run` behaves.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The waits between reconnection attempts, before jitter.
    pub backoff: Backoff,
    /// Kinds of command to answer "not now" once each (to see the registry retry them).
    pub not_now: Vec<ActionKind>,
    /// How long the channel may stay silent before the agent takes it for dead and connects
    /// again: the registry sends a heartbeat every 30 s, and a connection that died without a
    /// word (a NAT that forgot it) would otherwise be waited on forever.
    pub silence_limit: Duration,
}

impl Default for RunOptions {
    /// From half a second up to a minute, as a phone on a flaky network would.
    fn default() -> Self {
        Self {
            backoff: Backoff {
                first: Duration::from_millis(500),
                max: Duration::from_secs(60),
            },
            not_now: Vec::new(),
            silence_limit: Duration::from_secs(75),
        }
    }
}

/// Why `run` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// Asked to stop.
    Stopped,
    /// The phone was erased: the erase is acknowledged and the state file deleted.
    Erased,
}

/// How one connection ended.
enum Session {
    Stopped,
    Erased,
    Broke(String),
}

/// Runs the command channel over `link` until `stop` completes or the phone is erased.
pub(crate) async fn run_until<L: CommandLink>(
    link: &mut L,
    file: &StateFile,
    options: &RunOptions,
    stop: impl Future<Output = ()>,
    did: UnboundedSender<Did>,
) -> anyhow::Result<RunEnd> {
    let mut phone = Phone::new(file, &options.not_now, did);
    let mut stop = std::pin::pin!(stop);
    let mut failures = 0_u32;
    loop {
        let ended = session(link, &mut phone, options, &mut failures, stop.as_mut()).await?;
        let error = match ended {
            Session::Stopped => return Ok(RunEnd::Stopped),
            Session::Erased => return Ok(RunEnd::Erased),
            Session::Broke(error) => error,
        };
        failures = failures.saturating_add(1);
        let retry_in = with_jitter(options.backoff.after(failures));
        phone.tell(Did::Disconnected {
            error,
            attempt: failures,
            retry_in,
        });
        tokio::select! {
            () = stop.as_mut() => return Ok(RunEnd::Stopped),
            () = tokio::time::sleep(retry_in) => {}
        }
    }
}

/// One connection: open the channel, then obey until it breaks, the phone is erased or
/// `stop` completes. Stopping is noticed only between commands, so an acknowledgement (above
/// all an erase's) is never cut off halfway.
async fn session<L: CommandLink>(
    link: &mut L,
    phone: &mut Phone<'_>,
    options: &RunOptions,
    failures: &mut u32,
    mut stop: Pin<&mut impl Future<Output = ()>>,
) -> anyhow::Result<Session> {
    let opened = tokio::select! {
        () = stop.as_mut() => return Ok(Session::Stopped),
        opened = link.open() => opened,
    };
    let mut messages = match opened {
        Ok(messages) => messages,
        Err(status) => return Ok(Session::Broke(describe(&status))),
    };
    *failures = 0;
    phone.tell(Did::Connected);
    loop {
        let next = tokio::select! {
            () = stop.as_mut() => return Ok(Session::Stopped),
            next = tokio::time::timeout(options.silence_limit, messages.next()) => next,
        };
        let Ok(next) = next else {
            let silent_for = options.silence_limit.as_secs_f64();
            return Ok(Session::Broke(format!(
                "no message nor heartbeat for {silent_for} s"
            )));
        };
        let command = match next {
            None => return Ok(Session::Broke("the registry closed the channel".into())),
            Some(Err(status)) => return Ok(Session::Broke(describe(&status))),
            Some(Ok(message)) => match message.message {
                Some(Message::Command(command)) => command,
                // A heartbeat, or a kind of message this agent does not know.
                Some(Message::Heartbeat(_)) | None => continue,
            },
        };
        match phone.obey(&command)? {
            Answer::Reply(reply) => {
                if let Err(status) = link.acknowledge(reply).await {
                    return Ok(Session::Broke(describe(&status)));
                }
            }
            Answer::EraseAfter(reply) => {
                if let Err(status) = link.acknowledge(reply).await {
                    return Ok(Session::Broke(describe(&status)));
                }
                phone.erase(command.command_id)?;
                return Ok(Session::Erased);
            }
        }
    }
}

fn describe(status: &Status) -> String {
    format!("{:?}: {}", status.code(), status.message())
}

/// Between half of `wait` and all of it, at random ("equal jitter").
fn with_jitter(wait: Duration) -> Duration {
    let half = wait / 2;
    let spread = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
    half + Duration::from_millis(rand::rng().random_range(0..=spread))
}

#[cfg(test)]
mod tests;
