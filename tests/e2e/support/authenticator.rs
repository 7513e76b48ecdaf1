//! Authenticator-app codes computed independently of the service: RFC 6238 TOTP over RFC 4226
//! HOTP, checked against the RFC's own test vectors in `tests/identity_sign_in.rs`.

use hmac::{Hmac, Mac};
use sha1::Sha1;

/// The RFC 6238 TOTP (HMAC-SHA1, 30-second steps from the epoch) at `unix_seconds`, written
/// here independently of the service: RFC 4226 HOTP of the step counter with dynamic
/// truncation.
pub(crate) fn rfc6238_code(secret: &[u8], unix_seconds: u64, digits: u32) -> String {
    let counter = unix_seconds / 30;
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(&counter.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = usize::from(hash[hash.len() - 1] & 0x0f);
    let truncated = u32::from_be_bytes([
        hash[offset] & 0x7f,
        hash[offset + 1],
        hash[offset + 2],
        hash[offset + 3],
    ]);
    let code = u64::from(truncated) % 10u64.pow(digits);
    format!("{code:0width$}", width = digits as usize)
}

/// Decodes RFC 4648 base32 (upper or lower case, padding and spaces ignored).
pub(crate) fn base32_decode(secret: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for character in secret.chars().filter(|c| *c != '=' && !c.is_whitespace()) {
        let value = match character.to_ascii_uppercase() {
            letter @ 'A'..='Z' => letter as u32 - 'A' as u32,
            digit @ '2'..='7' => digit as u32 - '2' as u32 + 26,
            other => panic!("{other:?} is not a base32 character"),
        };
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            bytes.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    bytes
}

/// The 6-digit TOTP code of a 30-second time step.
pub(crate) fn totp_at_step(secret: &[u8], step: u64) -> String {
    rfc6238_code(secret, step * 30, 6)
}

/// A 6-digit code that is not the code of any step near now.
pub(crate) fn wrong_totp_code(secret: &[u8]) -> String {
    let step = super::unix_now() / 30;
    let near: Vec<String> = (step - 3..=step + 3)
        .map(|step| totp_at_step(secret, step))
        .collect();
    ["000000", "123456", "999999", "424242"]
        .into_iter()
        .find(|candidate| !near.iter().any(|code| code == candidate))
        .unwrap()
        .to_owned()
}
