//! What identity's events say of an account's second factor, as the projection reads it.

use mi_platform::events::envelope;
use mi_proto::EventPayload;
use mi_proto::events::v1::{
    AccountSnapshot, AlertAudience, SignedIn, TwoFactorDisabled, TwoFactorEnabled,
};

use super::account_news;

const MI_ID: u64 = 4_071_234_567;

/// The Mi ID and second-factor flag `account_news` finds in `payload`.
fn flag_of<P: EventPayload>(payload: &P) -> Option<(u64, Option<bool>)> {
    let event = envelope("identity", &MI_ID.to_string(), payload);
    account_news(&event)
        .expect("decodable")
        .map(|(mi_id, news)| (mi_id, news.has_second_factor))
}

fn audience() -> Option<AlertAudience> {
    Some(AlertAudience {
        contacts: vec!["+8613800138000".into()],
        locale: "en".into(),
    })
}

#[test]
fn a_snapshot_sets_the_flag_and_the_audience() {
    for has_second_factor in [true, false] {
        let snapshot = AccountSnapshot {
            mi_id: MI_ID,
            audience: audience(),
            has_second_factor,
        };
        assert_eq!(flag_of(&snapshot), Some((MI_ID, Some(has_second_factor))));
        let event = envelope("identity", &MI_ID.to_string(), &snapshot);
        let (_, news) = account_news(&event).expect("decodable").expect("news");
        assert_eq!(
            news.audience.expect("an audience").contacts,
            ["+8613800138000"]
        );
    }
}

#[test]
fn turning_one_method_off_keeps_the_flag_while_the_other_is_on() {
    let disabled = |has_second_factor| TwoFactorDisabled {
        mi_id: MI_ID,
        method: "totp".into(),
        audience: audience(),
        has_second_factor,
    };
    assert_eq!(flag_of(&disabled(Some(true))), Some((MI_ID, Some(true))));
    assert_eq!(flag_of(&disabled(Some(false))), Some((MI_ID, Some(false))));
    // Events written before identity said mean no second factor is left, as they always did.
    assert_eq!(flag_of(&disabled(None)), Some((MI_ID, Some(false))));
    let enabled = TwoFactorEnabled {
        mi_id: MI_ID,
        method: "code".into(),
        audience: audience(),
        has_second_factor: None,
    };
    assert_eq!(flag_of(&enabled), Some((MI_ID, Some(true))));
}

#[test]
fn a_sign_in_is_not_account_news_it_links_with_its_own() {
    // SignedIn goes through `link` (with its flag, when it has one), not `account_news`.
    let signed_in = SignedIn {
        mi_id: MI_ID,
        has_second_factor: Some(true),
        ..SignedIn::default()
    };
    assert_eq!(flag_of(&signed_in), None);
}
