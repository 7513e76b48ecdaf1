//! Text shown to a person (issue 10, item 9): control, bidi and zero-width characters are
//! refused in device info and display names, so a device name cannot write a second line into
//! the owner's alert; the alert shows the device as quoted data.

use crate::support::{
    Backends, TestPlatform, field_violations, in_both_modes, profile_update, test_device,
    unique_phone_number,
};
use mi_proto::common::v1::Channel as CodeChannel;
use mi_proto::common::v1::DeviceInfo;
use tonic::{Code, Status};

in_both_modes!(hidden_characters_are_refused_and_alerts_quote_the_device);

/// The one field a refusal names, after checking it is INVALID_ARGUMENT.
fn refused_field(status: &Status) -> String {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let fields: Vec<String> = field_violations(status)
        .into_iter()
        .map(|(field, _)| field)
        .collect();
    assert_eq!(fields.len(), 1, "{status:?}");
    fields[0].clone()
}

async fn hidden_characters_are_refused_and_alerts_quote_the_device(backends: Backends) {
    let platform = TestPlatform::start_for_identity(backends).await;
    let phone = unique_phone_number();
    let (tokens, password) = platform.create_account(&phone, CodeChannel::Sms).await;

    let forged = [
        (
            "Phone\nCall +1 900 555 0100 now",
            "Redmi Note 13",
            "device.name",
        ),
        ("abc\u{202e}gpj.exe", "Redmi Note 13", "device.name"),
        ("Lei's tablet", "Redmi\u{200b}Pad", "device.model"),
    ];
    for (name, model, field) in forged {
        let device = DeviceInfo {
            name: name.into(),
            model: model.into(),
            ..test_device("tablet-1")
        };
        let refused = platform
            .sign_in(&phone, &password, device)
            .await
            .unwrap_err();
        assert_eq!(refused_field(&refused), field, "{name:?} / {model:?}");
    }
    let refused = platform
        .update_profile(
            &tokens.access_token,
            profile_update("Lei\u{2066}", "", "", Some(&["display_name"])),
        )
        .await
        .unwrap_err();
    assert_eq!(refused_field(&refused), "display_name");

    // A new device with a plain name signs in; the owner's alert quotes what the client wrote.
    let device = DeviceInfo {
        name: "Lei's tablet".into(),
        ..test_device("tablet-2")
    };
    platform.sign_in_for_tokens(&phone, &password, device).await;
    let alert = platform.wait_for_text(&phone, "Lei's tablet").await;
    assert!(
        alert.body.contains("\"Lei's tablet (Redmi Note 13)\""),
        "{}",
        alert.body
    );
    platform.stop().await;
}
