//! Values tests need: destinations no other test uses, and the code in a message.

use mi_proto::notification::v1::InboxMessage;
use mi_test_support as testing;

/// The 6-digit code in a message body.
pub(crate) fn code_in(message: &InboxMessage) -> String {
    let digits: Vec<char> = message.body.chars().collect();
    digits
        .windows(6)
        .find(|window| window.iter().all(char::is_ascii_digit))
        .map(|window| window.iter().collect())
        .unwrap_or_else(|| panic!("no 6-digit code in {:?}", message.body))
}

/// A distinct valid mobile number per call, so tests never share a destination.
pub(crate) fn unique_phone_number() -> String {
    let suffix = u32::from_str_radix(&testing::unique_name("")[..7], 16).unwrap() % 100_000_000;
    format!("+86138{suffix:08}")
}

/// A distinct email address per call.
pub(crate) fn unique_email() -> String {
    format!("{}@example.com", testing::unique_name("user-"))
}
