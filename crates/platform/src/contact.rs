//! Phone numbers and email addresses in one normal form, shared by every service that
//! compares them (verification signs them into tokens, identity looks accounts up by them).

use email_address::{EmailAddress, Options};
use mi_contracts::MiId;
use phonenumber::{Mode, Type as PhoneNumberType};

/// The most characters a phone number or email address may be written with, before
/// normalizing: an email address can be at most 254 (RFC 5321's path limit); a phone number
/// with spaces is far shorter.
pub const MAX_CONTACT_CHARS: usize = 254;

/// A valid phone number in E.164 form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneNumber {
    /// E.164, e.g. `+8613800138000`.
    pub e164: String,
    /// Whether it can receive SMS (mobile, or a number type that may be mobile).
    pub mobile: bool,
    /// What kind of line it is, as the numbering plan tells.
    pub line: LineType,
}

/// The kind of line a number belongs to, from its country's numbering plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineType {
    /// A mobile phone.
    Mobile,
    /// Mobile or fixed line: some plans (e.g. the US) do not tell them apart.
    FixedLineOrMobile,
    /// A fixed line.
    FixedLine,
    /// Premium-rate, shared-cost, toll-free, VoIP, personal-number, pager, UAN, voicemail or
    /// unknown: not one person's own line, and sending to some of them earns the number's
    /// owner money at the sender's expense (toll fraud).
    NotPersonal,
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
    let line = match number.number_type(&phonenumber::metadata::DATABASE) {
        PhoneNumberType::Mobile => LineType::Mobile,
        PhoneNumberType::FixedLineOrMobile => LineType::FixedLineOrMobile,
        PhoneNumberType::FixedLine => LineType::FixedLine,
        _ => LineType::NotPersonal,
    };
    Ok(PhoneNumber {
        e164: number.format().mode(Mode::E164).to_string(),
        mobile: matches!(line, LineType::Mobile | LineType::FixedLineOrMobile),
        line,
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

/// The one form a contact is compared in, by every service: its identity for limits, CAPTCHA
/// risk, verification token subjects and account lookups. Takes a value [`parse_phone_number`]
/// (E.164, unchanged) or [`parse_email`] gave; an email address is lower-cased whole, as
/// Google, Apple and Keycloak compare addresses for sign-in, so `Alice@example.com` and
/// `alice@example.com` are one person. RFC 5321 lets a mail server tell local parts apart by
/// case, which practically none does; mail still goes to the address as written.
pub fn canonical(normalized: &str) -> String {
    normalized.to_lowercase()
}

/// A sign-in identifier as typed (a Mi ID, a phone number with its country code, or an email
/// address) in the one form every service compares it in: the Mi ID's digits without leading
/// zeros, the number's E.164, the address's [`canonical`] form. Identity counts failed
/// sign-ins and looks accounts up under it; verification signs it into CAPTCHA passes, so a
/// pass solved for `Alice@example.com` is good for `alice@example.com` and for nobody else.
pub fn canonical_identifier(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if !raw.is_empty() && raw.bytes().all(|byte| byte.is_ascii_digit()) {
        return raw
            .parse::<MiId>()
            .map(|mi_id| mi_id.to_string())
            .map_err(|invalid| invalid.to_string());
    }
    let contact = if raw.starts_with('+') {
        parse_phone_number(raw).map(|number| number.e164)
    } else {
        parse_email(raw).map(|address| canonical(&address))
    };
    contact.map_err(|_| {
        "must be a Mi ID, a phone number with its country code, or an email address".to_owned()
    })
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

/// A contact with most of it hidden, for alerts and challenges: enough for its owner to
/// recognize, not enough to hand to whoever reads an SMS preview or a shared mailbox:
/// `+86 138****0000` for an E.164 phone number, `ja***@example.com` for an email address.
pub fn mask(value: &str) -> String {
    match value.strip_prefix('+') {
        Some(digits) => mask_phone(value, digits),
        None => mask_email(value),
    }
}

fn mask_phone(e164: &str, digits: &str) -> String {
    let digits: Vec<char> = digits.chars().collect();
    // The calling code stays whole: it tells the country, not the person.
    let country_len = calling_code(e164)
        .map_or(2, |code| code.len())
        .min(digits.len());
    let (country, national) = digits.split_at(country_len);
    let shown_tail = (national.len() / 2).min(4);
    let shown_head = ((national.len() - shown_tail) / 2).min(3);
    let hidden = national.len() - shown_head - shown_tail;
    let head: String = national[..shown_head].iter().collect();
    let tail: String = national[shown_head + hidden..].iter().collect();
    let country: String = country.iter().collect();
    format!("+{country} {head}{}{tail}", "*".repeat(hidden))
}

fn mask_email(address: &str) -> String {
    let (local, domain) = address.rsplit_once('@').unwrap_or((address, ""));
    // At least one character of the local part stays hidden; the stars never tell its length.
    let shown = local.chars().count().saturating_sub(1).min(2);
    let head: String = local.chars().take(shown).collect();
    format!("{head}***@{domain}")
}

#[cfg(test)]
mod mask_tests {
    use super::*;

    #[test]
    fn phone_numbers_keep_calling_code_head_and_tail() {
        assert_eq!(mask("+8613800000000"), "+86 138****0000");
        assert_eq!(mask("+12025550123"), "+1 202***0123");
        assert_eq!(mask("+4915112345678"), "+49 151****5678");
    }

    #[test]
    fn short_numbers_still_hide_digits() {
        let masked = mask("+35312345");
        assert!(masked.contains('*'), "{masked}");
        assert!(!masked.contains("12345"), "{masked}");
    }

    #[test]
    fn an_address_in_any_case_is_one_canonical_contact() {
        let typed = [
            "Alice@Example.COM",
            "alice@example.com",
            "ALICE@example.com",
        ]
        .map(|raw| canonical(&parse_email(raw).expect("valid")));
        assert!(
            typed.iter().all(|form| form == "alice@example.com"),
            "{typed:?}"
        );
        let phone = parse_phone_number("+86 138 0013 8000").expect("valid").e164;
        assert_eq!(canonical(&phone), "+8613800138000");
    }

    #[test]
    fn identifiers_have_one_form_whatever_was_typed() {
        for (typed, form) in [
            (" 1234567890 ", "1234567890"),
            ("001234567890", "1234567890"),
            ("+86 138 0013 8000", "+8613800138000"),
            ("Alice@Example.COM", "alice@example.com"),
        ] {
            assert_eq!(canonical_identifier(typed).as_deref(), Ok(form), "{typed}");
        }
        for refused in ["", "0", "99999999999999999999", "nobody", "8613800138000@"] {
            assert!(canonical_identifier(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn email_addresses_keep_two_letters_and_the_domain() {
        assert_eq!(mask("jane.doe@example.com"), "ja***@example.com");
        assert_eq!(mask("jo@example.com"), "j***@example.com");
        assert_eq!(mask("j@example.com"), "***@example.com");
        assert_eq!(mask("李雷@例子.公司"), "李***@例子.公司");
    }
}
