//! Unit tests of the profile family against the in-memory store.
