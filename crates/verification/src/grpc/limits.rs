//! The documented maxima of the service's free-text fields (their proto comments say the
//! same), checked before a request reaches the domain: an over-long field is refused with
//! INVALID_ARGUMENT and changes nothing.

use mi_contracts::MAX_LOCALE_LEN;
use mi_contracts::text::{self, MAX_CODE_CHARS, MAX_ID_CHARS, TooLong};
use mi_platform::contact::MAX_CONTACT_CHARS;
use mi_platform::send_token::MAX_SEND_TOKEN_CHARS;
use mi_proto::verification::v1 as api;

/// Built-in CAPTCHA answers are at most 8 characters.
const MAX_CAPTCHA_ANSWER_CHARS: usize = 16;
/// Third-party tokens run to a few kilobytes (Turnstile's to 2048 characters, hCaptcha's
/// longer).
const MAX_PROVIDER_TOKEN_CHARS: usize = 8192;

fn captcha(answer: Option<&api::CaptchaAnswer>) -> [(&'static str, &str, usize); 3] {
    [
        (
            "captcha.captcha_id",
            answer.map_or("", |answer| answer.captcha_id.as_str()),
            MAX_ID_CHARS,
        ),
        (
            "captcha.answer",
            answer.map_or("", |answer| answer.answer.as_str()),
            MAX_CAPTCHA_ANSWER_CHARS,
        ),
        (
            "captcha.provider_token",
            answer.map_or("", |answer| answer.provider_token.as_str()),
            MAX_PROVIDER_TOKEN_CHARS,
        ),
    ]
}

/// SendCode's free-text fields.
pub(super) fn send_code(request: &api::SendCodeRequest) -> Result<(), TooLong> {
    use api::send_code_request::Target;
    let [captcha_id, answer, token] = captcha(request.captcha.as_ref());
    let (destination, contact) = match &request.target {
        Some(Target::Destination(destination)) => (destination.as_str(), None),
        Some(Target::ChallengeContact(contact)) => ("", Some(contact)),
        None => ("", None),
    };
    text::check_lengths(&[
        ("destination", destination, MAX_CONTACT_CHARS),
        (
            "challenge_contact.challenge_id",
            contact.map_or("", |contact| contact.challenge_id.as_str()),
            MAX_ID_CHARS,
        ),
        (
            "challenge_contact.contact_id",
            contact.map_or("", |contact| contact.contact_id.as_str()),
            MAX_ID_CHARS,
        ),
        (
            "challenge_contact.send_token",
            contact.map_or("", |contact| contact.send_token.as_str()),
            MAX_SEND_TOKEN_CHARS,
        ),
        ("locale", &request.locale, MAX_LOCALE_LEN),
        captcha_id,
        answer,
        token,
    ])
}

/// ResendCode's free-text fields.
pub(super) fn resend_code(request: &api::ResendCodeRequest) -> Result<(), TooLong> {
    let [captcha_id, answer, token] = captcha(request.captcha.as_ref());
    text::check_lengths(&[
        ("verification_id", &request.verification_id, MAX_ID_CHARS),
        ("locale", &request.locale, MAX_LOCALE_LEN),
        captcha_id,
        answer,
        token,
    ])
}

/// PassCaptcha's free-text fields.
pub(super) fn pass_captcha(request: &api::PassCaptchaRequest) -> Result<(), TooLong> {
    let [captcha_id, answer, token] = captcha(request.captcha.as_ref());
    text::check_lengths(&[
        ("subject", &request.subject, MAX_CONTACT_CHARS),
        captcha_id,
        answer,
        token,
    ])
}

/// CheckCode's free-text fields.
pub(super) fn check_code(request: &api::CheckCodeRequest) -> Result<(), TooLong> {
    text::check_lengths(&[
        ("verification_id", &request.verification_id, MAX_ID_CHARS),
        ("code", &request.code, MAX_CODE_CHARS),
    ])
}
