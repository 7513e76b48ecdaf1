//! Every free-text field has a documented maximum, checked at the edge: a longer value is
//! refused with INVALID_ARGUMENT naming the field and changes nothing. The locale is a short
//! tag in a supported language; the 1.5 MB locale that once stopped every delivery is refused
//! before anything is stored.

use crate::bad_input::{request, stored_rows};
use crate::support::{
    Backends, TestPlatform, authed, field_violations, in_both_modes, unique_phone_number,
};
use mi_proto::common::v1::{Channel, Purpose};
use mi_proto::device::v1::ListDevicesRequest;
use mi_proto::device::v1::device_registry_service_client::DeviceRegistryServiceClient;
use mi_proto::notification::v1::ListInboxMessagesRequest;
use mi_proto::verification::v1::{CheckCodeRequest, ResendCodeRequest, SendCodeRequest};
use tonic::{Code, Status};

/// The fields a refusal names, after checking it is INVALID_ARGUMENT.
fn refused_fields(status: &Status) -> Vec<String> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    field_violations(status)
        .into_iter()
        .map(|(field, _)| field)
        .collect()
}

fn password_reset(destination: &str, locale: String) -> SendCodeRequest {
    SendCodeRequest {
        locale,
        ..request(
            destination,
            Channel::Sms.into(),
            Purpose::PasswordReset.into(),
        )
    }
}

async fn a_huge_or_unsupported_locale_is_refused_and_stores_nothing(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    let mut client = platform.verification().await;
    let destination = unique_phone_number();
    let huge = "a".repeat(1_500_000);
    for locale in [huge, "en-GB-x-".repeat(4), "fr".into(), "en-".into()] {
        let refused = client
            .send_code(password_reset(&destination, locale))
            .await
            .unwrap_err();
        assert_eq!(refused_fields(&refused), ["locale"]);
    }
    let long_destination = format!("{}@example.com", "a".repeat(300));
    let refused = client
        .send_code(SendCodeRequest {
            locale: "x".repeat(36),
            ..request(
                &long_destination,
                Channel::Email.into(),
                Purpose::PasswordReset.into(),
            )
        })
        .await
        .unwrap_err();
    assert_eq!(refused_fields(&refused), ["destination", "locale"]);
    assert_eq!(stored_rows(&platform, "verifications").await, 0);
    assert_eq!(stored_rows(&platform, "outbox").await, 0);

    // A supported tag in any case and separator is stored in its one canonical form.
    let sent = client
        .send_code(password_reset(&destination, "zh_cn".into()))
        .await
        .unwrap()
        .into_inner();
    let database = platform.config.database("verification").await;
    let locale: String = sqlx::query_scalar("SELECT locale FROM verifications")
        .fetch_one(database.pool())
        .await
        .unwrap();
    assert_eq!(locale, "zh-CN");

    let resend = client
        .resend_code(ResendCodeRequest {
            verification_id: sent.verification_id.clone(),
            locale: "z".repeat(1_000),
            ..ResendCodeRequest::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused_fields(&resend), ["locale"]);
    let check = client
        .check_code(CheckCodeRequest {
            verification_id: "v".repeat(65),
            code: "1".repeat(17),
        })
        .await
        .unwrap_err();
    assert_eq!(refused_fields(&check), ["verification_id", "code"]);
    let (send_count, attempts): (i64, i64) =
        sqlx::query_as("SELECT send_count, attempts FROM verifications")
            .fetch_one(database.pool())
            .await
            .unwrap();
    assert_eq!(
        (send_count, attempts),
        (1, 0),
        "a refused call changed the verification"
    );
    platform.stop().await;
}

async fn list_filters_and_page_tokens_have_maxima(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    let inbox = platform
        .notification()
        .await
        .list_inbox_messages(ListInboxMessagesRequest {
            destination: "d".repeat(255),
            page_token: "p".repeat(513),
            ..ListInboxMessagesRequest::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused_fields(&inbox), ["destination"]);

    let (account, _) = platform
        .create_account(&unique_phone_number(), Channel::Sms)
        .await;
    let channel = crate::support::channel(platform.addresses.device).await;
    let devices = DeviceRegistryServiceClient::new(channel)
        .list_devices(authed(
            ListDevicesRequest {
                page_token: "p".repeat(513),
                ..ListDevicesRequest::default()
            },
            &account.access_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused_fields(&devices), ["page_token"]);
    platform.stop().await;
}

in_both_modes!(
    a_huge_or_unsupported_locale_is_refused_and_stores_nothing,
    list_filters_and_page_tokens_have_maxima,
);
