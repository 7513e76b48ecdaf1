//! In-memory fakes for the domain's unit tests: a [`NotificationStore`] with the SQL store's
//! rules (one record per event and destination, finished records never change), and an
//! external transport that records what it sends and fails when told to.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use mi_contracts::UnixMillis;
use mi_platform::crypto::{CodeCipher, SecretKey};

use super::{
    DeliveryFailed, DeliveryStart, DeliveryStatus as Status, ExternalTransport, InboxFilter,
    InboxMessage, MessageDelivered, NotificationStore, Notifier, OutgoingMessage, Templates,
    Transport, Transports,
};

#[derive(Debug)]
struct Record {
    status: Status,
    attempts: u32,
    transport: String,
}

/// Delivery records, the dev inbox and published events in memory.
#[derive(Debug, Default)]
pub(super) struct MemoryNotificationStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    records: HashMap<(String, String), Record>,
    inbox: Vec<InboxMessage>,
    delivered: Vec<MessageDelivered>,
    failed: Vec<DeliveryFailed>,
}

impl MemoryNotificationStore {
    /// The destinations of the inbox's messages, in delivery order.
    pub(super) fn inbox_destinations(&self) -> Vec<String> {
        let state = self.state.lock().expect("lock");
        state
            .inbox
            .iter()
            .map(|m| m.message.destination.clone())
            .collect()
    }

    /// The source events of the published `MessageDelivered`s, in order.
    pub(super) fn delivered(&self) -> Vec<String> {
        let state = self.state.lock().expect("lock");
        state
            .delivered
            .iter()
            .map(|d| d.source_event_id.clone())
            .collect()
    }

    /// The published `DeliveryFailed`s, in order.
    pub(super) fn failed(&self) -> Vec<DeliveryFailed> {
        self.state.lock().expect("lock").failed.clone()
    }
}

#[async_trait]
impl NotificationStore for MemoryNotificationStore {
    async fn start_delivery(
        &self,
        source_event_id: &str,
        message: &OutgoingMessage,
        transport: &str,
    ) -> anyhow::Result<DeliveryStart> {
        let mut state = self.state.lock().expect("lock");
        let key = (source_event_id.to_owned(), message.destination.clone());
        let record = state.records.entry(key).or_insert(Record {
            status: Status::Pending,
            attempts: 0,
            transport: transport.to_owned(),
        });
        if record.status != Status::Pending {
            return Ok(DeliveryStart::Finished);
        }
        record.attempts += 1;
        Ok(DeliveryStart::Attempt(record.attempts))
    }

    async fn record_failure(&self, _: &str, _: &str, _: &str) -> anyhow::Result<()> {
        Ok(())
    }

    async fn complete(
        &self,
        message: &OutgoingMessage,
        delivered: &MessageDelivered,
        to_dev_inbox: bool,
    ) -> anyhow::Result<bool> {
        let mut state = self.state.lock().expect("lock");
        let key = (
            delivered.source_event_id.clone(),
            message.destination.clone(),
        );
        let record = state.records.entry(key).or_insert(Record {
            status: Status::Pending,
            attempts: 1,
            transport: delivered.transport.clone(),
        });
        if record.status != Status::Pending {
            return Ok(false);
        }
        record.status = Status::Delivered;
        if to_dev_inbox {
            state.inbox.push(InboxMessage {
                message_id: delivered.message_id.clone(),
                source_event_id: delivered.source_event_id.clone(),
                kind: Some(delivered.kind),
                message: message.clone(),
                created_at: UnixMillis::EPOCH,
            });
        }
        state.delivered.push(delivered.clone());
        Ok(true)
    }

    async fn fail(&self, source_event_id: &str, reason: &str) -> anyhow::Result<usize> {
        let mut guard = self.state.lock().expect("lock");
        let state = &mut *guard;
        let before = state.failed.len();
        for ((event, destination), record) in &mut state.records {
            if event == source_event_id && record.status == Status::Pending {
                record.status = Status::Failed;
                state.failed.push(DeliveryFailed {
                    source_event_id: event.clone(),
                    destination: destination.clone(),
                    transport: record.transport.clone(),
                    attempts: record.attempts,
                    error: reason.to_owned(),
                });
            }
        }
        Ok(state.failed.len() - before)
    }

