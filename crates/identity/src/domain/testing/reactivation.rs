//! Reactivation locks in memory, each event applied once, as the SQL store does.

use std::collections::HashSet;
use std::sync::Mutex;

use async_trait::async_trait;
use mi_contracts::MiId;

use crate::domain::ReactivationLockStore;

/// Locks and applied event ids in memory.
#[derive(Debug, Default)]
pub(crate) struct MemoryReactivationLocks {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// (hardware id, Mi ID), in the order set.
    locks: Vec<(String, MiId)>,
    applied_events: HashSet<String>,
}

#[async_trait]
impl ReactivationLockStore for MemoryReactivationLocks {
    async fn lock_hardware(
        &self,
        event_id: &str,
        hardware_id: &str,
        mi_id: MiId,
    ) -> anyhow::Result<bool> {
        let mut state = self.state.lock().expect("lock");
        if !state.applied_events.insert(event_id.to_owned()) {
            return Ok(false);
        }
        let lock = (hardware_id.to_owned(), mi_id);
        if !state.locks.contains(&lock) {
            state.locks.push(lock);
        }
        Ok(true)
    }

    async fn release_hardware(
        &self,
        event_id: &str,
        hardware_id: &str,
        mi_id: MiId,
    ) -> anyhow::Result<bool> {
        let mut state = self.state.lock().expect("lock");
        if !state.applied_events.insert(event_id.to_owned()) {
            return Ok(false);
        }
        state
            .locks
            .retain(|(locked, holder)| (locked.as_str(), *holder) != (hardware_id, mi_id));
        Ok(true)
    }

    async fn hardware_holders(&self, hardware_id: &str) -> anyhow::Result<Vec<MiId>> {
        let state = self.state.lock().expect("lock");
        Ok(state
            .locks
            .iter()
            .filter(|(locked, _)| locked == hardware_id)
            .map(|(_, holder)| *holder)
            .collect())
    }
}
