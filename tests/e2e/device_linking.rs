//! Signing in links the device to the account in the device registry (through identity's
//! `SignedIn` event); deleting the account unlinks its devices. The list is the signed-in
//! account's, read with its access token.

use std::time::Duration;

use crate::support::{
    Backends, DELIVERY_TIMEOUT, TestPlatform, authed, expect_tokens, test_device,
    unique_phone_number,
};
use mi_proto::common::v1::Channel as CodeChannel;
use mi_proto::common::v1::DeviceInfo;
use mi_proto::device::v1::device_registry_service_client::DeviceRegistryServiceClient;
use mi_proto::device::v1::{Device, ListDevicesRequest};
use mi_proto::identity::v1::DeleteAccountRequest;

/// The devices of the account `access_token` belongs to.
pub(crate) async fn devices(platform: &TestPlatform, access_token: &str) -> Vec<Device> {
    let channel = crate::support::channel(platform.addresses.device).await;
    DeviceRegistryServiceClient::new(channel)
        .list_devices(authed(ListDevicesRequest::default(), access_token))
        .await
        .unwrap()
        .into_inner()
        .devices
}

/// The id of a listed device.
pub(crate) fn device_id(device: &Device) -> &str {
    device
        .info
        .as_ref()
        .map_or("", |info| info.device_id.as_str())
}

/// Polls the device list of `mi_id`, signed in with `access_token`, until `done` accepts it.
pub(crate) async fn wait_for_devices(
    platform: &TestPlatform,
    (mi_id, access_token): (u64, &str),
    done: impl Fn(&[Device]) -> bool,
) -> Vec<Device> {
    let deadline = tokio::time::Instant::now() + DELIVERY_TIMEOUT;
    loop {
        let listed = devices(platform, access_token).await;
        if done(&listed) {
            return listed;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "devices of {mi_id} never matched; last seen {listed:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn sign_ins_link_devices_and_deletion_unlinks_them(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    let phone = unique_phone_number();
    let (created, password) = platform.create_account(&phone, CodeChannel::Sms).await;
    let tablet = DeviceInfo {
        model: "Xiaomi Pad 6".into(),
        ..test_device("tablet-1")
    };
    let signed_in = expect_tokens(
        platform
            .sign_in(&created.mi_id.to_string(), &password, tablet)
            .await
            .unwrap(),
    );

    let caller = (created.mi_id, signed_in.access_token.as_str());
    let linked = wait_for_devices(&platform, caller, |listed| listed.len() == 2).await;
    let ids: Vec<&str> = linked.iter().map(device_id).collect();
    assert!(
        ids.contains(&"phone-1") && ids.contains(&"tablet-1"),
        "{ids:?}"
    );
    let tablet_entry = linked
        .iter()
        .find(|device| device_id(device) == "tablet-1")
        .unwrap();
    assert_eq!(tablet_entry.info.as_ref().unwrap().model, "Xiaomi Pad 6");

    // Signing in again on a known device links nothing new.
    platform
        .sign_in(&phone, &password, test_device("tablet-1"))
        .await
        .unwrap();
    platform
        .identity()
        .await
        .delete_account(authed(DeleteAccountRequest {}, &signed_in.access_token))
        .await
        .unwrap();
    // The access token outlives the account: it still names it, whose devices are gone.
    wait_for_devices(&platform, caller, <[Device]>::is_empty).await;
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_sign_ins_link_devices_and_deletion_unlinks_them() {
    sign_ins_link_devices_and_deletion_unlinks_them(Backends::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_sign_ins_link_devices_and_deletion_unlinks_them() {
    sign_ins_link_devices_and_deletion_unlinks_them(Backends::Servers).await;
}
