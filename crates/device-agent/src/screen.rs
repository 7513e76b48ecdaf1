//! What the phone shows and plays while `run` goes on: each thing the agent did, printed, and
//! the ring, which lasts five minutes unless the person types `stop-ring`.

use std::io::BufRead;
use std::pin::Pin;
use std::time::Duration;

use mi_device_agent::Did;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio::time::Sleep;

use crate::say;

/// How long a Find Device ring lasts, as on Google's Find Hub.
const RING_FOR: Duration = Duration::from_secs(5 * 60);

/// Prints what the agent did until it stops, ringing in between.
pub(crate) async fn show(mut done: UnboundedReceiver<Did>) {
    let mut typed = typed_lines();
    let mut ring: Option<Pin<Box<Sleep>>> = None;
    loop {
        tokio::select! {
            did = done.recv() => {
                let Some(did) = did else { return };
                if matches!(did, Did::Rang { .. }) {
                    ring = Some(Box::pin(tokio::time::sleep(RING_FOR)));
                }
                say(&did.to_string());
            }
            Some(line) = typed.recv() => {
                if line.trim() == "stop-ring" {
                    say(if ring.take().is_some() { "ring stopped" } else { "not ringing" });
                }
            }
            () = async { if let Some(ring) = ring.as_mut() { ring.await } }, if ring.is_some() => {
                ring = None;
                say("ring finished after 5 minutes");
            }
        }
    }
}

/// The lines the person types. Read on a thread of its own, not the runtime's blocking pool:
/// a read that never returns must not keep the agent from exiting.
fn typed_lines() -> UnboundedReceiver<String> {
    let (line_sender, lines) = unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { return };
            if line_sender.send(line).is_err() {
                return;
            }
        }
    });
    lines
}
