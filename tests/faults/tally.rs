//! Counting one fault's codes against what the SMS provider received, and the table of all
//! faults the suite prints with its sign-ups and commands (docs/faults.md records one).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::time::Duration;

use crate::command_load::CommandCount;
use crate::support::providers::ProviderRequest;

/// One fault's figures.
#[derive(Debug)]
pub(crate) struct Row {
    pub fault: String,
    /// SendCode calls answered OK.
    pub accepted: usize,
    /// Accepted codes the provider received (once or more).
    pub delivered: usize,
    /// Accepted codes the provider received as more than one message (distinct idempotency
    /// keys): a phone would show the code twice.
    pub duplicated: usize,
    /// Accepted codes the provider never received.
    pub lost: usize,
    /// Requests that repeated an idempotency key already received: retries the provider
    /// recognizes as the same message (a crash between its answer and the delivery record).
    pub repeated_keys: usize,
    /// Sign-ups answered OK, and those whose device the registry then listed.
    pub sign_ups: usize,
    pub linked: usize,
    /// Find Device commands issued, and what became of them.
    pub commands: CommandCount,
    /// From the end of the load until every accepted code was received; `None` if that did
    /// not happen within the bound.
    pub drain: Option<Duration>,
    /// Failed calls by gRPC code.
    pub refused: BTreeMap<String, usize>,
}

impl Row {
    /// Counts `accepted` destinations (one code each) against the provider's `requests`.
    pub(crate) fn count(
        fault: String,
        (accepted, requests): (&[String], &[ProviderRequest]),
        (sign_ups, linked): (usize, usize),
        commands: CommandCount,
        refused: BTreeMap<String, usize>,
        drain: Option<Duration>,
    ) -> Self {
        let mut keys_by_destination: HashMap<&str, HashSet<&str>> = HashMap::new();
        let mut requests_by_destination: HashMap<&str, usize> = HashMap::new();
        for request in requests {
            let destination = request.body["destination"].as_str().unwrap_or_default();
            keys_by_destination
                .entry(destination)
                .or_default()
                .insert(request.idempotency_key.as_str());
            *requests_by_destination.entry(destination).or_default() += 1;
        }
        let messages = |destination: &String| {
            keys_by_destination
                .get(destination.as_str())
                .map_or(0, HashSet::len)
        };
        let repeated_keys = accepted
            .iter()
            .map(|destination| {
                requests_by_destination
                    .get(destination.as_str())
                    .copied()
                    .unwrap_or_default()
                    - messages(destination)
            })
            .sum();
        Self {
            fault,
            accepted: accepted.len(),
            delivered: accepted.iter().filter(|d| messages(d) > 0).count(),
            duplicated: accepted.iter().filter(|d| messages(d) > 1).count(),
            lost: accepted.iter().filter(|d| messages(d) == 0).count(),
            repeated_keys,
            sign_ups,
            linked,
            commands,
            drain,
            refused,
        }
    }

    pub(crate) fn failed(&self) -> bool {
        self.lost > 0
            || self.duplicated > 0
            || self.linked < self.sign_ups
            || self.commands.failed()
            || self.drain.is_none()
    }
}

/// The rows as a Markdown table.
pub(crate) fn table(rows: &[Row]) -> String {
    let mut table = String::from(
        "| fault | accepted | delivered | duplicated | lost | drain time | repeated keys | \
         sign-ups | devices linked | commands | commands received | commands lost | \
         commands done | redelivered | run twice | refused |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | \
         ---: | ---: | ---: | --- |\n",
    );
    for row in rows {
        let drain = row.drain.map_or_else(
            || "**not drained**".to_owned(),
            |drain| format!("{:.1} s", drain.as_secs_f64()),
        );
        let refused = if row.refused.is_empty() {
            "none".to_owned()
        } else {
            row.refused
                .iter()
                .map(|(code, count)| format!("{count} {code}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            table,
            "| {} | {} | {} | {} | {} | {drain} | {} | {} | {} | {} | {} | {} | {} | {} | {} | \
             {refused} |",
            row.fault,
            row.accepted,
            row.delivered,
            row.duplicated,
            row.lost,
            row.repeated_keys,
            row.sign_ups,
            row.linked,
            row.commands.accepted,
            row.commands.received,
            row.commands.lost(),
            row.commands.done,
            row.commands.redelivered,
            row.commands.run_twice
        );
    }
    table
}
