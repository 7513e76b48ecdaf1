//! Identity publishes account events on its topic (`{prefix}identity.events`) through the
//! outbox; it consumes no other service's events yet.
