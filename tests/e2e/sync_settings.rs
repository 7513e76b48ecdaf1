//! Cloud-sync settings end to end: the owner (access token) and the device (device token) both
//! read and change them; a change made from an old version is refused with ABORTED
//! SYNC_SETTINGS_STALE and changes nothing; another account's device is NOT_FOUND.

use crate::device_credentials::{DeviceKey, FRESH, registry};
use crate::find_device_commands::next_command;
use crate::support::{
    Backends, TestPlatform, authed, expect_refusal, in_both_modes, unique_phone_number,
};
use mi_contracts::Reason;
use mi_proto::common::v1::Channel as CodeChannel;
use mi_proto::device::v1::acknowledge_command_request::Outcome;
use mi_proto::device::v1::command_action::Action;
use mi_proto::device::v1::{
    AcknowledgeCommandRequest, CommandDone, CommandState, EnrollDeviceRequest,
    GetOwnSyncSettingsRequest, GetSyncSettingsRequest, ListCommandsRequest,
    OpenCommandChannelRequest, RemoveDeviceRequest, SyncSettings, UpdateOwnSyncSettingsRequest,
    UpdateSyncSettingsRequest,
};
use tonic::Code;

fn owner_update(settings: SyncSettings) -> UpdateSyncSettingsRequest {
    UpdateSyncSettingsRequest {
        settings: Some(settings),
    }
}

fn device_update(settings: SyncSettings) -> UpdateOwnSyncSettingsRequest {
    UpdateOwnSyncSettingsRequest {
        settings: Some(settings),
    }
}

fn get(device_id: &str) -> GetSyncSettingsRequest {
    GetSyncSettingsRequest {
        device_id: device_id.into(),
    }
}

