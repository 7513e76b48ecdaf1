//! Property tests of the shared parsers of untrusted text (docs/fuzzing.md): locales and the
//! length rule never panic on any input, and a canonical locale parses to itself.

use mi_contracts::text::check_lengths;
use mi_contracts::{Locale, MAX_LOCALE_LEN};
use proptest::prelude::*;

fn locale_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-zA-Z]{1,4}([-_][a-zA-Z0-9]{1,5}){0,3}",
        " ?(en|zh|ja|ko|fr|de|es|ru)([-_](Hans|hant|latn))?([-_](cn|US|419|tw))? ?",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5_000))]

    #[test]
    fn a_canonical_locale_is_short_ascii_and_parses_to_itself(raw in locale_like()) {
        if let Ok(locale) = Locale::parse(&raw) {
            prop_assert!(locale.as_str().is_ascii() && locale.as_str().len() <= MAX_LOCALE_LEN);
            prop_assert_eq!(Locale::parse(locale.as_str()), Ok(locale.clone()));
            // Case and separator do not matter.
            let shouted = locale.as_str().to_ascii_uppercase().replace('-', "_");
            prop_assert_eq!(Locale::parse(&shouted), Ok(locale));
        }
    }

    #[test]
    fn the_length_rule_counts_characters(value in any::<String>(), max in 0usize..64) {
        let fits = value.chars().count() <= max;
        let checked = check_lengths(&[("field", &value, max)]);
        prop_assert_eq!(checked.is_ok(), fits);
        if let Err(too_long) = checked {
            prop_assert_eq!(too_long.0.len(), 1);
            prop_assert_eq!(too_long.0[0].0, "field");
        }
    }
}
