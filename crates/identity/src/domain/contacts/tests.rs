//! Unit tests of the contacts family against the in-memory store.
