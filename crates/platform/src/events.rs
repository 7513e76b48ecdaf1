//! Building and reading the event envelope shared by every topic.

use mi_contracts::UnixMillis;
use mi_proto::EventPayload;
use mi_proto::events::v1::EventEnvelope;

/// Kafka header carrying the envelope's event type, so consumers can route without decoding.
pub const EVENT_TYPE_HEADER: &str = "mi-event-type";

/// Wraps a payload in a new envelope with a fresh UUIDv7 id.
pub fn envelope<P: EventPayload>(producer: &str, aggregate_id: &str, payload: &P) -> EventEnvelope {
    EventEnvelope {
        event_id: uuid::Uuid::now_v7().to_string(),
        event_type: P::EVENT_TYPE.to_owned(),
        occurred_at: Some(UnixMillis::now().to_timestamp()),
        aggregate_id: aggregate_id.to_owned(),
        producer: producer.to_owned(),
        payload: payload.encode_to_vec(),
    }
}

/// Decodes the payload if the envelope carries a `P`; `None` for any other event type.
pub fn payload<P: EventPayload>(envelope: &EventEnvelope) -> Option<Result<P, prost::DecodeError>> {
    (envelope.event_type == P::EVENT_TYPE).then(|| P::decode(envelope.payload.as_slice()))
}
