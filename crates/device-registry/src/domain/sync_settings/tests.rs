//! Cloud-sync settings against the in-memory store: defaults, the version rule, both sides.

use std::sync::Arc;
use std::time::Duration;

use super::memory::MemorySyncSettingsStore;
use super::*;
use crate::domain::events::DeviceEvent;
use crate::domain::locations::memory::MemoryLocationStore;
use crate::domain::testing::{MemoryDeviceStore, mi_id};

fn registry() -> (DeviceRegistry, Arc<MemorySyncSettingsStore>) {
    let settings = Arc::new(MemorySyncSettingsStore::default());
    let registry = DeviceRegistry::new(
        Arc::new(MemoryDeviceStore::default()),
        Arc::new(MemoryLocationStore::default()),
        Arc::clone(&settings) as _,
        Duration::from_secs(300),
        Duration::from_secs(24 * 60 * 60),
    );
    (registry, settings)
}

fn delivery() -> SyncDelivery {
    SyncDelivery {
        command_id: "sync-1".into(),
        expires_at: UnixMillis::now(),
    }
}

fn owner() -> Owner {
    Owner {
        mi_id: mi_id(1001),
        session_id: "session-1".into(),
        auth_time: UnixMillis::now(),
        amr: vec!["pwd".into()],
        client_address: "198.51.100.7".into(),
    }
}

fn device() -> DeviceCaller {
    DeviceCaller {
        mi_id: mi_id(1001),
        device_id: "phone-1".into(),
    }
}

fn without_gallery() -> SyncChoices {
    let mut choices = SyncChoices::default();
    choices.data_types.gallery = false;
    choices
}

#[tokio::test]
async fn a_device_that_never_chose_has_the_defaults_at_version_zero() {
    let (registry, store) = registry();
    store.add_device(mi_id(1001), "phone-1");
    let settings = registry
        .sync_settings(mi_id(1001), "phone-1")
        .await
        .unwrap();
    assert_eq!(settings.version, 0);
    assert_eq!(settings.updated, None);
    let defaults = settings.choices;
    assert!(defaults.sync_enabled && defaults.wifi_only);
    assert!(defaults.data_types.gallery && defaults.data_types.browser);
    assert!(matches!(
        registry.sync_settings(mi_id(1001), "tablet-1").await,
        Err(GetSyncSettingsError::NotFound)
    ));
}

#[tokio::test]
async fn each_change_raises_the_version_and_a_stale_one_changes_nothing() {
    let (registry, store) = registry();
    store.add_device(mi_id(1001), "phone-1");
    let by_owner = registry
        .update_sync_settings_as_owner(
            &owner(),
            "198.51.100.7",
            "phone-1",
            0,
            without_gallery(),
            delivery(),
        )
        .await
        .unwrap();
    assert_eq!(by_owner.version, 1);
    assert_eq!(
        by_owner.updated.map(|(_, side)| side),
        Some(SyncSide::Owner)
    );
    assert!(!by_owner.choices.data_types.gallery);

    // The device still holds version 0: refused, nothing changes.
    let stale = registry
        .update_sync_settings_as_device(&device(), "", 0, SyncChoices::default())
        .await;
    assert!(matches!(
        stale,
        Err(UpdateSyncSettingsError::Stale { from_version: 0 })
    ));
    let now = registry
        .sync_settings(mi_id(1001), "phone-1")
        .await
        .unwrap();
    assert_eq!(now, by_owner);

    // Read again, then changed from the current version.
    let mut choices = now.choices;
    choices.wifi_only = false;
    let by_device = registry
        .update_sync_settings_as_device(&device(), "203.0.113.9", now.version, choices)
        .await
        .unwrap();
    assert_eq!(by_device.version, 2);
    assert_eq!(
        by_device.updated.map(|(_, side)| side),
        Some(SyncSide::Device)
    );
    assert_eq!(by_device.choices, choices);

    let events = store.events();
    assert_eq!(
        events,
        [
            DeviceEvent::SyncSettingsChanged {
                mi_id: mi_id(1001),
                device_id: "phone-1".into(),
                version: 1,
                actor: Actor::Owner {
                    session_id: "session-1".into(),
                    client_address: "198.51.100.7".into(),
                },
            },
            DeviceEvent::SyncSettingsChanged {
                mi_id: mi_id(1001),
                device_id: "phone-1".into(),
                version: 2,
                actor: Actor::Device {
                    client_address: "203.0.113.9".into(),
                },
            },
        ]
    );
}

#[tokio::test]
async fn another_accounts_device_is_not_found() {
    let (registry, store) = registry();
    store.add_device(mi_id(2002), "phone-1");
    assert!(matches!(
        registry
            .update_sync_settings_as_owner(
                &owner(),
                "",
                "phone-1",
                0,
                without_gallery(),
                delivery()
            )
            .await,
        Err(UpdateSyncSettingsError::NotFound)
    ));
    assert!(store.events().is_empty());
}
