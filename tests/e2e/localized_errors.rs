//! Errors a UI can show: every refusal carries a `google.rpc.LocalizedMessage` written for a
//! person, with the numbers of its `ErrorInfo` metadata, in the request's own locale, else the
//! signed-in account's, else the `accept-language` metadata's, else English; the status message
//! stays a short English text for developers that names no RPC.

use mi_contracts::Reason;
use mi_proto::common::v1::{Channel, Purpose};
use mi_proto::identity::v1::second_factor_proof::Proof;
use mi_proto::identity::v1::{
    ChangePasswordRequest, CompleteSignInRequest, ConfirmTotpRequest, DeleteAccountRequest,
    SecondFactorProof,
};
use mi_proto::verification::v1::{CheckCodeRequest, SendCodeRequest};
use prost::Message;
use tonic::{Code, Request, Status};

use mi_proto::verification::v1::send_code_request::Target;

use crate::support::{
    Backends, TestConfig, TestPlatform, WRONG_PASSWORD, authed, code_in, error_metadata,
    expect_refusal, in_both_modes, in_language, localized_message, profile_update, strong_password,
    unique_email, unique_phone_number,
};

in_both_modes!(
    a_wrong_code_is_told_in_the_language_asked_for,
    the_request_locale_wins_over_accept_language,
    a_signed_in_account_is_answered_in_its_locale,
    status_messages_name_no_rpc,
);

/// The (locale, text) of a refusal's LocalizedMessage, which every refusal here must carry.
#[track_caller]
fn told(status: &Status) -> (String, String) {
    localized_message(status).unwrap_or_else(|| panic!("no LocalizedMessage in {status:?}"))
}

fn pair(locale: &str, text: &str) -> (String, String) {
    (locale.to_owned(), text.to_owned())
}

/// A wrong code: "The code is wrong. 4 tries left." in Chinese for `accept-language: zh-CN`,
/// in English for a browser's English list and for no header at all; the number follows the
/// attempts left in the ErrorInfo.
async fn a_wrong_code_is_told_in_the_language_asked_for(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    let destination = unique_phone_number();
    let sent = platform.sign_up(&destination, Channel::Sms).await;
    let code = code_in(&platform.wait_for_inbox(&destination, 1).await[0]);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let check = || CheckCodeRequest {
        verification_id: sent.verification_id.clone(),
        code: wrong.to_owned(),
    };
    let mut client = platform.verification().await;

    let chinese = expect_refusal(
        client
            .check_code(in_language(Request::new(check()), "zh-CN"))
            .await,
        Code::InvalidArgument,
        Some(Reason::CodeMismatch),
        "a wrong code in Chinese",
    );
    assert_eq!(
        error_metadata(&chinese, "attempts_left").as_deref(),
        Some("4")
    );
    assert_eq!(
        told(&chinese),
        pair("zh-CN", "验证码错误。还可以尝试 4 次。")
    );

    let english = expect_refusal(
        client
            .check_code(in_language(
                Request::new(check()),
                "en-US,en;q=0.9,zh-CN;q=0.5",
            ))
            .await,
        Code::InvalidArgument,
        Some(Reason::CodeMismatch),
        "a wrong code in English",
    );
    assert_eq!(
        told(&english),
        pair("en", "The code is wrong. 3 tries left.")
    );
    // The developers' message stays English whatever the person reads.
    assert!(english.message().contains("3 attempts left"), "{english:?}");

    let unasked = expect_refusal(
        client.check_code(check()).await,
        Code::InvalidArgument,
        Some(Reason::CodeMismatch),
        "a wrong code without accept-language",
    );
    assert_eq!(
        told(&unasked),
        pair("en", "The code is wrong. 2 tries left.")
    );
    platform.stop().await;
}

