//! Unit tests of the reactivation lock against the in-memory stores: hardware locked to an
//! account after an erase refuses sign-ups and other accounts' sign-ins, naming the owner's
//! masked contact, until the owner's removal releases it; each device event counts once.

use mi_contracts::Purpose;
use secrecy::SecretString;

use crate::domain::testing::{PHONE, STRONG_PASSWORD, World, device};
use crate::domain::{
    ContactValue, DeviceInfo, SignInError, SignInOutcome, SignInRequest, SignUpError,
};

const OTHER_PHONE: &str = "+8613900139001";

fn on_hardware(device_id: &str, hardware_id: &str) -> DeviceInfo {
    DeviceInfo {
        hardware_id: hardware_id.into(),
        ..device(device_id)
    }
}

fn sign_in(identifier: &str, password: &str, device: DeviceInfo) -> SignInRequest {
    SignInRequest {
        identifier: identifier.into(),
        password: SecretString::from(password),
        device,
        client_address: "203.0.113.9".into(),
        captcha_pass: None,
    }
}

#[tokio::test]
async fn locked_hardware_refuses_other_accounts_until_the_owner_releases_it() {
    let world = World::new();
    let owner = world.signed_up().await.session.mi_id;
    let locks = &world.services.reactivation_locks;
    locks.lock("erased-1", "hw-1", owner).await.expect("lock");
    let masked = ContactValue::parse(PHONE).expect("phone").masked();

    // A new account on the erased phone.
    let mut sign_up = world.sign_up_request(world.verification_token(OTHER_PHONE, Purpose::SignUp));
    sign_up.device = on_hardware("thief-1", "hw-1");
    let refused = world.services.sign_up.sign_up(sign_up.clone()).await;
    assert!(
        matches!(&refused, Err(SignUpError::ReactivationLocked { owner_contact }) if *owner_contact == masked),
        "{refused:?}"
    );
    // The same account elsewhere, then signing in on the erased phone.
    sign_up.verification_token = world.verification_token(OTHER_PHONE, Purpose::SignUp);
    sign_up.device = on_hardware("thief-2", "hw-2");
    world
        .services
        .sign_up
        .sign_up(sign_up)
        .await
        .expect("other hardware");
    let sign_in_service = &world.services.sign_in;
    let refused = sign_in_service
        .sign_in(sign_in(
            OTHER_PHONE,
            STRONG_PASSWORD,
            on_hardware("thief-1", "hw-1"),
        ))
        .await;
    assert!(
        matches!(&refused, Err(SignInError::ReactivationLocked { owner_contact }) if *owner_contact == masked),
        "{refused:?}"
    );
    // A wrong password learns nothing about the lock.
    let wrong = sign_in_service
        .sign_in(sign_in(
            OTHER_PHONE,
            "Wrong-Password-1",
            on_hardware("thief-1", "hw-1"),
        ))
        .await;
    assert!(
        matches!(wrong, Err(SignInError::InvalidCredentials)),
        "{wrong:?}"
    );
    // The owner signs in on it.
    let owner_back = sign_in_service
        .sign_in(sign_in(
            PHONE,
            STRONG_PASSWORD,
            on_hardware("phone-again", "hw-1"),
        ))
        .await;
    assert!(
        matches!(
            owner_back,
            Ok(SignInOutcome::SignedIn(_) | SignInOutcome::Challenged { .. })
        ),
        "{owner_back:?}"
    );

    // The owner removes the device: released; the erase redelivered does not lock it again.
    locks
        .release("removed-1", "hw-1", owner)
        .await
        .expect("release");
    locks
        .lock("erased-1", "hw-1", owner)
        .await
        .expect("redelivered");
    let accepted = sign_in_service
        .sign_in(sign_in(
            OTHER_PHONE,
            STRONG_PASSWORD,
            on_hardware("thief-1", "hw-1"),
        ))
        .await;
    assert!(
        !matches!(accepted, Err(SignInError::ReactivationLocked { .. })),
        "{accepted:?}"
    );
}
