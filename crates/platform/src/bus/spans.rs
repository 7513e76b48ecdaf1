//! Spans of the event path by OpenTelemetry's messaging conventions: a PRODUCER span per
//! published message and a CONSUMER span per processed one, its child.
//!
//! The trace context travels in the message headers (W3C `traceparent`, `tracestate`). A
//! message arrives at the bus carrying the context of whoever wrote it (the transaction that
//! filled the outbox row); the producer span continues that trace, and the message leaves with
//! the producer span's own context, so the consumer's span hangs under the send.

use tracing::field::Empty;

use super::{BusMessage, Delivery};
use crate::telemetry::{self, PairExtractor};

/// `messaging.system` of the Kafka bus.
pub(super) const KAFKA: &str = "kafka";
/// `messaging.system` of the embedded bus (no registered value: it is this project's own).
pub(super) const EMBEDDED: &str = "mi-embedded";

/// The headers W3C trace context uses; replaced by the producer span's own.
const TRACE_HEADERS: [&str; 2] = ["traceparent", "tracestate"];

/// A PRODUCER span for sending `message`, continuing the trace its headers carry. Record the
/// partition and offset with [`record_placement`] once the bus has them.
pub(super) fn producer_span(system: &'static str, message: &BusMessage) -> tracing::Span {
    let span = tracing::info_span!(
        "send",
        otel.name = %format_args!("send {}", message.topic),
        otel.kind = "producer",
        otel.status_code = Empty,
        messaging.system = system,
        messaging.operation.type = "send",
        messaging.operation.name = "send",
        messaging.destination.name = %message.topic,
        messaging.kafka.message.key = %message.key,
        messaging.destination.partition.id = Empty,
        messaging.kafka.offset = Empty,
    );
    telemetry::set_remote_parent(&span, &PairExtractor(&message.headers));
    span
}

/// Where the bus put the message sent under `span`.
pub(super) fn record_placement(span: &tracing::Span, partition: i32, offset: i64) {
    span.record(
        "messaging.destination.partition.id",
        partition.to_string().as_str(),
    );
    span.record("messaging.kafka.offset", offset);
}

/// Marks the send under `span` failed.
pub(super) fn record_failure(span: &tracing::Span) {
    span.record("otel.status_code", "ERROR");
}

/// `headers` with the trace context replaced by `span`'s, for the message sent under it.
pub(crate) fn headers_under(
    span: &tracing::Span,
    headers: &[(String, String)],
) -> Vec<(String, String)> {
    let mut outgoing: Vec<(String, String)> = headers
        .iter()
        .filter(|(key, _)| !TRACE_HEADERS.contains(&key.as_str()))
        .cloned()
        .collect();
    outgoing.extend(telemetry::trace_headers_of(span));
    outgoing
}

/// A CONSUMER span for processing `delivery` in `group`, a child of the producer span whose
/// context the message carries.
pub fn process_span(system: &'static str, group: &str, delivery: &Delivery) -> tracing::Span {
    let message = &delivery.message;
    let span = tracing::info_span!(
        "process",
        otel.name = %format_args!("process {}", message.topic),
        otel.kind = "consumer",
        otel.status_code = Empty,
        messaging.system = system,
        messaging.operation.type = "process",
        messaging.operation.name = "process",
        messaging.destination.name = %message.topic,
        messaging.consumer.group.name = %group,
        messaging.kafka.message.key = %message.key,
        messaging.destination.partition.id = %delivery.partition,
        messaging.kafka.offset = delivery.offset,
        messaging.message.id = Empty,
        event_type = Empty,
    );
    telemetry::set_remote_parent(&span, &PairExtractor(&message.headers));
    span
}
