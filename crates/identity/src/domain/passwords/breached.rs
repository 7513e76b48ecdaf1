//! The local breached-password list: no network call, as Kratos checks HIBP but offline.
//!
//! `breached-passwords.txt.gz` holds the entries of 8 characters or more (shorter ones fail the
//! length rule first) of zxcvbn's password list (MIT), the 30,000 most common passwords of
//! leaked credential dumps (Burnett's 10 million passwords), in rank order, one per line,
//! lower-case. zxcvbn only weighs them into its score; here an exact match is refused.

use std::collections::HashSet;
use std::io::Read;
use std::sync::LazyLock;

/// The gzip-compressed list, one password a line.
const COMPRESSED: &[u8] = include_bytes!("breached-passwords.txt.gz");

/// Decompressed once, at the first check.
static BREACHED: LazyLock<HashSet<String>> = LazyLock::new(|| {
    let mut text = String::new();
    flate2::read::GzDecoder::new(COMPRESSED)
        .read_to_string(&mut text)
        .unwrap_or_else(|error| unreachable!("the bundled list is valid gzip text: {error}"));
    text.lines().map(str::to_owned).collect()
});

/// Whether `password`, ignoring case, is on the list.
pub(super) fn is_breached(password: &str) -> bool {
    BREACHED.contains(&password.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_passwords_are_on_the_list_whatever_their_case() {
        for password in ["password1", "qwertyuiop", "iloveyou123", "PassWord1"] {
            assert!(is_breached(password), "{password}");
        }
        assert!(!is_breached("Tangerine-Orbit-47"));
        assert!(BREACHED.len() > 10_000, "{}", BREACHED.len());
    }
}
