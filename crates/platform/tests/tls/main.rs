//! Secured connections tested against real servers started for the test with a CA the test
//! makes: PostgreSQL with TLS, Redis with TLS and an ACL user, and the gRPC server's TLS.

mod certs;
mod grpc;
mod postgres;
mod redis;