/// SendCode names its own locale: it wins over `accept-language` both ways; a locale the
/// platform cannot write in (itself refused) falls back to `accept-language`.
async fn the_request_locale_wins_over_accept_language(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    let mut client = platform.verification().await;
    let sign_up = |locale: &str| SendCodeRequest {
        target: Some(Target::Destination(unique_phone_number())),
        channel: Channel::Sms.into(),
        purpose: Purpose::SignUp.into(),
        locale: locale.to_owned(),
        // Sign-up always needs a CAPTCHA: a refusal with no side effect.
        captcha: None,
    };
    for (locale, accept_language, expected) in [
        ("zh-CN", "en", pair("zh-CN", "请先完成安全验证。")),
        (
            "en",
            "zh-CN",
            pair("en", "Complete the security check to continue."),
        ),
    ] {
        let refused = expect_refusal(
            client
                .send_code(in_language(Request::new(sign_up(locale)), accept_language))
                .await,
            Code::FailedPrecondition,
            Some(Reason::CaptchaRequired),
            &format!("SendCode in {locale} asked in {accept_language}"),
        );
        assert_eq!(told(&refused), expected);
    }

    let unsupported = expect_refusal(
        client
            .send_code(in_language(Request::new(sign_up("fr-FR")), "zh-CN"))
            .await,
        Code::InvalidArgument,
        None,
        "SendCode in a language the platform does not write",
    );
    assert_eq!(
        error_metadata(&unsupported, "field").as_deref(),
        Some("locale")
    );
    assert_eq!(told(&unsupported), pair("zh-CN", "语言不正确，请检查。"));
    platform.stop().await;
}

/// A signed-in caller is answered in the account's locale, whatever `accept-language` says,
/// and in the new one as soon as the profile changes it; before the access token is known,
/// `accept-language` decides.
async fn a_signed_in_account_is_answered_in_its_locale(backends: Backends) {
    let platform = TestPlatform::start_for_identity(backends).await;
    let email = unique_email();
    let (tokens, _) = platform.create_account(&email, Channel::Email).await;
    let wrong_password = |accept_language: &str| {
        let request = ChangePasswordRequest {
            current_password: WRONG_PASSWORD.to_owned(),
            new_password: strong_password(),
        };
        in_language(authed(request, &tokens.access_token), accept_language)
    };
    let mut identity = platform.identity().await;

    let english_account = expect_refusal(
        identity.change_password(wrong_password("zh-CN")).await,
        Code::InvalidArgument,
        Some(Reason::WrongPassword),
        "a wrong password of an English account asked in Chinese",
    );
    assert_eq!(told(&english_account), pair("en", "The password is wrong."));

    platform
        .update_profile(
            &tokens.access_token,
            profile_update("", "", "zh-CN", Some(&["locale"])),
        )
        .await
        .expect("the locale changes");
    let chinese_account = expect_refusal(
        identity.change_password(wrong_password("en")).await,
        Code::InvalidArgument,
        Some(Reason::WrongPassword),
        "a wrong password of a Chinese account asked in English",
    );
    assert_eq!(told(&chinese_account), pair("zh-CN", "密码错误。"));

    let anonymous = expect_refusal(
        identity
            .change_password(in_language(
                Request::new(ChangePasswordRequest::default()),
                "zh-CN",
            ))
            .await,
        Code::Unauthenticated,
        Some(Reason::MissingAccessToken),
        "no access token, asked in Chinese",
    );
    assert_eq!(told(&anonymous), pair("zh-CN", "请先登录。"));
    platform.stop().await;
}

/// Every method name of every service the platform serves.
fn rpc_names() -> Vec<String> {
    let descriptors = prost_types::FileDescriptorSet::decode(mi_proto::FILE_DESCRIPTOR_SET)
        .expect("the descriptor set decodes");
    descriptors
        .file
        .iter()
        .flat_map(|file| &file.service)
        .flat_map(|service| &service.method)
        .filter_map(|method| method.name.clone())
        .collect()
}

