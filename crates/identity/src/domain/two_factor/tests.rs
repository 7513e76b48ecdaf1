//! Unit tests of the two_factor family against the in-memory store.
