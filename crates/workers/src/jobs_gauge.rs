//! `mi_worker_jobs{pool, state}`: the jobs waiting for a pool and running on it. A waiting count
//! that stays up means hashing (Argon2) cannot keep pace with sign-ins; the platform's
//! Prometheus endpoint serves it.

/// One job counted in a state for as long as this lives.
#[derive(Debug)]
pub(crate) struct CountedJob(metrics::Gauge);

impl CountedJob {
    /// Counts one job of `pool` in `state` (`waiting` or `running`).
    pub(crate) fn new(pool: &str, state: &'static str) -> Self {
        let gauge = metrics::gauge!("mi_worker_jobs", "pool" => pool.to_owned(), "state" => state);
        gauge.increment(1.0);
        Self(gauge)
    }
}

impl Drop for CountedJob {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}