/// The refusals whose developer messages named RPCs ("invalid SendCode request",
/// "(ResetPassword)", "(CreateCaptcha)", "start with EnrollTotp", "(Reauthenticate)", "the id
/// SendCode returned") now name none, and each has a text for a person.
async fn status_messages_name_no_rpc(backends: Backends) {
    // Every session is "not recent" at once, so a sensitive change asks to re-authenticate.
    let config = TestConfig::new(backends)
        .with_repeatable_codes()
        .with_value("identity.recent_auth_window", "1ms");
    let platform = TestPlatform::start_with(config).await;
    let email = unique_email();
    let (tokens, _) = platform.create_account(&email, Channel::Email).await;
    let mut verification = platform.verification().await;
    let mut identity = platform.identity().await;

    let mut refusals: Vec<(&str, Status)> = Vec::new();
    let bad_send = SendCodeRequest {
        target: Some(Target::Destination("not a number".into())),
        channel: Channel::Sms.into(),
        purpose: Purpose::SignUp.into(),
        locale: "fr".into(),
        captcha: None,
    };
    refusals.push((
        "SendCode with bad fields",
        verification.send_code(bad_send).await.unwrap_err(),
    ));
    let no_captcha = crate::codes::request(&unique_phone_number(), Channel::Sms, Purpose::SignUp);
    refusals.push((
        "SendCode without a CAPTCHA",
        verification.send_code(no_captcha).await.unwrap_err(),
    ));
    let unknown = CheckCodeRequest {
        verification_id: "not-an-id".into(),
        code: "123456".into(),
    };
    refusals.push((
        "CheckCode of a malformed id",
        verification.check_code(unknown).await.unwrap_err(),
    ));

    let token = platform
        .verification_token(&email, Channel::Email, Purpose::SignUp)
        .await;
    let mut bad_sign_up = platform
        .sign_up_form(&email, &token, &strong_password())
        .await;
    bad_sign_up.region = "ZZZ".into();
    bad_sign_up.locale = "fr".into();
    refusals.push((
        "SignUp with bad fields",
        identity.sign_up(bad_sign_up).await.unwrap_err(),
    ));
    let taken = platform
        .sign_up_form(&email, &token, &strong_password())
        .await;
    refusals.push((
        "SignUp of a used email",
        identity.sign_up(taken).await.unwrap_err(),
    ));
    let no_challenge = CompleteSignInRequest {
        challenge_id: "not-an-id".into(),
        proof: Some(SecondFactorProof {
            proof: Some(Proof::TotpCode("123456".into())),
        }),
    };
    refusals.push((
        "CompleteSignIn of a malformed id",
        identity.complete_sign_in(no_challenge).await.unwrap_err(),
    ));
    let unenrolled = authed(
        ConfirmTotpRequest {
            code: "123456".into(),
        },
        &tokens.access_token,
    );
    refusals.push((
        "ConfirmTotp without EnrollTotp",
        identity.confirm_totp(unenrolled).await.unwrap_err(),
    ));
    let stale = authed(DeleteAccountRequest::default(), &tokens.access_token);
    refusals.push((
        "DeleteAccount without a recent sign-in",
        identity.delete_account(stale).await.unwrap_err(),
    ));

    let rpc_names = rpc_names();
    assert!(
        rpc_names.iter().any(|name| name == "ResetPassword"),
        "{rpc_names:?}"
    );
    for (what, status) in &refusals {
        let message = status.message();
        assert!(
            !message.is_empty() && message.is_ascii() && message.len() < 200,
            "{what}: {message:?}"
        );
        let named: Vec<&String> = rpc_names
            .iter()
            .filter(|name| message.contains(name.as_str()))
            .collect();
        assert!(named.is_empty(), "{what}: {message:?} names {named:?}");
        let (locale, text) = told(status);
        assert!(locale == "en" && !text.is_empty(), "{what}: {text:?}");
    }
    platform.stop().await;
}