    async fn list_inbox(
        &self,
        filter: &InboxFilter<'_>,
        after_message_id: Option<&str>,
        limit: i64,
    ) -> anyhow::Result<Vec<InboxMessage>> {
        let state = self.state.lock().expect("lock");
        let mut listed: Vec<InboxMessage> = state
            .inbox
            .iter()
            .filter(|m| {
                filter
                    .destination
                    .is_none_or(|d| m.message.destination == d)
            })
            .filter(|m| filter.kind.is_none_or(|kind| m.kind == Some(kind)))
            .filter(|m| after_message_id.is_none_or(|after| m.message_id.as_str() > after))
            .cloned()
            .collect();
        listed.sort_by(|left, right| left.message_id.cmp(&right.message_id));
        listed.truncate(usize::try_from(limit)?);
        Ok(listed)
    }
}

/// One send the fake transport was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Send {
    destination: String,
    idempotency_key: String,
    succeeded: bool,
}

impl Send {
    pub(super) fn ok(destination: &str, idempotency_key: &str) -> Self {
        Self::new(destination, idempotency_key, true)
    }

    pub(super) fn failed(destination: &str, idempotency_key: &str) -> Self {
        Self::new(destination, idempotency_key, false)
    }

    fn new(destination: &str, idempotency_key: &str, succeeded: bool) -> Self {
        Self {
            destination: destination.to_owned(),
            idempotency_key: idempotency_key.to_owned(),
            succeeded,
        }
    }
}

/// An external transport that records its sends and fails the next one when told.
#[derive(Debug, Default)]
pub(super) struct FakeTransport {
    fail_next: AtomicBool,
    sends: Mutex<Vec<(Send, String)>>,
}

impl FakeTransport {
    /// Makes the next send fail.
    pub(super) fn fail_next(&self) {
        self.fail_next.store(true, Ordering::SeqCst);
    }

    /// Every send so far, in order.
    pub(super) fn sends(&self) -> Vec<Send> {
        let sends = self.sends.lock().expect("lock");
        sends.iter().map(|(send, _)| send.clone()).collect()
    }

    /// The body of the last message sent.
    pub(super) fn last_body(&self) -> String {
        let sends = self.sends.lock().expect("lock");
        sends
            .last()
            .map(|(_, body)| body.clone())
            .unwrap_or_default()
    }
}

#[async_trait]
impl ExternalTransport for FakeTransport {
    fn name(&self) -> &'static str {
        "fake"
    }

    async fn send(&self, message: &OutgoingMessage, idempotency_key: &str) -> anyhow::Result<()> {
        let succeeded = !self.fail_next.swap(false, Ordering::SeqCst);
        let send = Send::new(&message.destination, idempotency_key, succeeded);
        self.sends
            .lock()
            .expect("lock")
            .push((send, message.body.clone()));
        anyhow::ensure!(succeeded, "the fake provider refused");
        Ok(())
    }
}

/// A notifier whose SMS and pushes leave through fake transports and whose email and voice
/// go to the dev inbox, over an in-memory store.
#[derive(Debug)]
pub(super) struct Fixture {
    pub(super) notifier: Notifier,
    pub(super) store: Arc<MemoryNotificationStore>,
    pub(super) sms: Arc<FakeTransport>,
    pub(super) push: Arc<FakeTransport>,
    pub(super) cipher: CodeCipher,
}

impl Fixture {
    pub(super) fn with_external_sms() -> Self {
        let store = Arc::new(MemoryNotificationStore::default());
        let sms = Arc::new(FakeTransport::default());
        let push = Arc::new(FakeTransport::default());
        let cipher = CodeCipher::new(&SecretKey::generate());
        let transports = Transports {
            email: Transport::DevInbox,
            sms: Transport::External(Arc::clone(&sms) as _),
            voice: Transport::DevInbox,
            push: Transport::External(Arc::clone(&push) as _),
        };
        let templates = Templates::built_in().expect("templates");
        let notifier = Notifier::new(
            Arc::clone(&store) as _,
            transports,
            templates,
            cipher.clone(),
        );
        Self {
            notifier,
            store,
            sms,
            push,
            cipher,
        }
    }
}
