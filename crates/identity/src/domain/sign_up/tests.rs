//! Unit tests of the sign_up family against the in-memory store.
