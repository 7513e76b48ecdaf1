//! The device registry publishes device events on its topic (`{prefix}device.events`) through
//! the outbox; it will consume identity's `SignedIn` to link devices.