async fn owner_and_device_change_settings_by_version(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    let mut registry = registry(&platform).await;
    let (owner, _) = platform
        .create_account(&unique_phone_number(), CodeChannel::Sms)
        .await;
    let key = DeviceKey::new();
    registry
        .enroll_device(authed(
            EnrollDeviceRequest {
                device: Some(key.device("phone-5")),
            },
            &owner.access_token,
        ))
        .await
        .unwrap();
    let device_token = || key.token(owner.mi_id, "phone-5", FRESH);

    // Never set: the defaults at version 0.
    let defaults = registry
        .get_sync_settings(authed(get("phone-5"), &owner.access_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(defaults.device_id, "phone-5");
    assert_eq!((defaults.version, defaults.update_time), (0, None));
    assert!(defaults.sync_enabled && defaults.wifi_only);
    assert!(defaults.gallery && defaults.contacts && defaults.browser);
    let own = registry
        .get_own_sync_settings(authed(GetOwnSyncSettingsRequest {}, &device_token()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(own, defaults);

    // The owner turns the gallery off, from version 0.
    let by_owner = registry
        .update_sync_settings(authed(
            owner_update(SyncSettings {
                gallery: false,
                ..defaults.clone()
            }),
            &owner.access_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_owner.version, 1);
    assert!(!by_owner.gallery);
    assert_eq!(by_owner.updated_by, "owner");
    assert!(by_owner.update_time.is_some());

    // The owner's change reaches the device over its command channel, as the settings after
    // it; the device takes them and says so.
    let mut channel = registry
        .open_command_channel(authed(OpenCommandChannelRequest {}, &device_token()))
        .await
        .unwrap()
        .into_inner();
    let delivered = next_command(&mut channel).await;
    match delivered
        .action
        .as_ref()
        .and_then(|action| action.action.as_ref())
    {
        Some(Action::ApplySyncSettings(settings)) => assert_eq!(settings, &by_owner),
        other => panic!("expected the owner's settings, got {other:?}"),
    }
    let taken = registry
        .acknowledge_command(authed(
            AcknowledgeCommandRequest {
                command_id: delivered.command_id.clone(),
                outcome: Some(Outcome::Done(CommandDone { location: None })),
            },
            &device_token(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(taken.state(), CommandState::Succeeded);
    drop(channel);

    // The device, still holding version 0, is refused; nothing changes.
    let stale = SyncSettings {
        wifi_only: false,
        ..defaults.clone()
    };
    expect_refusal(
        registry
            .update_own_sync_settings(authed(device_update(stale), &device_token()))
            .await,
        Code::Aborted,
        Some(Reason::SyncSettingsStale),
        "a change from an old version",
    );
    let own = registry
        .get_own_sync_settings(authed(GetOwnSyncSettingsRequest {}, &device_token()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(own, by_owner);

    // Read again, then changed from the current version.
    let by_device = registry
        .update_own_sync_settings(authed(
            device_update(SyncSettings {
                wifi_only: false,
                // The device token names the device; this is ignored.
                device_id: "another".into(),
                ..own
            }),
            &device_token(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_device.version, 2);
    assert_eq!(by_device.device_id, "phone-5");
    assert!(!by_device.wifi_only && !by_device.gallery);
    assert_eq!(by_device.updated_by, "device");
    // The device's own change is not sent back to it: still only the owner's command.
    let commands = registry
        .list_commands(authed(
            ListCommandsRequest {
                device_id: "phone-5".into(),
                ..Default::default()
            },
            &owner.access_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .commands;
    assert_eq!(
        commands
            .iter()
            .map(|command| command.command_id.as_str())
            .collect::<Vec<_>>(),
        [delivered.command_id.as_str()]
    );
    let seen = registry
        .get_sync_settings(authed(get("phone-5"), &owner.access_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(seen, by_device);
    expect_refusal(
        registry
            .update_sync_settings(authed(owner_update(by_owner), &owner.access_token))
            .await,
        Code::Aborted,
        Some(Reason::SyncSettingsStale),
        "the owner's change from version 1",
    );
    platform.stop().await;
}

async fn settings_are_the_owners_and_the_devices_alone(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    let mut registry = registry(&platform).await;
    let (owner, _) = platform
        .create_account(&unique_phone_number(), CodeChannel::Sms)
        .await;
    let (stranger, _) = platform
        .create_account(&unique_phone_number(), CodeChannel::Sms)
        .await;
    let key = DeviceKey::new();
    registry
        .enroll_device(authed(
            EnrollDeviceRequest {
                device: Some(key.device("phone-6")),
            },
            &owner.access_token,
        ))
        .await
        .unwrap();
    let settings = SyncSettings {
        device_id: "phone-6".into(),
        ..SyncSettings::default()
    };
    expect_refusal(
        registry
            .get_sync_settings(authed(get("phone-6"), &stranger.access_token))
            .await,
        Code::NotFound,
        Some(Reason::NotFound),
        "GetSyncSettings of another account's device",
    );
    expect_refusal(
        registry
            .update_sync_settings(authed(
                owner_update(settings.clone()),
                &stranger.access_token,
            ))
            .await,
        Code::NotFound,
        Some(Reason::NotFound),
        "UpdateSyncSettings of another account's device",
    );
    expect_refusal(
        registry
            .update_sync_settings(authed(
                UpdateSyncSettingsRequest { settings: None },
                &owner.access_token,
            ))
            .await,
        Code::InvalidArgument,
        Some(Reason::InvalidArgument),
        "UpdateSyncSettings without settings",
    );
    expect_refusal(
        registry
            .update_own_sync_settings(authed(
                UpdateOwnSyncSettingsRequest { settings: None },
                &key.token(owner.mi_id, "phone-6", FRESH),
            ))
            .await,
        Code::InvalidArgument,
        Some(Reason::InvalidArgument),
        "UpdateOwnSyncSettings without settings",
    );
    let unchanged = registry
        .get_sync_settings(authed(get("phone-6"), &owner.access_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unchanged.version, 0, "refusals change nothing");

    // A removed device's key no longer reads or changes anything.
    registry
        .remove_device(authed(
            RemoveDeviceRequest {
                device_id: "phone-6".into(),
            },
            &owner.access_token,
        ))
        .await
        .unwrap();
    expect_refusal(
        registry
            .get_own_sync_settings(authed(
                GetOwnSyncSettingsRequest {},
                &key.token(owner.mi_id, "phone-6", FRESH),
            ))
            .await,
        Code::Unauthenticated,
        Some(Reason::DeviceTokenInvalid),
        "GetOwnSyncSettings of a removed device",
    );
    expect_refusal(
        registry
            .get_sync_settings(authed(get("phone-6"), &owner.access_token))
            .await,
        Code::NotFound,
        Some(Reason::NotFound),
        "GetSyncSettings of a removed device",
    );
    platform.stop().await;
}

in_both_modes!(
    owner_and_device_change_settings_by_version,
    settings_are_the_owners_and_the_devices_alone,
);
