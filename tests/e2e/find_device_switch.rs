//! The Find Device switch and the audit trail end to end: a device turns Find Device on by
//! itself; turning it off needs its owner's fresh access token in the same call (never a stale
//! one nor another account's), and the device event carries the owner's alert audience. Every
//! change leaves an audit entry naming who acted, from which session and address, that only
//! the owner lists.

use crate::device_credentials::{DeviceKey, FRESH, registry};
use crate::device_linking::wait_for_devices;
use crate::support::{
    Backends, TestPlatform, access_claims_for, authed, expect_refusal, field_violations,
    in_both_modes, unique_phone_number,
};
use mi_contracts::Reason;
use mi_proto::EventPayload;
use mi_proto::common::v1::Channel as CodeChannel;
use mi_proto::device::v1::device_registry_service_client::DeviceRegistryServiceClient;
use mi_proto::device::v1::{
    AuditEntry, EnrollDeviceRequest, GetDeviceRequest, ListAuditEntriesRequest,
    RemoveDeviceRequest, SetFindDeviceRequest,
};
use mi_proto::events::v1::FindDeviceDisabled;
use prost::Message;
use tonic::Code;
use tonic::transport::Channel;

fn switch(enabled: bool, owner_access_token: &str) -> SetFindDeviceRequest {
    SetFindDeviceRequest {
        enabled,
        owner_access_token: owner_access_token.into(),
    }
}

/// Every audit entry of the account `access_token` belongs to, a page of two at a time.
async fn audit_entries(
    registry: &mut DeviceRegistryServiceClient<Channel>,
    access_token: &str,
) -> Vec<AuditEntry> {
    let mut entries = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = ListAuditEntriesRequest {
            page_size: 2,
            page_token: page_token.clone(),
        };
        let page = registry
            .list_audit_entries(authed(request, access_token))
            .await
            .unwrap()
            .into_inner();
        assert!(page.entries.len() <= 2);
        entries.extend(page.entries);
        if page.next_page_token.is_empty() {
            return entries;
        }
        page_token = page.next_page_token;
    }
}

async fn find_device_goes_off_only_with_the_owners_fresh_proof(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    let mut registry = registry(&platform).await;
    let phone_number = unique_phone_number();
    let (alice, _) = platform
        .create_account(&phone_number, CodeChannel::Sms)
        .await;
    let (bob, _) = platform
        .create_account(&unique_phone_number(), CodeChannel::Sms)
        .await;
    // The sign-up's SignedIn has reached the registry, and with it the account's audience.
    wait_for_devices(&platform, (alice.mi_id, &alice.access_token), |listed| {
        !listed.is_empty()
    })
    .await;
    let key = DeviceKey::new();
    registry
        .enroll_device(authed(
            EnrollDeviceRequest {
                device: Some(key.device("alice-phone")),
            },
            &alice.access_token,
        ))
        .await
        .unwrap();
    let device_token = || key.token(alice.mi_id, "alice-phone", FRESH);

    let on = registry
        .set_find_device(authed(switch(true, ""), &device_token()))
        .await
        .unwrap()
        .into_inner();
    assert!(on.find_device_enabled);

    let claims = platform.access_claims(&alice.access_token).await;
    let stale = platform
        .config
        .sign_access_token(&mi_platform::auth::AccessClaims {
            auth_time: claims.auth_time - 3600,
            ..access_claims_for(alice.mi_id, &claims.sid)
        });
    let refusals = [
        (
            "no owner token",
            String::new(),
            Code::InvalidArgument,
            Reason::InvalidArgument,
        ),
        (
            "a stale owner token",
            stale,
            Code::FailedPrecondition,
            Reason::ReauthenticationRequired,
        ),
        (
            "another account's token",
            bob.access_token.clone(),
            Code::PermissionDenied,
            Reason::PermissionDenied,
        ),
        (
            "a forged token",
            format!("{}x", alice.access_token),
            Code::Unauthenticated,
            Reason::InvalidAccessToken,
        ),
        (
            "an oversized token",
            "t".repeat(4097),
            Code::InvalidArgument,
            Reason::InvalidArgument,
        ),
    ];
    for (what, owner_token, code, reason) in refusals {
        let refused = expect_refusal(
            registry
                .set_find_device(authed(switch(false, &owner_token), &device_token()))
                .await,
            code,
            Some(reason),
            what,
        );
        if code == Code::InvalidArgument {
            assert_eq!(field_violations(&refused)[0].0, "owner_access_token");
        }
    }
    let get = GetDeviceRequest {
        device_id: "alice-phone".into(),
    };
    let unchanged = registry
        .get_device(authed(get.clone(), &alice.access_token))
        .await
        .unwrap()
        .into_inner();
    assert!(unchanged.find_device_enabled, "refusals change nothing");
    // The device token alone, without the owner, is not enough either way round.
    expect_refusal(
        registry
            .set_find_device(authed(
                switch(false, &alice.access_token),
                &bob.access_token,
            ))
            .await,
        Code::Unauthenticated,
        Some(Reason::DeviceTokenInvalid),
        "an access token as the device token",
    );

    let off = registry
        .set_find_device(authed(switch(false, &alice.access_token), &device_token()))
        .await
        .unwrap()
        .into_inner();
    assert!(!off.find_device_enabled);
    assert_eq!(off.last_location, None);

    // The event the notification service alerts from names the owner's contacts.
    let disabled = platform
        .first_event("device.events", |event| {
            event.event_type == FindDeviceDisabled::EVENT_TYPE
                && FindDeviceDisabled::decode(event.payload.as_slice())
                    .is_ok_and(|payload| payload.mi_id == alice.mi_id)
        })
        .await;
    let disabled = FindDeviceDisabled::decode(disabled.payload.as_slice()).unwrap();
    assert_eq!(disabled.device_id, "alice-phone");
    assert!(
        disabled
            .audience
            .as_ref()
            .is_some_and(|audience| audience.contacts.contains(&phone_number)),
        "{disabled:?}"
    );
    platform.stop().await;
}

