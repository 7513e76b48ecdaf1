//! The registry's rules against the in-memory store: linking, paging, enrollment, device
//! tokens and removal.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64_URL;
use mi_contracts::{DeviceCredential, DeviceInfo, DeviceKeyAlgorithm, UnixMillis};
use mi_platform::auth::{DEVICE_TOKEN_AUDIENCE, DeviceClaims};
use mi_platform::crypto::SecretKey;
use mi_platform::tokens::TokenSigner;

use super::events::{Actor, DeviceEvent};
use super::locations::memory::MemoryLocationStore;
use super::sync_settings::memory::MemorySyncSettingsStore;
use super::testing::{MemoryDeviceStore, info, mi_id};
use super::*;

const WINDOW: Duration = Duration::from_secs(300);

fn registry() -> (DeviceRegistry, Arc<MemoryDeviceStore>) {
    let store = Arc::new(MemoryDeviceStore::default());
    let registry = DeviceRegistry::new(
        Arc::clone(&store) as _,
        Arc::new(MemoryLocationStore::default()),
        Arc::new(MemorySyncSettingsStore::default()),
        WINDOW,
        Duration::from_secs(24 * 60 * 60),
    );
    (registry, store)
}

fn owner(raw_mi_id: u64, auth_age: Duration) -> Owner {
    Owner {
        mi_id: mi_id(raw_mi_id),
        session_id: "session-1".into(),
        auth_time: UnixMillis::now().saturating_sub(auth_age),
        client_address: "198.51.100.7".into(),
        amr: vec!["pwd".into()],
    }
}

/// A device key: signs device tokens, and its credential.
struct DeviceKey(TokenSigner);

impl DeviceKey {
    fn new() -> Self {
        Self(TokenSigner::from_seed(&SecretKey::generate(), None).expect("signer"))
    }

    fn credential(&self) -> DeviceCredential {
        DeviceCredential {
            algorithm: DeviceKeyAlgorithm::Ed25519,
            public_key: BASE64_URL.decode(&self.0.public_key().x).expect("x"),
            push_token: "push-1".into(),
        }
    }

    /// A token for device `device_id` of `raw_mi_id`, issued `age_secs` ago and living
    /// `lifetime_secs`.
    fn token(&self, raw_mi_id: u64, device_id: &str, jti: &str, times: (i64, i64)) -> String {
        let (age_secs, lifetime_secs) = times;
        let iat = UnixMillis::now().as_i64() / 1000 - age_secs;
        self.0
            .sign(&DeviceClaims {
                aud: DEVICE_TOKEN_AUDIENCE.into(),
                sub: device_id.into(),
                mi_id: raw_mi_id,
                iat,
                exp: iat + lifetime_secs,
                jti: jti.into(),
            })
            .expect("sign")
    }
}

fn enrolled(device_id: &str, key: &DeviceKey) -> DeviceInfo {
    DeviceInfo {
        credential: Some(key.credential()),
        ..info(device_id)
    }
}

#[tokio::test]
async fn a_relink_keeps_the_first_link_time_and_deletion_unlinks_once() {
    let (registry, _) = registry();
    let at = UnixMillis::from_i64;
    let linked = registry
        .link(
            "e1",
            mi_id(7),
            info("phone"),
            at(10),
            &AccountNews::default(),
        )
        .await;
    assert_eq!(
        linked.expect("link"),
        LinkOutcome::Linked {
            new_device: true,
            lost_mode_restored: false
        }
    );
    let again = registry
        .link(
            "e1",
            mi_id(7),
            info("phone"),
            at(10),
            &AccountNews::default(),
        )
        .await;
    assert_eq!(again.expect("again"), LinkOutcome::AlreadyApplied);
    let renamed = DeviceInfo {
        name: "renamed".into(),
        ..info("phone")
    };
    let relinked = registry
        .link("e2", mi_id(7), renamed, at(50), &AccountNews::default())
        .await;
    assert_eq!(
        relinked.expect("relink"),
        LinkOutcome::Linked {
            new_device: false,
            lost_mode_restored: false
        }
    );
    registry
        .link(
            "e3",
            mi_id(8),
            info("other"),
            at(20),
            &AccountNews::default(),
        )
        .await
        .expect("link");

    let listed = registry
        .list_devices(mi_id(7), None, 10)
        .await
        .expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].info.name.as_str(), listed[0].linked_at),
        ("renamed", at(10))
    );

    assert!(
        registry
            .unlink_account("e4", mi_id(7))
            .await
            .expect("unlink")
    );
    assert!(
        !registry
            .unlink_account("e4", mi_id(7))
            .await
            .expect("again")
    );
    assert!(
        registry
            .list_devices(mi_id(7), None, 10)
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(
        registry
            .list_devices(mi_id(8), None, 10)
            .await
            .expect("list")
            .len(),
        1
    );
}

