//! Unit tests of the two-factor family against the in-memory store.

use mi_contracts::UnixMillis;
use strum::IntoEnumIterator;

use crate::domain::events::{IdentityEvent, TwoFactorKind};
use crate::domain::testing::World;
use crate::domain::{SecondFactorMethod, TwoFactorError, TwoFactorStore};

#[test]
fn methods_and_kinds_keep_their_stored_names() {
    let methods: Vec<&str> = SecondFactorMethod::iter()
        .map(SecondFactorMethod::as_str)
        .collect();
    assert_eq!(methods, ["totp", "recovery_code", "verification_code"]);
    for method in SecondFactorMethod::iter() {
        assert_eq!(method.as_str().parse::<SecondFactorMethod>(), Ok(method));
    }
    let kinds: Vec<&str> = TwoFactorKind::iter().map(TwoFactorKind::as_str).collect();
    assert_eq!(kinds, ["totp", "code"]);
}

#[tokio::test]
async fn totp_is_confirmed_by_a_code_of_the_pending_secret_and_disabled_once() {
    let world = World::new();
    let tokens = world.signed_up().await;
    let caller = world.caller(&tokens);
    let two_factor = &world.services.two_factor;
    let early = two_factor.confirm_totp(&caller, "123456").await;
    assert!(
        matches!(early, Err(TwoFactorError::TotpNotEnrolled)),
        "{early:?}"
    );
    let off = two_factor.disable_totp(&caller).await;
    assert!(
        matches!(off, Err(TwoFactorError::TotpNotEnabled)),
        "{off:?}"
    );
    let none = two_factor.regenerate_recovery_codes(&caller).await;
    assert!(
        matches!(none, Err(TwoFactorError::TwoFactorNotEnabled)),
        "{none:?}"
    );

    let enrollment = two_factor.enroll_totp(&caller).await.expect("enrolled");
    let wrong = two_factor.confirm_totp(&caller, "not-a-code").await;
    assert!(matches!(wrong, Err(TwoFactorError::WrongCode)), "{wrong:?}");
    let secret = totp_rs::Secret::Encoded(enrollment.secret_base32)
        .to_bytes()
        .expect("base32");
    let totp = totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, secret);
    let now_seconds = u64::try_from(UnixMillis::now().as_i64() / 1000).expect("after 1970");
    world.clear_events();
    let codes = two_factor
        .confirm_totp(&caller, &totp.generate(now_seconds))
        .await
        .expect("confirmed");
    assert_eq!(codes.len(), 10);
    let state = world.store.totp_state(caller.mi_id).await.expect("state");
    assert!(state.secret.is_some() && state.pending.is_none());
    let events = world.events();
    assert!(
        matches!(
            &events[..],
            [IdentityEvent::TwoFactorChanged {
                kind: TwoFactorKind::Totp,
                enabled: true,
                ..
            }]
        ),
        "{events:?}"
    );
    let again = two_factor.enroll_totp(&caller).await;
    assert!(
        matches!(again, Err(TwoFactorError::TotpAlreadyEnabled)),
        "{again:?}"
    );

    two_factor.disable_totp(&caller).await.expect("disabled");
    let stale = two_factor.disable_totp(&world.stale_caller(&tokens)).await;
    assert!(
        matches!(stale, Err(TwoFactorError::ReauthenticationRequired)),
        "{stale:?}"
    );
}
