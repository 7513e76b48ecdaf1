//! Second factors cannot be guessed without limit (issue 10, item 2; NIST SP 800-63B §5.2.2):
//! one count of wrong proofs per account, shared by Reauthenticate and CompleteSignIn and not
//! reset by a right password or a fresh challenge; past the free failures each proof waits,
//! unchecked, and the owner is alerted.

use std::time::Duration;

use crate::support::{
    Backends, TestConfig, TestPlatform, authed, expect_refusal, expect_tokens, in_both_modes,
    reason, retry_after, test_device, unique_phone_number, wrong_totp_code,
};
use mi_contracts::Reason;
use mi_proto::common::v1::Channel as CodeChannel;
use mi_proto::identity::v1::reauthenticate_request::Proof as ReauthProof;
use mi_proto::identity::v1::second_factor_proof::Proof;
use mi_proto::identity::v1::{ReauthenticateRequest, SecondFactorProof};
use tonic::Code;

in_both_modes!(second_factor_guesses_are_delayed_per_account);

const FREE_FAILURES: usize = 10;

fn totp_proof(code: String) -> ReauthenticateRequest {
    ReauthenticateRequest {
        proof: Some(ReauthProof::SecondFactor(SecondFactorProof {
            proof: Some(Proof::TotpCode(code)),
        })),
    }
}

/// 300 wrong TOTP codes to Reauthenticate: the first ten are checked (and wrong), the rest are
/// refused unchecked with RESOURCE_EXHAUSTED and retry info; during the delay a right code is
/// refused too, in Reauthenticate and in a fresh sign-in challenge after the right password;
/// after the delay it is accepted; the owner is alerted.
async fn second_factor_guesses_are_delayed_per_account(backends: Backends) {
    let delays = TestConfig::new(backends)
        .with_repeatable_codes()
        // Long enough that the 290 refused guesses and a sign-in on a loaded two-core machine
        // fit inside the first wait (3 s did not, once); the test sleeps it out once, below.
        .with_value("identity.second_factor.delays.base_delay", "15s");
    let platform = TestPlatform::start_with(delays).await;
    let phone = unique_phone_number();
    let (tokens, password) = platform.create_account(&phone, CodeChannel::Sms).await;
    let access = &tokens.access_token;
    let totp = platform.enable_totp(access).await;
    let wrong = wrong_totp_code(&totp.secret);
    let mut identity = platform.identity().await;

    let (mut checked, mut delayed) = (0, 0);
    for attempt in 1..=300 {
        let status = identity
            .reauthenticate(authed(totp_proof(wrong.clone()), access))
            .await
            .unwrap_err();
        match (status.code(), reason(&status)) {
            (Code::InvalidArgument, Some(Reason::SecondFactorInvalid)) => checked += 1,
            (Code::ResourceExhausted, Some(Reason::SecondFactorDelayed)) => {
                assert!(retry_after(&status).is_some(), "retry info: {status:?}");
                delayed += 1;
            }
            _ => panic!("wrong code {attempt}: {status:?}"),
        }
        if attempt <= FREE_FAILURES {
            assert_eq!(checked, attempt, "the first ten are checked: {status:?}");
        }
    }
    // A slow run may check a few more, each after a doubled wait.
    assert!(
        (FREE_FAILURES..=FREE_FAILURES + 3).contains(&checked),
        "{checked} of 300 wrong codes were checked, {delayed} delayed"
    );

    // During the delay the right code is refused, unchecked.
    let (_, right) = totp.fresh_code();
    expect_refusal(
        identity
            .reauthenticate(authed(totp_proof(right.clone()), access))
            .await,
        Code::ResourceExhausted,
        Some(Reason::SecondFactorDelayed),
        "a right code during the delay",
    );
    // A right password opens a fresh challenge, but not fresh guesses.
    let challenge = platform
        .sign_in_for_challenge(&phone, &password, test_device("phone-2"))
        .await;
    let refused = expect_refusal(
        platform
            .complete_sign_in(&challenge.challenge_id, Proof::TotpCode(right))
            .await,
        Code::ResourceExhausted,
        Some(Reason::SecondFactorDelayed),
        "a right code in a fresh challenge during the delay",
    );
    let wait = retry_after(&refused).expect("retry info");
    assert!(wait <= Duration::from_secs(120), "waits {wait:?}");

    // After the delay the right code is accepted, in the same challenge, and the count is
    // cleared.
    tokio::time::sleep(wait + Duration::from_millis(200)).await;
    let (_, right) = totp.fresh_code();
    let signed_in = expect_tokens(
        platform
            .complete_sign_in(&challenge.challenge_id, Proof::TotpCode(right))
            .await
            .unwrap(),
    );
    assert_eq!(signed_in.mi_id, tokens.mi_id);
    expect_refusal(
        identity
            .reauthenticate(authed(totp_proof(wrong), access))
            .await,
        Code::InvalidArgument,
        Some(Reason::SecondFactorInvalid),
        "a wrong code after a right one is checked again",
    );

    // The owner hears that someone who knows the password is guessing codes.
    let alert = platform
        .wait_for_text(&phone, "wrong verification codes")
        .await;
    assert!(
        alert.body.contains(&tokens.mi_id.to_string()),
        "{}",
        alert.body
    );
    platform.stop().await;
}
