//! Second factors by SMS or email for a person who signs in by Mi ID: the challenge offers the
//! account's contacts masked, each with a send token; SendCode takes the challenge and contact
//! ids with the token, so the client never sends (nor is shown) the full number or address.
//! Tokens that were forged, altered, expired, or used with another challenge, contact or
//! purpose are refused and send nothing.

use std::time::Duration;

use crate::support::{
    Backends, TestPlatform, authed, contact_request, expect_refusal, expect_tokens,
    field_violations, in_both_modes, test_device, unique_email, unique_phone_number,
};
use mi_contracts::{MiId, Reason, UnixMillis};
use mi_platform::crypto::SecretKey;
use mi_platform::send_token::{SendTokenClaims, SendTokenSealer};
use mi_proto::common::v1::{Channel as CodeChannel, Purpose};
use mi_proto::identity::v1::second_factor_proof::Proof;
use mi_proto::identity::v1::{
    ChallengeReason, ContactKind, MaskedContact, SecondFactorChallenge, SetCodeSecondFactorRequest,
};
use tonic::Code;

in_both_modes!(
    a_mi_id_sign_in_gets_its_code_by_sms_and_by_email_through_the_challenge,
    send_tokens_that_do_not_hold_are_refused,
);

/// An account with a phone (primary) and an email (recovery) contact and SMS/email codes as
/// its second factor; its Mi ID, password, phone and email.
async fn account_with_code_second_factor(platform: &TestPlatform) -> (u64, String, String, String) {
    let phone = unique_phone_number();
    let email = unique_email();
    let (tokens, password) = platform.create_account(&phone, CodeChannel::Sms).await;
    let email_token = platform
        .verification_token(&email, CodeChannel::Email, Purpose::AddRecoveryContact)
        .await;
    platform
        .add_recovery_contact(&tokens.access_token, &email_token)
        .await
        .unwrap();
    let request = SetCodeSecondFactorRequest { enabled: true };
    platform
        .identity()
        .await
        .set_code_second_factor(authed(request, &tokens.access_token))
        .await
        .unwrap();
    (tokens.mi_id, password, phone, email)
}

fn contact_of(challenge: &SecondFactorChallenge, kind: ContactKind) -> MaskedContact {
    challenge
        .contacts
        .iter()
        .find(|contact| contact.kind() == kind)
        .unwrap_or_else(|| panic!("no {kind:?} contact in {challenge:?}"))
        .clone()
}

async fn a_mi_id_sign_in_gets_its_code_by_sms_and_by_email_through_the_challenge(
    backends: Backends,
) {
    let platform = TestPlatform::start_for_identity(backends).await;
    let (mi_id, password, phone, email) = account_with_code_second_factor(&platform).await;
    let national = &phone[3..];

    for (kind, channel, destination) in [
        (ContactKind::Phone, CodeChannel::Sms, &phone),
        (ContactKind::Email, CodeChannel::Email, &email),
    ] {
        let challenge = platform
            .sign_in_for_challenge(&mi_id.to_string(), &password, test_device("phone-1"))
            .await;
        assert_eq!(challenge.reason(), ChallengeReason::TwoFactor);
        let shown = format!("{challenge:?}");
        assert!(
            !shown.contains(national) && !shown.contains(&email),
            "the challenge shows no contact in full: {shown}"
        );
        let ids: Vec<&str> = challenge
            .contacts
            .iter()
            .map(|contact| contact.contact_id.as_str())
            .collect();
        assert_eq!(ids, ["1", "2"], "{challenge:?}");
        let contact = contact_of(&challenge, kind);

        let request = contact_request(
            &challenge.challenge_id,
            &contact,
            channel,
            Purpose::SignInSecondFactor,
        );
        let (sent, checked) = platform.code_via_contact(request, destination).await;
        assert_eq!(sent.masked_destination, contact.masked, "{kind:?}");
        assert_eq!(checked.masked_destination, contact.masked, "{kind:?}");
        assert!(
            checked.destination.is_empty(),
            "CheckCode keeps a challenge contact masked: {checked:?}"
        );

        let signed_in = platform
            .complete_sign_in(
                &challenge.challenge_id,
                Proof::VerificationToken(checked.verification_token),
            )
            .await
            .unwrap();
        assert_eq!(expect_tokens(signed_in).mi_id, mi_id, "{kind:?}");
    }
    platform.stop().await;
}

