//! What the agent keeps between runs, as a phone keeps it in its private storage: the session
//! (refresh token), the per-install device id and description, the private key, the commands
//! it acknowledged, where it is and its sync settings. One JSON file that only its owner may
//! read or write (0600): it holds a private key and a refresh token.

use std::collections::VecDeque;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// How many acknowledged command ids the agent remembers: far more than a registry redelivers
/// at once, and the file stays small.
pub const REMEMBERED_COMMANDS: usize = 256;

/// The contents of the state file.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct AgentState {
    /// The account the agent is signed in to.
    pub mi_id: u64,
    /// Identity's session of this sign-in.
    pub session_id: String,
    /// The newest refresh token (each refresh replaces it: it is single use).
    pub refresh_token: String,
    /// How the device describes itself.
    pub device: DeviceProfile,
    /// The Ed25519 seed of the device key, base64.
    pub device_key: String,
    /// The commands acknowledged done or failed, oldest first, at most
    /// [`REMEMBERED_COMMANDS`].
    #[serde(default)]
    pub acknowledged: VecDeque<Acknowledged>,
    /// Where the device is, as last configured, reported or walked to.
    #[serde(default)]
    pub position: Option<Position>,
    /// The cloud-sync settings the registry last sent.
    #[serde(default)]
    pub sync_settings: Option<StoredSyncSettings>,
}

/// Never prints the private key nor the refresh token.
impl std::fmt::Debug for AgentState {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("AgentState")
            .field("mi_id", &self.mi_id)
            .field("session_id", &self.session_id)
            .field("device", &self.device)
            .field("acknowledged", &self.acknowledged.len())
            .field("position", &self.position)
            .finish_non_exhaustive()
    }
}

impl AgentState {
    /// The answer already given to `command_id`, if the agent acknowledged it.
    pub fn acknowledged(&self, command_id: &str) -> Option<&Acknowledged> {
        self.acknowledged
            .iter()
            .find(|acknowledged| acknowledged.command_id == command_id)
    }

    /// Remembers an answer, forgetting the oldest beyond [`REMEMBERED_COMMANDS`].
    pub fn remember(&mut self, acknowledged: Acknowledged) {
        self.acknowledged.push_back(acknowledged);
        while self.acknowledged.len() > REMEMBERED_COMMANDS {
            self.acknowledged.pop_front();
        }
    }
}

/// The device as it describes itself to identity and the registry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeviceProfile {
    /// The per-install id (a UUID made at the first sign-in).
    pub device_id: String,
    /// E.g. "Redmi Note 13".
    pub model: String,
    /// E.g. "HyperOS 2.0".
    pub os: String,
    /// The name its owner gave it.
    pub name: String,
    /// A hash of the serial number, stable across reinstalls; empty when none was given.
    pub hardware_id: String,
    /// The push provider's token; empty when none.
    pub push_token: String,
}

/// A command the agent answered, and how, so that a redelivery gets the same answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Acknowledged {
    /// The command's id.
    pub command_id: String,
    /// The answer.
    pub outcome: StoredOutcome,
}

/// An answer the agent gave.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum StoredOutcome {
    /// Done; for Locate, where the device was.
    Done {
        /// The location a Locate answered with.
        location: Option<Position>,
        /// When it was measured, milliseconds since the epoch.
        measured_at_ms: Option<i64>,
    },
    /// Could not.
    Failed {
        /// A short code, e.g. `LOCATION_UNAVAILABLE`.
        code: String,
        /// What went wrong.
        message: String,
    },
}

/// Where the device is.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Position {
    /// -90 to 90.
    pub latitude: f64,
    /// -180 to 180.
    pub longitude: f64,
    /// Radius of 68% confidence, in metres.
    pub accuracy_meters: f64,
}

/// Cloud-sync settings as the device applied them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoredSyncSettings {
    /// The registry's version of them.
    pub version: u64,
    /// Sync at all.
    pub sync_enabled: bool,
    /// Only over Wi-Fi.
    pub wifi_only: bool,
    /// The data types that sync, by name (e.g. `gallery`, `contacts`).
    pub data_types: Vec<String>,
}

