//! What the unit tests share: a signed-in state to start from.

use std::collections::VecDeque;

use crate::key::DeviceKey;
use crate::state::{AgentState, DeviceProfile, Position};

/// A signed-in phone with a real key, standing somewhere in Beijing.
pub(crate) fn sample_state() -> AgentState {
    AgentState {
        mi_id: 4_070_000_001,
        session_id: "s-1".into(),
        refresh_token: "refresh-secret".into(),
        device: DeviceProfile {
            device_id: "phone-1".into(),
            model: "Redmi Note 13".into(),
            os: "HyperOS 2.0".into(),
            name: "Alice's phone".into(),
            hardware_id: String::new(),
            push_token: String::new(),
        },
        device_key: DeviceKey::generate().to_base64(),
        acknowledged: VecDeque::new(),
        position: Some(Position {
            latitude: 39.9,
            longitude: 116.4,
            accuracy_meters: 12.0,
        }),
        sync_settings: None,
    }
}
