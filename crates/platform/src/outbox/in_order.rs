//! Publishing a claimed batch so that each aggregate's events reach the bus in order: in rounds,
//! round n carrying the n-th claimed event of every aggregate, sent together (the aggregates are
//! independent). An aggregate's next event goes out only once the bus has accepted the one
//! before it, so no producer setting (idempotence, `max.in.flight`, message timeouts) and no
//! broker can put it ahead: a Kafka producer may drop a timed-out message and deliver the next
//! one of the same partition, a gap a consumer could not tell from a reordering.
//!
//! After a passing failure the rest of that aggregate is held back for the retry, which starts
//! again from the failed event. An event the bus refuses for what it is will never pass: it is
//! parked (`dead_letter.rs`) and its aggregate goes on without it.

use std::collections::{HashMap, VecDeque};

use crate::bus::{EventBus, MessageRefused};

use super::claim::ClaimedEvent;

/// What became of one claimed event.
#[derive(Debug)]
pub(super) enum Outcome {
    /// The bus accepted it.
    Published,
    /// The bus refuses it for what it is; to be parked.
    Refused(anyhow::Error),
    /// It failed for a passing reason; to be retried.
    Failed(anyhow::Error),
    /// Not sent: an earlier event of its aggregate failed.
    HeldBack,
}

/// Publishes `events` (sorted oldest first) in per-aggregate order; one outcome per event, in
/// the same order.
pub(super) async fn publish(bus: &dyn EventBus, events: &[ClaimedEvent]) -> Vec<Outcome> {
    let mut outcomes: Vec<Outcome> = events.iter().map(|_| Outcome::HeldBack).collect();
    // Each aggregate's events, by index into `events`, oldest first; the aggregates in the
    // order of their oldest event, so that a round sends older aggregates first.
    let mut queues: Vec<VecDeque<usize>> = Vec::new();
    let mut queue_of_key: HashMap<&str, usize> = HashMap::new();
    for (index, event) in events.iter().enumerate() {
        let queue = *queue_of_key
            .entry(event.message.key.as_str())
            .or_insert_with(|| {
                queues.push(VecDeque::new());
                queues.len() - 1
            });
        queues[queue].push_back(index);
    }
    loop {
        let round: Vec<usize> = queues.iter_mut().filter_map(VecDeque::pop_front).collect();
        if round.is_empty() {
            return outcomes;
        }
        let messages: Vec<_> = round
            .iter()
            .map(|index| events[*index].message.clone())
            .collect();
        let results = bus.publish_each(&messages).await;
        for (index, result) in round.into_iter().zip(results) {
            outcomes[index] = match result {
                Ok(()) => Outcome::Published,
                Err(error) if MessageRefused::is_cause_of(&error) => Outcome::Refused(error),
                Err(error) => {
                    // What is left of this aggregate stays `HeldBack`.
                    queues[queue_of_key[events[index].message.key.as_str()]].clear();
                    Outcome::Failed(error)
                }
            };
        }
    }
}
