//! An agent whose registry cannot be reached keeps trying, with growing waits, over the real
//! gRPC transport, and stops when asked.

// Always true in a test binary: tells clippy this is test code, where tests may unwrap.
#![cfg(test)]

use std::time::Duration;

use mi_device_agent::{
    Agent, AgentState, DeviceKey, DeviceProfile, Did, Endpoints, RunEnd, RunOptions, StateFile,
};
use mi_platform::backoff::Backoff;

/// A port nothing listens on: bound, then released.
fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

#[tokio::test]
async fn an_unreachable_registry_is_retried_with_growing_waits() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("phone.json");
    StateFile::new(&path)
        .save(&AgentState {
            mi_id: 4_070_000_001,
            session_id: "s-1".into(),
            refresh_token: "r".into(),
            device: DeviceProfile {
                device_id: "phone-1".into(),
                model: "m".into(),
                os: "o".into(),
                name: "n".into(),
                hardware_id: String::new(),
                push_token: String::new(),
            },
            device_key: DeviceKey::generate().to_base64(),
            acknowledged: Default::default(),
            position: None,
            sync_settings: None,
        })
        .unwrap();
    let url = closed_port_url();
    let agent = Agent::new(
        &path,
        Endpoints {
            identity: url.clone(),
            registry: url,
        },
    );
    let options = RunOptions {
        backoff: Backoff {
            first: Duration::from_millis(20),
            max: Duration::from_millis(80),
        },
        ..RunOptions::default()
    };
    let (did, mut done) = tokio::sync::mpsc::unbounded_channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let watcher = async move {
        let mut seen = Vec::new();
        while seen.len() < 4 {
            seen.push(done.recv().await.unwrap());
        }
        stop.send(()).unwrap();
        seen
    };
    let run = agent.run_until(&options, async { stopped.await.unwrap() }, did);
    let (end, seen) = tokio::time::timeout(Duration::from_secs(30), async {
        tokio::join!(run, watcher)
    })
    .await
    .unwrap();
    assert_eq!(end.unwrap(), RunEnd::Stopped);
    for (index, did) in seen.iter().enumerate() {
        let Did::Disconnected {
            attempt, retry_in, ..
        } = did
        else {
            panic!("never connected, yet {did:?}");
        };
        let base = options.backoff.after(*attempt);
        assert_eq!(*attempt, u32::try_from(index).unwrap() + 1);
        assert!(*retry_in >= base / 2 && *retry_in <= base, "{did:?}");
    }
    assert!(
        path.exists(),
        "a failing registry changes nothing on the phone"
    );
}
