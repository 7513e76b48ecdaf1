//! Property tests of the parsers every service runs on untrusted input (docs/fuzzing.md):
//! contacts and page tokens never panic on any text, canonical forms parse to themselves, and
//! every refusal is INVALID_ARGUMENT.

use mi_platform::ServiceError;
use mi_platform::contact::{mask, parse_email, parse_phone_number};
use mi_platform::paging::{MAX_PAGE_SIZE, PageRequest, page_size};
use proptest::prelude::*;
use tonic::Code;

/// Any text, and text shaped like what the parsers expect, so both refusals and acceptances
/// are explored.
fn contact_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[+]?[0-9 ()+-]{0,24}",
        "\\+86 ?1[3-9][0-9]{9}",
        "\\+1[2-9][0-9]{9}",
        "[a-zA-Z0-9._%+\u{e9}-]{0,20}@[a-zA-Z0-9.\u{fc}-]{0,20}",
        "[a-z]{1,10}@[a-z]{1,10}\\.(com|cn|org|XN--FIQS8S)",
    ]
}

fn code_of(error: ServiceError) -> Code {
    tonic::Status::from(error).code()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn a_parsed_phone_number_is_e164_and_parses_to_itself(raw in contact_like()) {
        if let Ok(number) = parse_phone_number(&raw) {
            let digits = number.e164.strip_prefix('+').expect("E.164 starts with +");
            prop_assert!(!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()));
            let again = parse_phone_number(&number.e164).expect("canonical form parses");
            prop_assert_eq!(&again.e164, &number.e164);
            prop_assert_eq!(again.mobile, number.mobile);
        }
    }

    #[test]
    fn a_parsed_email_has_a_lower_case_domain_and_parses_to_itself(raw in contact_like()) {
        if let Ok(email) = parse_email(&raw) {
            let (_, domain) = email.rsplit_once('@').expect("an address has an @");
            prop_assert_eq!(domain, domain.to_ascii_lowercase());
            prop_assert_eq!(parse_email(&email), Ok(email.clone()));
        }
    }

    #[test]
    fn masking_never_panics_and_never_shows_a_whole_contact(raw in contact_like()) {
        mask(&raw);
        if let Ok(number) = parse_phone_number(&raw) {
            prop_assert_ne!(mask(&number.e164), number.e164);
        }
        if let Ok(email) = parse_email(&raw) {
            prop_assert_ne!(mask(&email), email);
        }
    }

    #[test]
    fn page_requests_accept_their_own_tokens_and_refuse_others_cleanly(
        size in any::<i32>(),
        token in prop_oneof![any::<String>(), "[A-Za-z0-9_-]{0,64}"],
        key in (any::<i64>(), any::<String>()),
    ) {
        match PageRequest::<(i64, String)>::from_wire(size, &token) {
            Ok(request) => prop_assert!((1..=MAX_PAGE_SIZE).contains(&request.size)),
            Err(error) => prop_assert_eq!(code_of(error), Code::InvalidArgument),
        }
        // A token the service wrote for any key reads back as that key.
        let first = PageRequest::<(i64, String)>::from_wire(1, "").unwrap();
        let page = first.page(vec![key.clone(), key.clone()], Clone::clone);
        if page.next_page_token.len() <= mi_platform::paging::MAX_PAGE_TOKEN_CHARS {
            let next = PageRequest::<(i64, String)>::from_wire(1, &page.next_page_token).unwrap();
            prop_assert_eq!(next.after, Some(key));
        }
    }

    #[test]
    fn page_sizes_are_within_bounds_or_refused(requested in any::<i32>()) {
        match page_size(requested) {
            Ok(size) => prop_assert!((1..=MAX_PAGE_SIZE).contains(&size) && requested >= 0),
            Err(error) => {
                prop_assert!(requested < 0);
                prop_assert_eq!(code_of(error), Code::InvalidArgument);
            }
        }
    }
}
