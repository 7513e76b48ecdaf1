//! The expiry sweep: a command not finished by its expiry expires. Every replica sweeps; the
//! conditional finish makes each expiry happen once.

use mi_contracts::UnixMillis;

use super::{CommandQueue, CommandState, Finish};
use crate::domain::events::Actor;

/// The most commands one sweep expires; the next sweep takes the rest.
const SWEEP_BATCH: i64 = 500;

impl CommandQueue {
    /// Expires every unfinished command past its expiry (up to a batch); returns how many this
    /// call expired.
    pub(crate) async fn expire_due(&self) -> anyhow::Result<usize> {
        let now = UnixMillis::now();
        let mut expired = 0;
        for command in self.commands.expired(now, SWEEP_BATCH).await? {
            let finish = Finish {
                state: CommandState::Expired,
                at: now,
                location: None,
                error: None,
                effect: None,
            };
            if self
                .commands
                .finish(&command, &finish, &Actor::Registry)
                .await?
            {
                expired += 1;
            }
        }
        Ok(expired)
    }
}
