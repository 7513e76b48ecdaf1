//! The fuzzer's platform and its plausible values: a real account, its session, a verification
//! and a CAPTCHA, so that requests with one wild field get past authentication and the other
//! fields to the check under test.

use std::sync::RwLock;
use std::time::Duration;

use mi_proto::common::v1::{Channel as CodeChannel, Purpose};
use mi_proto::identity::v1::sign_in_response::Result as SignInResult;

use super::values::Dictionary;
use crate::find_device_commands::enrolled_phone;
use crate::support::{
    Backends, TestConfig, TestPlatform, access_claims_for, strong_password, test_device,
    unique_email, unique_phone_number,
};

/// An embedded platform whose rate limits leave room for the fuzzer's requests, so they reach
/// validation rather than stop at RESOURCE_EXHAUSTED (which is a clear answer too).
pub(super) fn fuzz_config() -> TestConfig {
    TestConfig::new(Backends::Embedded)
        .with_repeatable_codes()
        .with_value("verification.limits.destination_per_hour", 1_000_000)
        .with_value("verification.limits.destination_per_day", 1_000_000)
        .with_value("verification.limits.client_per_hour", 1_000_000)
        .with_value("verification.limits.checks_per_client_per_hour", 1_000_000)
        .with_value(
            "verification.limits.captchas_per_client_per_hour",
            1_000_000,
        )
}

/// The identifier and password of the account the fuzzer signs in to.
#[derive(Debug)]
pub(super) struct Account {
    email: String,
    password: String,
}

/// Signs in every [`SIGN_IN_EVERY`] and adds the session's token to the dictionary's bearers
/// (the last [`LIVE_BEARERS`] are kept); when the fuzzer has deleted the account, changed its
/// password or turned on a second factor, signs up a new one. Never returns.
pub(super) async fn keep_signed_in(
    platform: &TestPlatform,
    dictionary: &Dictionary,
    mut account: Account,
) {
    loop {
        tokio::time::sleep(SIGN_IN_EVERY).await;
        let signed_in = platform
            .sign_in(&account.email, &account.password, test_device("fuzz"))
            .await;
        let access_token = match signed_in.map(|response| response.result) {
            Ok(Some(SignInResult::Tokens(tokens))) => tokens.access_token,
            _ => {
                account.email = unique_email();
                let (tokens, password) = platform
                    .create_account(&account.email, CodeChannel::Email)
                    .await;
                account.password = password;
                tokens.access_token
            }
        };
        let mut bearers = dictionary.bearers.write().unwrap();
        bearers.insert(0, format!("Bearer {access_token}"));
        if bearers.len() > LIVE_BEARERS + FORGED_BEARERS {
            bearers.remove(LIVE_BEARERS);
        }
    }
}

const SIGN_IN_EVERY: Duration = Duration::from_secs(2);
/// The device id of the phone the fuzzer's device tokens are signed for.
const FUZZ_PHONE: &str = "fuzz-phone";
const LIVE_BEARERS: usize = 3;
const FORGED_BEARERS: usize = 2;

pub(super) async fn gather(platform: &TestPlatform) -> (Dictionary, Account) {
    let email = unique_email();
    let phone = unique_phone_number();
    let (tokens, password) = platform.create_account(&email, CodeChannel::Email).await;
    let claims = platform.access_claims(&tokens.access_token).await;
    let mi_id: u64 = claims.sub.parse().unwrap();
    let sign_up_token = platform
        .verification_token(&phone, CodeChannel::Sms, Purpose::SignUp)
        .await;
    let captcha = platform.solved_captcha().await;
    let verification = platform.sign_up(&unique_email(), CodeChannel::Email).await;
    let reset = platform.start_reset(&email).await.unwrap();
    let contact = &reset.contacts[0];
    let (terms, privacy_policy) = platform.current_versions().await;

    let mut dictionary = Dictionary::default();
    let add = |dictionary: &mut Dictionary, fields: &[&'static str], values: &[&str]| {
        dictionary.add_strings(fields, values);
    };
    add(&mut dictionary, &["access_token"], &[&tokens.access_token]);
    add(
        &mut dictionary,
        &["refresh_token"],
        &[&tokens.refresh_token],
    );
    add(&mut dictionary, &["verification_token"], &[&sign_up_token]);
    add(&mut dictionary, &["session_id"], &[&claims.sid]);
    add(
        &mut dictionary,
        &["verification_id"],
        &[&verification.verification_id],
    );
    let captcha_pass = platform.captcha_pass(&email).await;
    add(&mut dictionary, &["captcha_pass"], &[&captcha_pass]);
    add(&mut dictionary, &["captcha_id"], &[&captcha.captcha_id]);
    add(&mut dictionary, &["challenge_id"], &[&reset.challenge_id]);
    add(&mut dictionary, &["contact_id"], &[&contact.contact_id]);
    add(&mut dictionary, &["send_token"], &[&contact.send_token]);
    add(&mut dictionary, &["answer"], &[&captcha.answer]);
    add(
        &mut dictionary,
        &["identifier", "destination", "value", "subject"],
        &[&email, &phone, &mi_id.to_string(), &unique_email()],
    );
    let other_password = strong_password();
    add(
        &mut dictionary,
        &["password", "current_password", "new_password", "current"],
        &[&password, &other_password],
    );
    add(&mut dictionary, &["code"], &["123456", "ABCD-EFGH"]);
    add(&mut dictionary, &["locale"], &["en", "zh-CN"]);
    add(&mut dictionary, &["region"], &["CN", "US"]);
    add(
        &mut dictionary,
        &["terms_version", "accepted_terms_version"],
        &[&terms],
    );
    add(
        &mut dictionary,
        &["privacy_policy_version", "accepted_privacy_policy_version"],
        &[&privacy_policy],
    );
    add(
        &mut dictionary,
        &["paths"],
        &["display_name", "locale", "region"],
    );
    add(&mut dictionary, &["device_id"], &["phone-1", "tablet-2"]);
    add(&mut dictionary, &["page_token"], &[""]);
    dictionary.add_integers(&["mi_id"], &[mi_id]);
    dictionary.add_integers(&["page_size"], &[0, 10, 100]);
    dictionary.add_integers(&["purpose"], &[1, 2, 3, 4, 5]);
    dictionary.add_integers(&["channel"], &[1, 2]);

    let expired = {
        let mut claims = access_claims_for(mi_id, &claims.sid);
        claims.exp = claims.iat - 1;
        platform.config.sign_access_token(&claims)
    };
    let strangers = access_claims_for(u64::MAX, "no-such-session");
    // The live bearers first, then the FORGED_BEARERS.
    let bearers = [
        tokens.access_token.clone(),
        expired,
        platform.config.sign_access_token(&strangers),
    ];
    dictionary.bearers = RwLock::new(bearers.map(|token| format!("Bearer {token}")).into());
    let mut registry = crate::device_credentials::registry(platform).await;
    let phone = enrolled_phone(&mut registry, (mi_id, &tokens.access_token), FUZZ_PHONE).await;
    add(&mut dictionary, &["device_id"], &[FUZZ_PHONE]);
    dictionary.phone = Some(phone);
    (dictionary, Account { email, password })
}