#[tokio::test]
async fn pages_follow_on_from_the_last_device_of_the_previous_one() {
    let (registry, _) = registry();
    for (event, device_id, linked_at) in [("e1", "a", 10), ("e2", "b", 30), ("e3", "c", 20)] {
        registry
            .link(
                event,
                mi_id(7),
                info(device_id),
                UnixMillis::from_i64(linked_at),
                &AccountNews::default(),
            )
            .await
            .expect("link");
    }
    let first = registry
        .list_devices(mi_id(7), None, 2)
        .await
        .expect("first");
    let ids: Vec<&str> = first.iter().map(|d| d.info.device_id.as_str()).collect();
    assert_eq!(ids, ["b", "c"]);
    let after = first.last().map(Device::position);
    let second = registry
        .list_devices(mi_id(7), after.as_ref(), 2)
        .await
        .expect("second");
    let ids: Vec<&str> = second.iter().map(|d| d.info.device_id.as_str()).collect();
    assert_eq!(ids, ["a"]);
}

#[tokio::test]
async fn enrolling_needs_a_usable_key_and_a_recent_authentication() {
    let (registry, store) = registry();
    let key = DeviceKey::new();
    let recent = owner(7, Duration::ZERO);

    let without_key = registry.enroll(&recent, info("phone")).await;
    assert!(
        matches!(
            without_key,
            Err(EnrollError::InvalidDevice {
                field: "device.credential",
                ..
            })
        ),
        "{without_key:?}"
    );
    // Not a point on the curve (the y coordinate 2 has no x).
    let mut not_a_point = key.credential();
    not_a_point.public_key = [2].into_iter().chain([0; 31]).collect();
    let bad_key = DeviceInfo {
        credential: Some(not_a_point),
        ..info("phone")
    };
    let refused = registry.enroll(&recent, bad_key).await;
    assert!(
        matches!(
            refused,
            Err(EnrollError::InvalidDevice {
                field: "device.credential.public_key",
                ..
            })
        ),
        "{refused:?}"
    );
    let stale = registry
        .enroll(&owner(7, WINDOW * 2), enrolled("phone", &key))
        .await;
    assert!(
        matches!(stale, Err(EnrollError::ReauthenticationRequired)),
        "{stale:?}"
    );
    assert!(store.events().is_empty(), "refusals change nothing");

    let device = registry
        .enroll(&recent, enrolled("phone", &key))
        .await
        .expect("enrolled");
    assert!(device.enrolled);
    assert_eq!(device.info.credential, None, "the key is never shown");
    assert!(matches!(
        store.events().as_slice(),
        [DeviceEvent::Linked { new_device: true, info, .. }] if info.credential.is_none()
    ));
}