/// The state file on disk.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
}

impl StateFile {
    /// The state file at `path` (which need not exist yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The saved state, or `None` when there is no file.
    pub fn load_if_present(&self) -> anyhow::Result<Option<AgentState>> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => {
                return Err(error).with_context(|| format!("cannot read {}", self.path.display()));
            }
        };
        serde_json::from_str(&text)
            .map(Some)
            .with_context(|| format!("{} is not an agent state file", self.path.display()))
    }

    /// The saved state; an error saying to sign in when there is none.
    pub fn load(&self) -> anyhow::Result<AgentState> {
        self.load_if_present()?.with_context(|| {
            format!(
                "no state at {}: sign in first (`mi-device-agent --state {} sign-in ...`)",
                self.path.display(),
                self.path.display()
            )
        })
    }

    /// Replaces the file with `state`: written to a new file created 0600 beside it, synced,
    /// then renamed over it, so a crash leaves the old state or the new one, never half of one,
    /// and the secrets are never readable by others, not even for a moment.
    pub fn save(&self, state: &AgentState) -> anyhow::Result<()> {
        let json = serde_json::to_vec_pretty(state).context("cannot encode the state")?;
        let mut temporary = self.path.clone().into_os_string();
        temporary.push(".new");
        let temporary = PathBuf::from(temporary);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)
            .with_context(|| format!("cannot write {}", temporary.display()))?;
        file.write_all(&json)
            .and_then(|()| file.sync_all())
            .with_context(|| format!("cannot write {}", temporary.display()))?;
        std::fs::rename(&temporary, &self.path)
            .with_context(|| format!("cannot replace {}", self.path.display()))
    }

    /// Deletes the file: what erasing the phone leaves of the agent.
    pub fn delete(&self) -> anyhow::Result<()> {
        std::fs::remove_file(&self.path)
            .with_context(|| format!("cannot delete {}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::testing::sample_state;

    #[test]
    fn the_state_round_trips_in_a_file_only_its_owner_can_read() {
        let directory = tempfile::tempdir().unwrap();
        let file = StateFile::new(directory.path().join("phone.json"));
        assert!(file.load_if_present().unwrap().is_none());
        assert!(
            file.load()
                .unwrap_err()
                .to_string()
                .contains("sign in first")
        );

        let state = sample_state();
        file.save(&state).unwrap();
        assert_eq!(file.load().unwrap(), state);
        let mode = std::fs::metadata(file.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");

        // Saving again over a file someone widened narrows it back.
        std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        file.save(&state).unwrap();
        let mode = std::fs::metadata(file.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");

        file.delete().unwrap();
        assert!(file.load_if_present().unwrap().is_none());
    }

    #[test]
    fn debug_output_hides_the_key_and_the_refresh_token() {
        let state = sample_state();
        let printed = format!("{state:?}");
        assert!(printed.contains("phone-1"), "{printed}");
        assert!(!printed.contains(&state.device_key), "{printed}");
        assert!(!printed.contains(&state.refresh_token), "{printed}");
    }

    #[test]
    fn only_the_newest_acknowledgements_are_remembered() {
        let mut state = sample_state();
        let done = StoredOutcome::Done {
            location: None,
            measured_at_ms: None,
        };
        for index in 0..=REMEMBERED_COMMANDS {
            state.remember(Acknowledged {
                command_id: format!("c{index}"),
                outcome: done.clone(),
            });
        }
        assert_eq!(state.acknowledged.len(), REMEMBERED_COMMANDS);
        assert!(
            state.acknowledged("c0").is_none(),
            "the oldest is forgotten"
        );
        assert!(state.acknowledged("c1").is_some());
        assert!(
            state
                .acknowledged(&format!("c{REMEMBERED_COMMANDS}"))
                .is_some()
        );
    }

    #[test]
    fn a_file_that_is_not_a_state_is_refused() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("phone.json");
        std::fs::write(&path, "{}").unwrap();
        let error = StateFile::new(&path).load().unwrap_err();
        assert!(error.to_string().contains("not an agent state"), "{error}");
    }
}
