//! The profile and the account itself over gRPC: UpdateProfile changes only the masked
//! fields, invalid updates are refused and change nothing, and DeleteAccount ends every
//! session and frees the contact for a new account.

use crate::support::{
    Backends, TestPlatform, account_contacts, authed, expect_refusal, field_violations,
    in_both_modes, profile_update, test_device, unique_phone_number,
};
use mi_contracts::Reason;
use mi_proto::common::v1::Channel as CodeChannel;
use mi_proto::events::v1::{AccountDeleted, ProfileUpdated};
use mi_proto::identity::v1::{Account, ContactKind, DeleteAccountRequest};
use tonic::Code;

in_both_modes!(profile, delete_account);

/// UpdateProfile changes only the fields its mask names, and says so in an event.
async fn profile(backends: Backends) {
    let platform = TestPlatform::start_for_identity(backends).await;
    let (tokens, _) = platform
        .create_account(&unique_phone_number(), CodeChannel::Sms)
        .await;
    let access = tokens.access_token.clone();
    let before = platform.account(&access).await.unwrap();
    assert_eq!(
        (before.region.as_str(), before.locale.as_str()),
        ("CN", "en")
    );

    let request = profile_update("Lei", "DE", "zh-CN", Some(&["display_name", "locale"]));
    let updated = platform.update_profile(&access, request).await.unwrap();
    let expected = Account {
        display_name: "Lei".into(),
        locale: "zh-CN".into(),
        ..before.clone()
    };
    assert_eq!(updated, expected, "only the masked fields change");
    assert_eq!(platform.account(&access).await.unwrap(), expected);

    let event: ProfileUpdated = platform.identity_event(tokens.mi_id).await;
    let mut changed = event.changed_fields.clone();
    changed.sort();
    assert_eq!(changed, vec!["display_name", "locale"], "{event:?}");
    assert_eq!(
        (
            event.display_name.as_str(),
            event.region.as_str(),
            event.locale.as_str()
        ),
        ("Lei", "CN", "zh-CN")
    );

    let region = platform
        .update_profile(&access, profile_update("", "DE", "", Some(&["region"])))
        .await
        .unwrap();
    assert_eq!(
        (
            region.display_name.as_str(),
            region.region.as_str(),
            region.locale.as_str()
        ),
        ("Lei", "DE", "zh-CN")
    );
    platform.stop().await;
}

/// Request validation, the same on every backend, so in embedded mode only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_profile_updates_are_refused_and_change_nothing() {
    let platform = TestPlatform::start_for_identity(Backends::Embedded).await;
    let (tokens, _) = platform
        .create_account(&unique_phone_number(), CodeChannel::Sms)
        .await;
    let access = tokens.access_token.clone();
    let before = platform.account(&access).await.unwrap();

    let masks: [(&str, Option<&[&str]>); 4] = [
        ("an unknown path", Some(&["email"])),
        (
            "a known and an unknown path",
            Some(&["display_name", "mi_id"]),
        ),
        ("an empty mask", Some(&[])),
        ("no mask", None),
    ];
    for (what, paths) in masks {
        expect_refusal(
            platform
                .update_profile(&access, profile_update("Changed", "DE", "de", paths))
                .await,
            Code::InvalidArgument,
            None,
            &format!("UpdateProfile with {what}"),
        );
    }
    for region in ["China", "cn1", "C", "ZZZ"] {
        let status = expect_refusal(
            platform
                .update_profile(&access, profile_update("", region, "", Some(&["region"])))
                .await,
            Code::InvalidArgument,
            None,
            &format!("UpdateProfile to region {region:?}"),
        );
        let fields: Vec<String> = field_violations(&status)
            .into_iter()
            .map(|(field, _)| field)
            .collect();
        assert_eq!(
            fields,
            vec!["region".to_owned()],
            "region {region:?}: {status:?}"
        );
    }
    assert_eq!(
        platform.account(&access).await.unwrap(),
        before,
        "refused updates change nothing"
    );
    platform.stop().await;
}

/// DeleteAccount ends every session and frees the phone number for a new account.
async fn delete_account(backends: Backends) {
    let platform = TestPlatform::start_for_identity(backends).await;
    let phone = unique_phone_number();
    let (tokens, password) = platform.create_account(&phone, CodeChannel::Sms).await;
    let mi_id = tokens.mi_id;
    let tablet = platform
        .sign_in_for_tokens(&phone, &password, test_device("tablet-1"))
        .await;

    platform
        .identity()
        .await
        .delete_account(authed(DeleteAccountRequest {}, &tokens.access_token))
        .await
        .unwrap();
    for identifier in [phone.clone(), mi_id.to_string()] {
        expect_refusal(
            platform
                .sign_in(&identifier, &password, test_device("phone-1"))
                .await,
            Code::Unauthenticated,
            Some(Reason::InvalidCredentials),
            &format!("signing in to a deleted account by {identifier}"),
        );
    }
    platform
        .assert_session_ended(&tokens, "the calling session after DeleteAccount")
        .await;
    platform
        .assert_session_ended(&tablet, "another session after DeleteAccount")
        .await;
    let deleted: AccountDeleted = platform.identity_event(mi_id).await;
    assert_eq!(deleted.mi_id, mi_id);

    let (again, _) = platform.create_account(&phone, CodeChannel::Sms).await;
    assert_ne!(again.mi_id, mi_id, "a new account, with a new Mi ID");
    assert_eq!(
        account_contacts(&platform.account(&again.access_token).await.unwrap()),
        vec![(ContactKind::Phone, phone, true)]
    );
    platform.stop().await;
}
