//! The Kafka producer, replaced by a new one when it cannot recover by itself.
//!
//! An idempotent producer keeps a producer id, an epoch and a sequence per partition. When the
//! broker loses or rejects that state (a restart of a broker whose producer state did not
//! survive, fencing, a sequence gap) librdkafka either raises a fatal error, after which the
//! client refuses every send for good, or keeps resending with the same id and epoch and
//! failing (tansu 0.6.0 answers UNKNOWN_SERVER_ERROR to an epoch it never handed out: issue
//! 13's relay stuck after a broker restart). Either way no retry of the same client helps; a
//! new client asks for a new producer id and publishes again. What was not acknowledged is
//! still in the outbox, so sending it again is safe (consumers deduplicate by event id).

use std::sync::{Arc, RwLock};

use rdkafka::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, Producer};

/// The current producer and how to make another.
pub(super) struct RenewableProducer {
    settings: ClientConfig,
    current: RwLock<Arc<FutureProducer>>,
}

impl RenewableProducer {
    /// Creates the first producer; it connects lazily.
    pub(super) fn new(settings: ClientConfig) -> anyhow::Result<Self> {
        let first = Arc::new(settings.create()?);
        Ok(Self {
            settings,
            current: RwLock::new(first),
        })
    }

    /// The producer to send with now.
    pub(super) fn current(&self) -> Arc<FutureProducer> {
        Arc::clone(
            &self
                .current
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    /// Replaces `used` by a new producer when `errors` (what sending with it returned) show it
    /// cannot recover; does nothing if another caller replaced it already. Returns whether it
    /// replaced it.
    pub(super) fn renew_if_stuck<'a>(
        &self,
        used: &Arc<FutureProducer>,
        errors: impl IntoIterator<Item = &'a KafkaError>,
    ) -> bool {
        let fatal = used.client().fatal_error();
        let stuck = errors
            .into_iter()
            .find_map(|error| error.rdkafka_error_code().filter(|code| is_stuck(*code)));
        let reason = match (fatal, stuck) {
            (Some((code, text)), _) => format!("fatal error {code:?}: {text}"),
            (None, Some(code)) => format!("{code:?}"),
            (None, None) => return false,
        };
        let mut current = self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !Arc::ptr_eq(&current, used) {
            return false;
        }
        match self.settings.create::<FutureProducer>() {
            Ok(fresh) => {
                *current = Arc::new(fresh);
                tracing::warn!(
                    reason,
                    "replaced the kafka producer: it cannot recover by itself; unacknowledged events are published again"
                );
                true
            }
            Err(error) => {
                tracing::warn!(reason, error = %error, "cannot replace the kafka producer");
                false
            }
        }
    }
}

/// Errors after which a producer keeps failing: its id, epoch or sequence is no longer valid
/// on the broker, or the broker failed the request for a reason of its own (which, on an
/// idempotent producer, is how tansu answers an epoch it does not know).
fn is_stuck(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::Fatal
            | RDKafkaErrorCode::Fenced
            | RDKafkaErrorCode::ProducerFenced
            | RDKafkaErrorCode::InvalidProducerEpoch
            | RDKafkaErrorCode::InvalidProducerIdMapping
            | RDKafkaErrorCode::UnknownProducerId
            | RDKafkaErrorCode::OutOfOrderSequenceNumber
            | RDKafkaErrorCode::Unknown
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_failures_and_refusals_keep_the_producer() {
        for code in [
            RDKafkaErrorCode::MessageTimedOut,
            RDKafkaErrorCode::AllBrokersDown,
            RDKafkaErrorCode::BrokerTransportFailure,
            RDKafkaErrorCode::MessageSizeTooLarge,
            RDKafkaErrorCode::NotLeaderForPartition,
        ] {
            assert!(!is_stuck(code), "{code:?}");
        }
        for code in [
            RDKafkaErrorCode::Fatal,
            RDKafkaErrorCode::ProducerFenced,
            RDKafkaErrorCode::OutOfOrderSequenceNumber,
            RDKafkaErrorCode::UnknownProducerId,
            RDKafkaErrorCode::Unknown,
        ] {
            assert!(is_stuck(code), "{code:?}");
        }
    }
}
