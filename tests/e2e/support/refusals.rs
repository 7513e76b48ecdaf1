//! What a refusal says: its code, its `ErrorInfo` reason and metadata, its retry delay, its
//! field violations and its text for a person; and how a client asks for a language.

use std::time::Duration;

use mi_contracts::Reason;
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// Asserts a refusal's code and ErrorInfo reason (none checked when `expected_reason` is
/// `None`) and returns it; `what` names the call in the panic message.
#[track_caller]
pub(crate) fn expect_refusal<T: std::fmt::Debug>(
    result: Result<T, Status>,
    code: Code,
    expected_reason: Option<Reason>,
    what: &str,
) -> Status {
    let status = match result {
        Ok(value) => panic!("{what}: expected {code:?} {expected_reason:?}, got Ok({value:?})"),
        Err(status) => status,
    };
    assert_eq!(
        status.code(),
        code,
        "{what}: wrong code; status {status:?} (reason {:?})",
        reason(&status)
    );
    if expected_reason.is_some() {
        assert_eq!(
            reason(&status),
            expected_reason,
            "{what}: wrong reason; status {status:?}"
        );
    }
    status
}

/// The ErrorInfo reason of a refusal, `None` without one; a reason the contracts do not know
/// fails the test.
pub(crate) fn reason(status: &Status) -> Option<Reason> {
    let details = status.get_error_details();
    let info = details.error_info()?;
    match info.reason.parse() {
        Ok(reason) => Some(reason),
        Err(_) => panic!("unknown ErrorInfo reason {:?} in {status:?}", info.reason),
    }
}

/// One value of a refusal's ErrorInfo metadata, e.g. `attempts_left`.
pub(crate) fn error_metadata(status: &Status, key: &str) -> Option<String> {
    status
        .get_error_details()
        .error_info()
        .and_then(|info| info.metadata.get(key).cloned())
}

/// A refusal's `LocalizedMessage` as (locale, message).
pub(crate) fn localized_message(status: &Status) -> Option<(String, String)> {
    status
        .get_error_details()
        .localized_message()
        .map(|localized| (localized.locale.clone(), localized.message.clone()))
}

/// A request that asks for answers in `accept_language`, as a browser or app would.
pub(crate) fn in_language<T>(
    mut request: tonic::Request<T>,
    accept_language: &str,
) -> tonic::Request<T> {
    request.metadata_mut().insert(
        "accept-language",
        accept_language
            .parse()
            .expect("an ASCII accept-language value"),
    );
    request
}

/// The RetryInfo delay of a refusal.
pub(crate) fn retry_after(status: &Status) -> Option<Duration> {
    status
        .get_error_details()
        .retry_info()
        .and_then(|info| info.retry_delay)
}

/// The BadRequest field violations of a refusal, as (field, description).
pub(crate) fn field_violations(status: &Status) -> Vec<(String, String)> {
    status
        .get_error_details()
        .bad_request()
        .map(|bad_request| {
            bad_request
                .field_violations
                .iter()
                .map(|violation| (violation.field.clone(), violation.description.clone()))
                .collect()
        })
        .unwrap_or_default()
}
