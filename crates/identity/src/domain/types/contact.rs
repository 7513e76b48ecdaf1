//! Contacts (phone numbers and email addresses) and sign-in identifiers.

use mi_contracts::{MiId, UnixMillis};
use mi_platform::contact;

/// What kind of contact, stored by its snake_case name.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::EnumIter,
)]
#[strum(serialize_all = "snake_case")]
pub enum ContactKind {
    /// A phone number.
    Phone,
    /// An email address.
    Email,
}

impl ContactKind {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A phone number in E.164 form or an email address in lower case ([`contact::canonical`],
/// the form verification signs into tokens too): the form contacts are stored and compared
/// in, whatever case the person typed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContactValue {
    kind: ContactKind,
    value: String,
}

impl ContactValue {
    /// Parses a phone number (starting with `+`) or an email address.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("must not be empty".into());
        }
        if raw.starts_with('+') {
            let number = contact::parse_phone_number(raw)?;
            return Ok(Self {
                kind: ContactKind::Phone,
                value: number.e164,
            });
        }
        let email = contact::parse_email(raw)?;
        Ok(Self {
            kind: ContactKind::Email,
            value: contact::canonical(&email),
        })
    }

    /// Wraps a value read back from the database.
    pub fn from_stored(kind: ContactKind, value: String) -> Self {
        Self { kind, value }
    }

    /// Phone or email.
    pub fn kind(&self) -> ContactKind {
        self.kind
    }

    /// The normalized text.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The value with most of it hidden, e.g. `+86 138****0000` or `ja***@example.com`.
    pub fn masked(&self) -> String {
        contact::mask(&self.value)
    }
}

/// A contact of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// The phone number or email address.
    pub value: ContactValue,
    /// The primary contact; the others are recovery contacts.
    pub primary: bool,
    /// When it was verified.
    pub verified_at: UnixMillis,
}

/// What a person types to sign in: a Mi ID, a phone number or an email address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identifier {
    /// Digits only.
    MiId(MiId),
    /// A phone number or email address.
    Contact(ContactValue),
}

impl Identifier {
    /// Reads digits as a Mi ID, anything else as a contact, in the canonical form every
    /// service shares ([`contact::canonical_identifier`]).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let canonical = contact::canonical_identifier(raw)?;
        // Only a Mi ID's canonical form is all digits (`u64` would read `+86…` too).
        if canonical.bytes().all(|byte| byte.is_ascii_digit()) {
            let mi_id = canonical
                .parse::<MiId>()
                .map_err(|invalid| invalid.to_string())?;
            return Ok(Self::MiId(mi_id));
        }
        let kind = if canonical.starts_with('+') {
            ContactKind::Phone
        } else {
            ContactKind::Email
        };
        Ok(Self::Contact(ContactValue::from_stored(kind, canonical)))
    }

    /// The canonical text: what failed sign-ins are counted under and CAPTCHA passes name.
    pub fn canonical(&self) -> String {
        match self {
            Self::MiId(mi_id) => mi_id.to_string(),
            Self::Contact(contact) => contact.as_str().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use strum::IntoEnumIterator;

    use super::*;

    #[test]
    fn contact_kinds_keep_their_stored_names() {
        let names: Vec<&str> = ContactKind::iter().map(ContactKind::as_str).collect();
        assert_eq!(names, ["phone", "email"]);
        for kind in ContactKind::iter() {
            assert_eq!(kind.as_str().parse::<ContactKind>(), Ok(kind));
        }
        assert!("fax".parse::<ContactKind>().is_err());
    }

    #[test]
    fn contacts_are_normalized_and_masked() {
        let phone = ContactValue::parse(" +86 138 0013 8000 ").expect("phone");
        assert_eq!(phone.as_str(), "+8613800138000");
        assert_eq!(phone.masked(), "+86 138****8000");
        let email = ContactValue::parse("Jane.Doe@Example.COM").expect("email");
        assert_eq!(email.as_str(), "jane.doe@example.com");
        assert_eq!(email.masked(), "ja***@example.com");
        assert!(ContactValue::parse("8613800138000@").is_err());
    }

    #[test]
    fn identifiers_tell_mi_ids_from_contacts() {
        assert_eq!(
            Identifier::parse("1234567890").expect("mi id"),
            Identifier::MiId(MiId::new(1_234_567_890).expect("id"))
        );
        assert!(matches!(
            Identifier::parse("+8613800138000"),
            Ok(Identifier::Contact(_))
        ));
        assert!(Identifier::parse("0").is_err());
        assert!(Identifier::parse("nobody").is_err());
        for (typed, canonical) in [
            ("0001234567890", "1234567890"),
            (" +86 138 0013 8000", "+8613800138000"),
            ("Jane.Doe@Example.COM", "jane.doe@example.com"),
            ("1Jane@Example.com", "1jane@example.com"),
        ] {
            let identifier = Identifier::parse(typed).expect("identifier");
            assert_eq!(identifier.canonical(), canonical);
            assert_eq!(Identifier::parse(canonical), Ok(identifier), "{typed}");
        }
    }
}
