//! Calls at a steady rate, as each of the suite's loads makes them, and what they answered.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::task::JoinSet;

/// A client of the loads gives up on one call after this (the call then counts as not
/// accepted).
pub(crate) const CALL_DEADLINE: Duration = Duration::from_secs(5);

/// What the calls of one run answered.
#[derive(Debug)]
pub(crate) struct Answers<T> {
    /// What each call answered OK with; each must then be delivered (or run) exactly once.
    pub accepted: Vec<T>,
    /// Calls that failed, by RPC and gRPC code (UNAVAILABLE while a dependency or replica is
    /// down).
    pub refused: BTreeMap<String, usize>,
}

/// Starts `call()` `per_second` times a second for `lasting` (a call late because the test
/// stalled is started late, not twice), then waits for every answer; `rpc` names the refusals.
pub(crate) async fn at_rate<T, F, Fut>(
    rpc: &str,
    per_second: u32,
    lasting: Duration,
    mut call: F,
) -> Answers<T>
where
    T: Send + 'static,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, tonic::Status>> + Send + 'static,
{
    let mut ticks = tokio::time::interval(Duration::from_secs(1) / per_second);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut calls = JoinSet::new();
    let until = tokio::time::Instant::now() + lasting;
    while tokio::time::Instant::now() < until {
        ticks.tick().await;
        calls.spawn(call());
    }
    let mut answers = Answers {
        accepted: Vec::new(),
        refused: BTreeMap::new(),
    };
    while let Some(answer) = calls.join_next().await {
        match answer.unwrap_or_else(|error| panic!("a {rpc} task: {error}")) {
            Ok(accepted) => answers.accepted.push(accepted),
            Err(status) => {
                *answers
                    .refused
                    .entry(format!("{rpc} {:?}", status.code()))
                    .or_default() += 1;
            }
        }
    }
    answers
}
