//! Free-text request fields and their documented maxima.
//!
//! Every free-text field of every RPC has a maximum, written in its proto comment and checked
//! at the edge before anything reads the field: text that is stored, put in an event or
//! rendered into a message must never be as large as a client likes.

use std::fmt;

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Ids the platform hands out are UUIDs (36 characters); room for other forms.
pub const MAX_ID_CHARS: usize = 64;

/// Codes are 6 digits; room for spaces a person types.
pub const MAX_CODE_CHARS: usize = 16;

/// Free-text fields longer than their maxima, each with the problem, as field violations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooLong(pub Vec<(&'static str, String)>);

impl fmt::Display for TooLong {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields: Vec<&str> = self.0.iter().map(|(field, _)| *field).collect();
        write!(formatter, "too long: {}", fields.join(", "))
    }
}

impl std::error::Error for TooLong {}

/// Checks `(field, value, most characters)` triples, naming every field that is too long.
pub fn check_lengths(fields: &[(&'static str, &str, usize)]) -> Result<(), TooLong> {
    let too_long: Vec<(&'static str, String)> = fields
        .iter()
        .filter(|(_, value, max_chars)| exceeds(value, *max_chars))
        .map(|(field, _, max_chars)| (*field, format!("must be at most {max_chars} characters")))
        .collect();
    if too_long.is_empty() {
        Ok(())
    } else {
        Err(TooLong(too_long))
    }
}

/// Checks a repeated field's item count: each item costs work, so a list is bounded too.
pub fn check_items(field: &'static str, items: usize, max_items: usize) -> Result<(), TooLong> {
    if items > max_items {
        Err(TooLong(vec![(
            field,
            format!("must have at most {max_items} items"),
        )]))
    } else {
        Ok(())
    }
}

/// What is wrong with text shown to a person, if anything: control characters (a newline
/// would let a device name write its own line in an alert), line and paragraph separators, and
/// format characters (bidi overrides and isolates that reorder what is read, zero-width
/// characters that hide text or make two names look alike).
pub fn check_displayed(value: &str) -> Result<(), &'static str> {
    let hidden = value.chars().any(|c| {
        matches!(
            c.general_category(),
            GeneralCategory::Control
                | GeneralCategory::Format
                | GeneralCategory::LineSeparator
                | GeneralCategory::ParagraphSeparator
        )
    });
    if hidden {
        Err("must not contain control, bidi, zero-width or other invisible format characters")
    } else {
        Ok(())
    }
}

/// Whether `value` has more than `max_chars` characters, reading at most `max_chars + 1` of
/// them however long it is.
fn exceeds(value: &str, max_chars: usize) -> bool {
    // A character is at least one byte, so a short enough text needs no counting.
    value.len() > max_chars && value.chars().nth(max_chars).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_over_its_maximum_is_named_in_order() {
        let huge = "x".repeat(1_500_000);
        let refused = check_lengths(&[
            ("locale", &huge, 35),
            ("name", "短い名前", 4),
            ("code", "1234567", 6),
        ]);
        let Err(TooLong(violations)) = refused else {
            panic!("too-long fields were accepted");
        };
        let fields: Vec<&str> = violations.iter().map(|(field, _)| *field).collect();
        assert_eq!(fields, ["locale", "code"]);
        assert_eq!(violations[1].1, "must be at most 6 characters");
        assert_eq!(
            check_lengths(&[("name", "李雷", 2), ("empty", "", 0)]),
            Ok(())
        );
    }

    #[test]
    fn a_repeated_field_over_its_item_count_is_named() {
        assert_eq!(check_items("paths", 3, 3), Ok(()));
        assert_eq!(
            check_items("paths", 4, 3),
            Err(TooLong(vec![("paths", "must have at most 3 items".into())]))
        );
    }

    #[test]
    fn displayed_text_has_no_hidden_characters() {
        for forged in [
            "Phone\nCall +1 900 555 0100",
            "tab\there",
            "abc\u{202e}gpj.exe",
            "isolate\u{2066}x\u{2069}",
            "zero\u{200b}width",
            "joiner\u{200d}",
            "bom\u{feff}",
            "line\u{2028}separator",
        ] {
            assert!(check_displayed(forged).is_err(), "{forged:?} was accepted");
        }
        for fine in [
            "Lei's phone",
            "小米 14 Pro",
            "Redmi Note 13 (5G)",
            "Ünïcödé",
            "",
        ] {
            assert_eq!(check_displayed(fine), Ok(()), "{fine:?}");
        }
    }
}
