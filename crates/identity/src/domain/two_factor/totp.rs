//! Authenticator-app codes (RFC 6238: SHA-1, 6 digits, 30-second steps), with secrets sealed
//! at rest and an enrollment QR code.

use std::io::Cursor;

use anyhow::Context;
use mi_contracts::MiId;
use mi_platform::crypto::{CodeCipher, constant_time_eq};
use totp_rs::{Algorithm, Secret, TOTP};

const DIGITS: usize = 6;
const STEP_SECONDS: u64 = 30;
/// Accepted clock drift, in steps each way.
const SKEW_STEPS: u64 = 1;
const ISSUER: &str = "Mi Account";

/// What a person needs to add the account to an authenticator app.
#[derive(Clone)]
pub struct TotpEnrollment {
    /// The secret in base32.
    pub secret_base32: String,
    /// The `otpauth://` URI.
    pub otpauth_uri: String,
    /// The URI as a QR code, PNG.
    pub qr_png: Vec<u8>,
    /// The secret sealed for storage.
    pub sealed_secret: Vec<u8>,
}

impl std::fmt::Debug for TotpEnrollment {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("TotpEnrollment(..)")
    }
}

/// Creates, seals and checks TOTP secrets.
#[derive(Debug, Clone)]
pub struct TotpSecrets {
    cipher: CodeCipher,
}

impl TotpSecrets {
    /// Secrets sealed with `cipher` (the configured TOTP key).
    pub fn new(cipher: CodeCipher) -> Self {
        Self { cipher }
    }

    /// A new random 160-bit secret for an account, with its URI and QR code.
    pub fn enroll(&self, mi_id: MiId) -> anyhow::Result<TotpEnrollment> {
        let secret: [u8; 20] = rand::random();
        let secret_base32 = Secret::Raw(secret.to_vec()).to_encoded().to_string();
        // Spelled out in full: some authenticator apps assume nothing about omitted defaults.
        let issuer = ISSUER.replace(' ', "%20");
        let otpauth_uri = format!(
            "otpauth://totp/{issuer}:{mi_id}?secret={secret_base32}&issuer={issuer}\
             &algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}"
        );
        let qr_png = qr_png(&otpauth_uri)?;
        Ok(TotpEnrollment {
            secret_base32,
            otpauth_uri,
            qr_png,
            sealed_secret: self.cipher.seal(&context(mi_id), &secret)?,
        })
    }

    /// The time step `code` is valid for at `unix_seconds` (allowing one step of drift), if
    /// any; the caller accepts it only if the step is later than the last one accepted.
    pub fn matching_step(
        &self,
        mi_id: MiId,
        sealed_secret: &[u8],
        code: &str,
        unix_seconds: u64,
    ) -> anyhow::Result<Option<u64>> {
        let code = code.trim();
        if code.len() != DIGITS || !code.chars().all(|c| c.is_ascii_digit()) {
            return Ok(None);
        }
        let secret = self.cipher.open(&context(mi_id), sealed_secret)?;
        let totp = totp(&secret, DIGITS);
        let now_step = unix_seconds / STEP_SECONDS;
        let candidates = now_step.saturating_sub(SKEW_STEPS)..=now_step + SKEW_STEPS;
        Ok(candidates.into_iter().find(|step| {
            let expected = totp.generate(step * STEP_SECONDS);
            constant_time_eq(expected.as_bytes(), code.as_bytes())
        }))
    }
}

fn context(mi_id: MiId) -> String {
    format!("totp:{mi_id}")
}

fn totp(secret: &[u8], digits: usize) -> TOTP {
    TOTP::new_unchecked(Algorithm::SHA1, digits, 1, STEP_SECONDS, secret.to_vec())
}

fn qr_png(uri: &str) -> anyhow::Result<Vec<u8>> {
    let code = qrcode::QrCode::new(uri.as_bytes()).context("cannot encode the QR code")?;
    let image = code
        .render::<image::Luma<u8>>()
        .min_dimensions(240, 240)
        .build();
    let mut png = Vec::new();
    image::DynamicImage::ImageLuma8(image)
        .write_to(&mut Cursor::new(&mut png), image::ImageOutputFormat::Png)
        .context("cannot write the QR code as PNG")?;
    Ok(png)
}

#[cfg(test)]
mod tests {
    use mi_platform::crypto::SecretKey;

    use super::*;

    fn code_at(secret: &[u8], digits: usize, unix_seconds: u64) -> String {
        totp(secret, digits).generate(unix_seconds)
    }

    /// RFC 6238 appendix B, SHA-1 (8 digits; a 6-digit code is the last 6 of them).
    const RFC_6238_SHA1: [(u64, &str); 6] = [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ];

    #[test]
    fn codes_match_the_rfc_6238_test_vectors() {
        let secret = b"12345678901234567890";
        for (time, expected) in RFC_6238_SHA1 {
            assert_eq!(code_at(secret, 8, time), expected, "t={time}");
            assert_eq!(code_at(secret, 6, time), &expected[2..], "t={time}");
        }
    }

    #[test]
    fn enrollment_gives_a_uri_a_png_and_a_checkable_sealed_secret() {
        let secrets = TotpSecrets::new(CodeCipher::new(&SecretKey::generate()));
        let mi_id = MiId::new(1_234_567_890).expect("id");
        let enrollment = secrets.enroll(mi_id).expect("enroll");
        assert!(
            enrollment.otpauth_uri.starts_with("otpauth://totp/"),
            "{}",
            enrollment.otpauth_uri
        );
        assert!(
            enrollment
                .otpauth_uri
                .contains(&format!("secret={}", enrollment.secret_base32))
        );
        assert_eq!(&enrollment.qr_png[1..4], b"PNG");

        let secret = Secret::Encoded(enrollment.secret_base32.clone())
            .to_bytes()
            .expect("base32");
        let now = 1_700_000_000;
        let code = code_at(&secret, 6, now);
        let step = secrets
            .matching_step(mi_id, &enrollment.sealed_secret, &code, now + 25)
            .expect("check");
        assert_eq!(step, Some(now / 30));
        let late = secrets
            .matching_step(mi_id, &enrollment.sealed_secret, &code, now + 95)
            .expect("check");
        assert_eq!(late, None);
        let other_account = MiId::new(1_234_567_891).expect("id");
        assert!(
            secrets
                .matching_step(other_account, &enrollment.sealed_secret, &code, now)
                .is_err()
        );
    }
}
