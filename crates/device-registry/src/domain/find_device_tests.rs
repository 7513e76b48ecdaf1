//! Unit tests of the accounts projection, the Find Device switch, the audit trail and the
//! reactivation lock, against the in-memory store.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64_URL;
use mi_contracts::{DeviceCredential, DeviceInfo, DeviceKeyAlgorithm, UnixMillis};
use mi_platform::crypto::SecretKey;
use mi_platform::tokens::TokenSigner;

use super::events::{Audience, DeviceEvent};
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

fn owner(raw_mi_id: u64) -> Owner {
    Owner {
        mi_id: mi_id(raw_mi_id),
        session_id: format!("session-of-{raw_mi_id}"),
        auth_time: UnixMillis::now(),
        client_address: "198.51.100.7".into(),
        amr: vec!["pwd".into()],
    }
}

/// Device `device_id` on hardware `hardware_id`, with a fresh Ed25519 key.
fn on_hardware(device_id: &str, hardware_id: &str) -> DeviceInfo {
    let signer = TokenSigner::from_seed(&SecretKey::generate(), None).expect("signer");
    DeviceInfo {
        hardware_id: hardware_id.into(),
        credential: Some(DeviceCredential {
            algorithm: DeviceKeyAlgorithm::Ed25519,
            public_key: BASE64_URL.decode(&signer.public_key().x).expect("x"),
            push_token: String::new(),
        }),
        ..info(device_id)
    }
}

fn caller(raw_mi_id: u64, device_id: &str) -> DeviceCaller {
    DeviceCaller {
        mi_id: mi_id(raw_mi_id),
        device_id: device_id.into(),
    }
}

fn proof(raw_mi_id: u64, auth_age: Duration, amr: &[&str]) -> Option<Owner> {
    Some(Owner {
        auth_time: UnixMillis::now().saturating_sub(auth_age),
        amr: amr.iter().map(|&method| method.to_owned()).collect(),
        ..owner(raw_mi_id)
    })
}

fn audience(contact: &str) -> Audience {
    Audience {
        contacts: vec![contact.into()],
        locale: "zh-CN".into(),
    }
}

fn audience_of(event: &DeviceEvent) -> Option<&Audience> {
    match event {
        DeviceEvent::Linked { audience, .. }
        | DeviceEvent::Removed { audience, .. }
        | DeviceEvent::FindDeviceChanged { audience, .. } => Some(audience),
        _ => None,
    }
}

#[tokio::test]
async fn device_events_carry_the_audience_identity_last_announced_each_event_once() {
    let (registry, store) = registry();
    let news = |contact: &str| AccountNews {
        audience: Some(audience(contact)),
        has_second_factor: None,
    };
    assert!(
        registry
            .apply_account_news("i1", mi_id(7), &news("+8613800000001"))
            .await
            .expect("news")
    );
    assert!(
        !registry
            .apply_account_news("i1", mi_id(7), &news("+8613800000009"))
            .await
            .expect("again"),
        "an event is applied once"
    );
    registry
        .enroll(&owner(7), on_hardware("phone", "hw-1"))
        .await
        .expect("enroll");
    registry
        .apply_account_news("i2", mi_id(7), &news("alice@example.com"))
        .await
        .expect("news");
    registry
        .remove_device(&owner(7), "phone")
        .await
        .expect("remove");
    // A sign-in brings its own audience with the link.
    registry
        .link(
            "i3",
            mi_id(7),
            info("tablet"),
            UnixMillis::now(),
            &AccountNews {
                audience: Some(audience("+8613800000003")),
                has_second_factor: None,
            },
        )
        .await
        .expect("link");

    // ...but alerts nobody of it: identity alerted that sign-in itself. Later events carry it.
    registry
        .set_find_device(&caller(7, "tablet"), true, None, "")
        .await
        .expect("on");

    let contacts: Vec<Vec<String>> = store
        .events()
        .iter()
        .map(|event| audience_of(event).expect("an audience").contacts.clone())
        .collect();
    assert_eq!(
        contacts,
        [
            vec!["+8613800000001".to_owned()],
            vec!["alice@example.com".to_owned()],
            Vec::new(),
            vec!["+8613800000003".to_owned()],
        ]
    );
}

#[tokio::test]
async fn find_device_turns_on_freely_and_off_only_with_the_owners_recent_proof() {
    let (registry, store) = registry();
    registry
        .enroll(&owner(7), on_hardware("phone", "hw-1"))
        .await
        .expect("enroll");
    let phone = caller(7, "phone");
    let on = registry
        .set_find_device(&phone, true, None, "203.0.113.5")
        .await
        .expect("on");
    assert!(on.find_device.enabled);
    let events = store.events().len();
    registry
        .set_find_device(&phone, true, None, "203.0.113.5")
        .await
        .expect("on again");
    assert_eq!(store.events().len(), events, "no change, no event");

    let refusals = [
        ("no proof", None),
        ("another account's", proof(8, Duration::ZERO, &["pwd"])),
        ("a stale proof", proof(7, WINDOW * 2, &["pwd"])),
    ];
    for (what, refused) in refusals {
        let result = registry
            .set_find_device(&phone, false, refused, "203.0.113.5")
            .await;
        assert!(
            matches!(
                (what, &result),
                ("no proof", Err(SetFindDeviceError::ProofRequired))
                    | ("another account's", Err(SetFindDeviceError::NotTheOwner))
                    | (
                        "a stale proof",
                        Err(SetFindDeviceError::ReauthenticationRequired)
                    )
            ),
            "{what}: {result:?}"
        );
    }
    // With a second factor on the account, a password alone is not enough.
    registry
        .apply_account_news(
            "i1",
            mi_id(7),
            &AccountNews {
                audience: None,
                has_second_factor: Some(true),
            },
        )
        .await
        .expect("news");
    let password_only = registry
        .set_find_device(&phone, false, proof(7, Duration::ZERO, &["pwd"]), "")
        .await;
    assert!(
        matches!(
            password_only,
            Err(SetFindDeviceError::ReauthenticationRequired)
        ),
        "{password_only:?}"
    );
    assert!(
        registry
            .get_device(mi_id(7), "phone")
            .await
            .expect("device")
            .find_device
            .enabled,
        "refusals change nothing"
    );

    let off = registry
        .set_find_device(
            &phone,
            false,
            proof(7, Duration::ZERO, &["pwd", "otp"]),
            "203.0.113.5",
        )
        .await
        .expect("off");
    assert!(!off.find_device.enabled);
    assert_eq!(off.find_device.last_location, None);
    let switches: Vec<bool> = store
        .events()
        .iter()
        .filter_map(|event| match event {
            DeviceEvent::FindDeviceChanged { enabled, .. } => Some(*enabled),
            _ => None,
        })
        .collect();
    assert_eq!(switches, [true, false]);
}

