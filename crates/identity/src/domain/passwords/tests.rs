//! Unit tests of the passwords family against the in-memory store.
