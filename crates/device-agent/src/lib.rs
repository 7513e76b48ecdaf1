//! The reference device agent: plays a phone against identity and the device registry over
//! gRPC. It signs in with a device key it made, enrolls, turns Find Device on and off, reports
//! where it is (or walks), and keeps the command channel open, obeying each command as a phone
//! would and acknowledging it.
//!
//! The binary `mi-device-agent` is a thin command line over [`Agent`]; tests drive the same
//! [`Agent`] in-process and read what it did from a channel of [`Did`].

mod agent;
mod did;
mod key;
mod link;
mod phone;
mod run;
mod session;
mod state;
#[cfg(test)]
mod testing;

pub use agent::{Agent, Endpoints, PhoneDescription, Walk};
pub use did::{ActionKind, Did};
pub use key::DeviceKey;
pub use link::{CommandLink, MessageStream};
pub use phone::{LOCATION_UNAVAILABLE, UNSUPPORTED_ACTION};
pub use run::{RunEnd, RunOptions};
pub use state::{
    Acknowledged, AgentState, DeviceProfile, Position, REMEMBERED_COMMANDS, StateFile,
    StoredOutcome, StoredSyncSettings,
};