#[tokio::test]
async fn a_device_token_works_once_and_only_for_the_device_whose_key_signed_it() {
    let (registry, _) = registry();
    let recent = owner(7, Duration::ZERO);
    let (phone_key, tablet_key, stranger_key) =
        (DeviceKey::new(), DeviceKey::new(), DeviceKey::new());
    for (device_id, key) in [("phone", &phone_key), ("tablet", &tablet_key)] {
        registry
            .enroll(&recent, enrolled(device_id, key))
            .await
            .expect("enroll");
    }
    registry
        .enroll(&owner(8, Duration::ZERO), enrolled("phone", &stranger_key))
        .await
        .expect("enroll");

    let fresh = (0, 60);
    let token = phone_key.token(7, "phone", "j1", fresh);
    let caller = registry.authenticate_device(&token).await.expect("valid");
    assert_eq!(
        (caller.mi_id, caller.device_id.as_str()),
        (mi_id(7), "phone")
    );

    let refused = [
        ("replayed", token),
        (
            "another device's key",
            tablet_key.token(7, "phone", "j2", fresh),
        ),
        (
            "another account's device",
            phone_key.token(8, "phone", "j3", fresh),
        ),
        ("unknown device", phone_key.token(7, "watch", "j4", fresh)),
        ("expired", phone_key.token(7, "phone", "j5", (120, 60))),
        (
            "too long-lived",
            phone_key.token(7, "phone", "j6", (0, 3600)),
        ),
        (
            "from the future",
            phone_key.token(7, "phone", "j7", (-600, 60)),
        ),
        ("without jti", phone_key.token(7, "phone", "", fresh)),
        ("not a token", "not.a.token".to_owned()),
    ];
    for (what, token) in refused {
        let result = registry.authenticate_device(&token).await;
        assert!(
            matches!(result, Err(DeviceAuthError::Invalid(_))),
            "{what}: {result:?}"
        );
    }
}

#[tokio::test]
async fn removal_needs_a_recent_authentication_and_ends_the_key() {
    let (registry, store) = registry();
    let key = DeviceKey::new();
    let recent = owner(7, Duration::ZERO);
    registry
        .enroll(&recent, enrolled("phone", &key))
        .await
        .expect("enroll");

    let stale = registry.remove_device(&owner(7, WINDOW * 2), "phone").await;
    assert!(
        matches!(stale, Err(RemoveDeviceError::ReauthenticationRequired)),
        "{stale:?}"
    );
    let foreign = registry
        .remove_device(&owner(8, Duration::ZERO), "phone")
        .await;
    assert!(
        matches!(foreign, Err(RemoveDeviceError::NotFound)),
        "{foreign:?}"
    );
    assert!(matches!(
        registry.get_device(mi_id(8), "phone").await,
        Err(GetDeviceError::NotFound)
    ));

    registry
        .remove_device(&recent, "phone")
        .await
        .expect("removed");
    assert!(matches!(
        store.events().last(),
        Some(DeviceEvent::Removed { device_id, actor: Actor::Owner { session_id, .. }, .. })
            if device_id == "phone" && session_id == "session-1"
    ));
    let token = key.token(7, "phone", "j1", (0, 60));
    assert!(matches!(
        registry.authenticate_device(&token).await,
        Err(DeviceAuthError::Invalid(_))
    ));
    assert!(matches!(
        registry.get_device(mi_id(7), "phone").await,
        Err(GetDeviceError::NotFound)
    ));
}

#[tokio::test]
async fn a_status_report_is_kept_with_the_time_it_was_seen() {
    let (registry, _) = registry();
    let key = DeviceKey::new();
    registry
        .enroll(&owner(7, Duration::ZERO), enrolled("phone", &key))
        .await
        .expect("enroll");
    let caller = registry
        .authenticate_device(&key.token(7, "phone", "j1", (0, 60)))
        .await
        .expect("valid");
    let report = StatusReport {
        battery_percent: Some(42),
        network: Some(NetworkType::Wifi),
    };
    let seen_at = registry.report_status(&caller, report).await.expect("kept");
    let device = registry
        .get_device(mi_id(7), "phone")
        .await
        .expect("device");
    assert_eq!(
        device.status,
        DeviceStatus {
            last_seen_at: Some(seen_at),
            battery_percent: Some(42),
            network: Some(NetworkType::Wifi),
        }
    );
}