async fn send_tokens_that_do_not_hold_are_refused(backends: Backends) {
    let platform = TestPlatform::start_for_identity(backends).await;
    let (mi_id, password, phone, _) = account_with_code_second_factor(&platform).await;
    let sign_in = || platform.sign_in_for_challenge(&phone, &password, test_device("phone-1"));
    let first = sign_in().await;
    let second = sign_in().await;
    let phone_contact = contact_of(&first, ContactKind::Phone);
    let to_phone = |contact: &MaskedContact| {
        contact_request(
            &first.challenge_id,
            contact,
            CodeChannel::Sms,
            Purpose::SignInSecondFactor,
        )
    };
    let codes_before = platform.code_messages(&phone).await;

    let mut altered = phone_contact.send_token.clone().into_bytes();
    let middle = altered.len() / 2;
    altered[middle] = if altered[middle] == b'A' { b'B' } else { b'A' };
    let foreign_key = SendTokenSealer::new(&SecretKey::generate());
    let claims = |expires_at: UnixMillis| SendTokenClaims {
        challenge_id: first.challenge_id.clone(),
        contact_id: phone_contact.contact_id.clone(),
        destination: phone.clone(),
        purpose: mi_contracts::Purpose::SignInSecondFactor,
        mi_id: MiId::new(mi_id).unwrap(),
        expires_at,
    };
    let in_an_hour = UnixMillis::now().saturating_add(Duration::from_secs(3600));
    for (what, send_token) in [
        ("a made-up token", "bm90IGEgdG9rZW4".to_owned()),
        ("an altered token", String::from_utf8(altered).unwrap()),
        (
            "a token sealed with another key",
            foreign_key.seal(&claims(in_an_hour)).unwrap(),
        ),
    ] {
        let forged = MaskedContact {
            send_token,
            ..phone_contact.clone()
        };
        let refused = expect_refusal(
            platform.send(to_phone(&forged)).await,
            Code::InvalidArgument,
            Some(Reason::SendTokenInvalid),
            what,
        );
        assert_field(&refused, "challenge_contact.send_token");
    }

    // A genuine token, but for another challenge, contact or purpose.
    let mut other_challenge = to_phone(&phone_contact);
    if let Some(mi_proto::verification::v1::send_code_request::Target::ChallengeContact(target)) =
        &mut other_challenge.target
    {
        target.challenge_id = second.challenge_id.clone();
    }
    let other_contact = MaskedContact {
        contact_id: contact_of(&first, ContactKind::Email).contact_id,
        ..phone_contact.clone()
    };
    let other_purpose = contact_request(
        &first.challenge_id,
        &phone_contact,
        CodeChannel::Sms,
        Purpose::PasswordReset,
    );
    for (what, request, field) in [
        (
            "another challenge's id",
            other_challenge,
            "challenge_contact.challenge_id",
        ),
        (
            "another contact's id",
            to_phone(&other_contact),
            "challenge_contact.contact_id",
        ),
        ("another purpose", other_purpose, "purpose"),
    ] {
        let refused = expect_refusal(
            platform.send(request).await,
            Code::InvalidArgument,
            Some(Reason::SendTokenInvalid),
            what,
        );
        assert_field(&refused, field);
    }

    // Sealed with the shared key (as identity would) but past its time.
    let expired = MaskedContact {
        send_token: SendTokenSealer::new(&platform.config.send_token_key)
            .seal(&claims(
                UnixMillis::now().saturating_sub(Duration::from_secs(1)),
            ))
            .unwrap(),
        ..phone_contact.clone()
    };
    expect_refusal(
        platform.send(to_phone(&expired)).await,
        Code::FailedPrecondition,
        Some(Reason::SendTokenExpired),
        "an expired token",
    );
    // A phone contact takes no email.
    let by_email = contact_request(
        &first.challenge_id,
        &phone_contact,
        CodeChannel::Email,
        Purpose::SignInSecondFactor,
    );
    let refused = expect_refusal(
        platform.send(by_email).await,
        Code::InvalidArgument,
        None,
        "a phone contact by email",
    );
    assert_field(&refused, "channel");

    // Nothing was sent for any of them: the next code is the only new one (one partition
    // keeps the codes in order).
    let (_, checked) = platform
        .code_via_contact(to_phone(&phone_contact), &phone)
        .await;
    assert!(!checked.verification_token.is_empty());
    assert_eq!(platform.code_messages(&phone).await, codes_before + 1);
    platform.stop().await;
}

/// Asserts that a refusal names exactly one bad field.
#[track_caller]
fn assert_field(status: &tonic::Status, field: &str) {
    let fields: Vec<String> = field_violations(status)
        .into_iter()
        .map(|(field, _)| field)
        .collect();
    assert_eq!(fields, [field], "{status:?}");
}
