//! CPU-heavy work kept away from a service's async workers, so cheap RPCs keep their latency
//! while passwords are hashed.
//!
//! Only identity hashes passwords, so this plumbing lives beside the platform rather than in
//! it: `worker` runs jobs in helper processes of the running executable, each in a scheduling
//! group of its own; `cpu` runs them on low-priority threads of this process.

pub mod cpu;
mod jobs_gauge;
pub mod worker;