async fn the_audit_trail_says_who_acted_from_where_to_the_owner_only(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    let mut registry = registry(&platform).await;
    let (alice, _) = platform
        .create_account(&unique_phone_number(), CodeChannel::Sms)
        .await;
    let (bob, _) = platform
        .create_account(&unique_phone_number(), CodeChannel::Sms)
        .await;
    let key = DeviceKey::new();
    registry
        .enroll_device(authed(
            EnrollDeviceRequest {
                device: Some(key.device("alice-phone")),
            },
            &alice.access_token,
        ))
        .await
        .unwrap();
    for (enabled, owner_token) in [(true, ""), (false, alice.access_token.as_str())] {
        registry
            .set_find_device(authed(
                switch(enabled, owner_token),
                &key.token(alice.mi_id, "alice-phone", FRESH),
            ))
            .await
            .unwrap();
    }
    registry
        .remove_device(authed(
            RemoveDeviceRequest {
                device_id: "alice-phone".into(),
            },
            &alice.access_token,
        ))
        .await
        .unwrap();

    let session = platform.access_claims(&alice.access_token).await.sid;
    let entries = audit_entries(&mut registry, &alice.access_token).await;
    let trail: Vec<(&str, &str, &str, &str, &str)> = entries
        .iter()
        .filter(|entry| entry.device_id == "alice-phone")
        .map(|entry| {
            (
                entry.action.as_str(),
                entry.actor.as_str(),
                entry.session_id.as_str(),
                entry.client_address.as_str(),
                entry.result.as_str(),
            )
        })
        .collect();
    let owner = ("owner", session.as_str(), "127.0.0.1", "ok");
    let device = ("device", "", "127.0.0.1", "ok");
    let with =
        |action, (actor, session, address, result)| (action, actor, session, address, result);
    assert_eq!(
        trail,
        [
            with("device.removed", owner),
            with("find_device.disabled", device),
            with("find_device.enabled", device),
            with("device.linked", owner),
        ],
        "newest first: {entries:?}"
    );
    let times: Vec<_> = entries
        .iter()
        .map(|entry| entry.time.unwrap().seconds)
        .collect();
    assert!(times.windows(2).all(|pair| pair[0] >= pair[1]), "{times:?}");

    let bobs = audit_entries(&mut registry, &bob.access_token).await;
    assert!(
        bobs.iter().all(|entry| entry.device_id != "alice-phone"
            && entries
                .iter()
                .all(|alices| alices.entry_id != entry.entry_id)),
        "another account's trail: {bobs:?}"
    );
    expect_refusal(
        registry
            .list_audit_entries(authed(
                ListAuditEntriesRequest {
                    page_size: -1,
                    page_token: String::new(),
                },
                &alice.access_token,
            ))
            .await,
        Code::InvalidArgument,
        Some(Reason::InvalidArgument),
        "a negative page size",
    );
    expect_refusal(
        registry
            .list_audit_entries(tonic::Request::new(ListAuditEntriesRequest::default()))
            .await,
        Code::Unauthenticated,
        Some(Reason::MissingAccessToken),
        "no access token",
    );
    platform.stop().await;
}

in_both_modes!(
    find_device_goes_off_only_with_the_owners_fresh_proof,
    the_audit_trail_says_who_acted_from_where_to_the_owner_only,
);
