//! Unit tests of the sessions family against the in-memory store.