#[tokio::test]
async fn the_audit_trail_lists_an_accounts_own_entries_newest_first_a_page_at_a_time() {
    let (registry, _) = registry();
    registry
        .enroll(&owner(7), on_hardware("phone", "hw-1"))
        .await
        .expect("enroll");
    registry
        .enroll(&owner(8), on_hardware("bob-phone", "hw-2"))
        .await
        .expect("enroll");
    registry
        .set_find_device(&caller(7, "phone"), true, None, "203.0.113.5")
        .await
        .expect("on");
    registry
        .remove_device(&owner(7), "phone")
        .await
        .expect("remove");

    let first = registry
        .list_audit_entries(mi_id(7), None, 2)
        .await
        .expect("first");
    let summary = |entries: &[AuditEntry]| -> Vec<(String, String, String, String)> {
        entries
            .iter()
            .map(|entry| {
                (
                    entry.action.clone(),
                    entry.actor.clone(),
                    entry.session_id.clone(),
                    entry.client_address.clone(),
                )
            })
            .collect()
    };
    let entry = |action: &str, actor: &str, session: &str, address: &str| {
        (action.into(), actor.into(), session.into(), address.into())
    };
    assert_eq!(
        summary(&first),
        [
            entry("device.removed", "owner", "session-of-7", "198.51.100.7"),
            entry("find_device.enabled", "device", "", "203.0.113.5"),
        ]
    );
    let rest = registry
        .list_audit_entries(mi_id(7), first.last().map(AuditEntry::position).as_ref(), 2)
        .await
        .expect("rest");
    assert_eq!(
        summary(&rest),
        [entry(
            "device.linked",
            "owner",
            "session-of-7",
            "198.51.100.7"
        )]
    );
    assert!(rest.iter().chain(&first).all(|entry| entry.result == "ok"));
}

#[tokio::test]
async fn an_erased_device_stays_with_its_account_until_removed_and_keeps_its_lost_mode() {
    let (registry, store) = registry();
    registry
        .enroll(&owner(7), on_hardware("phone", "hw-1"))
        .await
        .expect("enroll");
    let lost_mode = LostMode {
        message: "Please call me".into(),
        phone_number: "+8613800000001".into(),
        footnote: String::new(),
        since: Some(UnixMillis::from_i64(1_000)),
    };
    store.mark_erased(
        mi_id(7),
        "phone",
        UnixMillis::now(),
        Some(lost_mode.clone()),
    );

    // Another account: refused on enrollment, not linked from a sign-in.
    let enrolled = registry
        .enroll(&owner(8), on_hardware("thief-phone", "hw-1"))
        .await;
    assert!(
        matches!(enrolled, Err(EnrollError::ReactivationLocked)),
        "{enrolled:?}"
    );
    let linked = registry
        .link(
            "s1",
            mi_id(8),
            on_hardware("thief-phone", "hw-1"),
            UnixMillis::now(),
            &AccountNews::default(),
        )
        .await
        .expect("link");
    assert_eq!(linked, LinkOutcome::ReactivationLocked);
    assert!(
        registry
            .list_devices(mi_id(8), None, 10)
            .await
            .expect("list")
            .is_empty()
    );
    // Other hardware is not locked.
    registry
        .enroll(&owner(8), on_hardware("bob-phone", "hw-2"))
        .await
        .expect("other hardware");

    // The same account: the new install takes over the Lost Mode set before the erase.
    let outcome = registry
        .link(
            "s2",
            mi_id(7),
            on_hardware("phone-reinstalled", "hw-1"),
            UnixMillis::now(),
            &AccountNews::default(),
        )
        .await
        .expect("link");
    assert_eq!(
        outcome,
        LinkOutcome::Linked {
            new_device: true,
            lost_mode_restored: true
        }
    );
    let restored = registry
        .get_device(mi_id(7), "phone-reinstalled")
        .await
        .expect("device");
    assert_eq!(restored.find_device.lost_mode, Some(lost_mode));

    // Removing the erased device releases the lock.
    registry
        .remove_device(&owner(7), "phone")
        .await
        .expect("remove");
    registry
        .enroll(&owner(8), on_hardware("thief-phone", "hw-1"))
        .await
        .expect("enrolled once the owner removed it");
}
