//! Unit tests of the sign_in family against the in-memory store.
