//! The device registry answers only for the caller's own account: the account comes from the
//! access token, never from the request, and a call without a valid token is refused.

use crate::device_linking::{devices, wait_for_devices};
use crate::support::{
    Backends, TestPlatform, authed, in_both_modes, reason, test_device, unique_phone_number,
};
use mi_contracts::Reason;
use mi_proto::common::v1::Channel as CodeChannel;
use mi_proto::device::v1::ListDevicesRequest;
use mi_proto::device::v1::device_registry_service_client::DeviceRegistryServiceClient;
use tonic::Code;

async fn a_token_lists_only_its_own_accounts_devices(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    let (alice, alice_password) = platform
        .create_account(&unique_phone_number(), CodeChannel::Sms)
        .await;
    let (bob, _) = platform
        .create_account(&unique_phone_number(), CodeChannel::Sms)
        .await;
    let alice_tablet = platform
        .sign_in_for_tokens(
            &alice.mi_id.to_string(),
            &alice_password,
            test_device("alice-tablet"),
        )
        .await;
    wait_for_devices(&platform, (bob.mi_id, &bob.access_token), |listed| {
        !listed.is_empty()
    })
    .await;
    let listed = wait_for_devices(&platform, (alice.mi_id, &alice.access_token), |listed| {
        listed.len() == 2
    })
    .await;
    assert!(
        listed.iter().all(|device| device.mi_id == alice.mi_id),
        "{listed:?}"
    );
    // Any of the account's tokens lists the same devices, and never another account's.
    assert_eq!(devices(&platform, &alice_tablet.access_token).await, listed);
    assert!(
        devices(&platform, &bob.access_token)
            .await
            .iter()
            .all(|device| device.mi_id == bob.mi_id)
    );
    platform.stop().await;
}

async fn no_token_or_a_forged_one_is_unauthenticated(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    let (account, _) = platform
        .create_account(&unique_phone_number(), CodeChannel::Sms)
        .await;
    let channel = crate::support::channel(platform.addresses.device).await;
    let mut client = DeviceRegistryServiceClient::new(channel);

    let missing = client
        .list_devices(ListDevicesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::Unauthenticated, "{missing:?}");
    assert_eq!(reason(&missing), Some(Reason::MissingAccessToken));

    // A token signed with another key, and a token cut short, name no account we trust.
    let (header, rest) = account.access_token.split_once('.').unwrap();
    for forged in [
        format!("{header}.{rest}x"),
        account.access_token[..account.access_token.len() / 2].to_owned(),
    ] {
        let refused = client
            .list_devices(authed(ListDevicesRequest::default(), &forged))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
        assert_eq!(reason(&refused), Some(Reason::InvalidAccessToken));
    }
    platform.stop().await;
}

in_both_modes!(
    a_token_lists_only_its_own_accounts_devices,
    no_token_or_a_forged_one_is_unauthenticated,
);
