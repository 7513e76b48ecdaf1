//! The reactivation lock, identity's side, end to end: once the device registry says a device
//! was erased (`DeviceErased` on the device topic), its hardware refuses sign-ups and other
//! accounts' sign-ins with FAILED_PRECONDITION REACTIVATION_LOCKED naming the owner's masked
//! contact, while the owner still signs in on it; the owner's removal (`DeviceRemoved`)
//! releases it.
//!
//! The events are published here as the registry would, so identity's side is checked alone
//! (sign-up, the owner on the same hardware, a redelivered event); `find_my_phone` drives the
//! same lock through a real erase acknowledged by the device agent and a real RemoveDevice.

use std::time::Duration;

use crate::support::{
    Backends, DELIVERY_TIMEOUT, TestPlatform, error_metadata, expect_refusal, expect_tokens,
    in_both_modes, reason, test_device, unique_phone_number,
};
use mi_contracts::Reason;
use mi_platform::bus::BusMessage;
use mi_platform::events::{self, EVENT_TYPE_HEADER};
use mi_proto::EventPayload;
use mi_proto::common::v1::{Channel as CodeChannel, DeviceInfo, Purpose};
use mi_proto::events::v1::{DeviceErased, DeviceRemoved};
use prost::Message;
use tonic::Code;

/// Publishes a device-topic event as the registry does, keyed by the device.
async fn publish_device_event<P: EventPayload>(platform: &TestPlatform, key: &str, payload: &P) {
    let config = &platform.config;
    let topic = config.topic("device.events");
    let bus = config.bus().await;
    bus.create_topics(std::slice::from_ref(&topic))
        .await
        .unwrap();
    let envelope = events::envelope("device", key, payload);
    bus.publish(&[BusMessage {
        topic,
        key: key.to_owned(),
        headers: vec![(EVENT_TYPE_HEADER.to_owned(), P::EVENT_TYPE.to_owned())],
        payload: envelope.encode_to_vec(),
    }])
    .await
    .unwrap();
}

fn on_hardware(device_id: &str, hardware_id: &str) -> DeviceInfo {
    DeviceInfo {
        hardware_id: hardware_id.to_owned(),
        ..test_device(device_id)
    }
}

async fn erased_hardware_refuses_other_accounts_until_its_owner_removes_it(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    let owner_phone = unique_phone_number();
    let (owner, owner_password) = platform
        .create_account(&owner_phone, CodeChannel::Sms)
        .await;
    let other_phone = unique_phone_number();
    let (_, other_password) = platform
        .create_account(&other_phone, CodeChannel::Sms)
        .await;
    let hardware_id = format!("sha256:{}", uuid::Uuid::new_v4());
    let key = format!("{}/lost-phone", owner.mi_id);
    publish_device_event(
        &platform,
        &key,
        &DeviceErased {
            mi_id: owner.mi_id,
            device_id: "lost-phone".into(),
            device_name: "Lost phone".into(),
            hardware_id: hardware_id.clone(),
            audience: None,
        },
    )
    .await;

    // Identity consumes the event: the other account's sign-in on that hardware is refused.
    let deadline = tokio::time::Instant::now() + DELIVERY_TIMEOUT;
    let refused = loop {
        let attempt = platform
            .sign_in(
                &other_phone,
                &other_password,
                on_hardware("found-1", &hardware_id),
            )
            .await;
        match attempt {
            Err(status) if reason(&status) == Some(Reason::ReactivationLocked) => break status,
            other => {
                expect_tokens(other.unwrap());
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the erased hardware never locked"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    assert_eq!(refused.code(), Code::FailedPrecondition);
    let masked = error_metadata(&refused, "owner_contact").expect("the owner's masked contact");
    assert!(
        masked.contains('*') && masked.ends_with(&owner_phone[owner_phone.len() - 4..]),
        "{masked} for {owner_phone}"
    );
    assert!(
        !masked.contains(&owner_phone[3..owner_phone.len() - 4]),
        "masked: {masked}"
    );

    // A new account on that hardware is refused alike.
    let new_phone = unique_phone_number();
    let token = platform
        .verification_token(&new_phone, CodeChannel::Sms, Purpose::SignUp)
        .await;
    let mut sign_up = platform
        .sign_up_form(&new_phone, &token, &other_password)
        .await;
    sign_up.device = Some(on_hardware("found-2", &hardware_id));
    let refused = expect_refusal(
        platform.identity().await.sign_up(sign_up).await,
        Code::FailedPrecondition,
        Some(Reason::ReactivationLocked),
        "SignUp on erased hardware",
    );
    assert_eq!(error_metadata(&refused, "owner_contact"), Some(masked));

    // The owner signs in on it as before.
    platform
        .sign_in(
            &owner_phone,
            &owner_password,
            on_hardware("lost-phone-2", &hardware_id),
        )
        .await
        .unwrap();

    // The owner removes the erased device: the hardware is free again.
    publish_device_event(
        &platform,
        &key,
        &DeviceRemoved {
            mi_id: owner.mi_id,
            device_id: "lost-phone".into(),
            device_name: "Lost phone".into(),
            removed_by_session_id: String::new(),
            hardware_id: hardware_id.clone(),
            audience: None,
        },
    )
    .await;
    let deadline = tokio::time::Instant::now() + DELIVERY_TIMEOUT;
    loop {
        match platform
            .sign_in(
                &other_phone,
                &other_password,
                on_hardware("found-1", &hardware_id),
            )
            .await
        {
            Ok(accepted) => {
                expect_tokens(accepted);
                break;
            }
            Err(status) => {
                assert_eq!(
                    reason(&status),
                    Some(Reason::ReactivationLocked),
                    "{status:?}"
                );
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the removal never released the hardware"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    platform.stop().await;
}

in_both_modes!(erased_hardware_refuses_other_accounts_until_its_owner_removes_it);
