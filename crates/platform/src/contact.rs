//! Phone numbers and email addresses in one normal form, shared by every service that
//! compares them (verification signs them into tokens, identity looks accounts up by them).

use email_address::{EmailAddress, Options};
use phonenumber::{Mode, Type as PhoneNumberType};

/// A valid phone number in E.164 form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneNumber {
    /// E.164, e.g. `+8613800138000`.
    pub e164: String,
    /// Whether it can receive SMS (mobile, or a number type that may be mobile).
    pub mobile: bool,
}

/// Parses a phone number written with its country code; the error says what is wrong.
pub fn parse_phone_number(raw: &str) -> Result<PhoneNumber, String> {
    let raw = raw.trim();
    if !raw.starts_with('+') {
        return Err("must be a phone number with its country code, e.g. +8613800138000".into());
    }
    let number = phonenumber::parse(None, raw).map_err(|_| "is not a phone number".to_owned())?;
    if !phonenumber::is_valid(&number) {
        return Err("is not a valid phone number".into());
    }
    let mobile = matches!(
        number.number_type(&phonenumber::metadata::DATABASE),
        PhoneNumberType::Mobile | PhoneNumberType::FixedLineOrMobile
    );
    Ok(PhoneNumber {
        e164: number.format().mode(Mode::E164).to_string(),
        mobile,
    })
}

/// Parses an email address; the domain is lower-cased, the local part kept as written.
pub fn parse_email(raw: &str) -> Result<String, String> {
    let options = Options::default()
        .with_required_tld()
        .without_display_text()
        .without_domain_literal();
    let address = EmailAddress::parse_with_options(raw.trim(), options)
        .map_err(|_| "is not a valid email address such as name@example.com".to_owned())?;
    Ok(format!(
        "{}@{}",
        address.local_part(),
        address.domain().to_ascii_lowercase()
    ))
}

/// The ISO 3166-1 alpha-2 country of an E.164 number.
pub fn phone_country(e164: &str) -> Option<String> {
    let number = phonenumber::parse(None, e164).ok()?;
    number.country().id().map(|id| id.as_ref().to_owned())
}

/// The country calling code of an E.164 number, e.g. `86`.
pub fn calling_code(e164: &str) -> Option<String> {
    let number = phonenumber::parse(None, e164).ok()?;
    Some(number.code().value().to_string())
}
