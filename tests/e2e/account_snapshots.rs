//! The account snapshot backfill end to end: an account turned its second factor on while the
//! device registry's projection was there to hear it, then the projection lost it (as a registry
//! deployed after the event left the topic never had it). Identity's backfill of a new snapshot
//! version at its next start tells the registry again, and an erase needs the second factor.

use std::time::Duration;

use crate::device_credentials::registry;
use crate::find_device_commands::{enrolled_phone, issue};
use crate::support::{
    Backends, TestConfig, TestPlatform, access_claims_for, authed, expect_refusal, in_both_modes,
    unique_phone_number,
};
use mi_contracts::Reason;
use mi_platform::auth::AccessClaims;
use mi_proto::common::v1::Channel as CodeChannel;
use mi_proto::device::v1::Erase;
use mi_proto::device::v1::command_action::Action;
use tonic::Code;

/// How long the registry may take to hear of an identity event.
const PROJECTION_TIMEOUT: Duration = Duration::from_secs(45);

/// Whether the registry's projection says account `mi_id` has a second factor (`None`: it has
/// no row for the account).
async fn projected_second_factor(config: &TestConfig, mi_id: u64) -> Option<bool> {
    let database = config.database("device").await;
    let flag: Option<i64> =
        sqlx::query_scalar("SELECT has_second_factor FROM accounts WHERE mi_id = $1")
            .bind(i64::try_from(mi_id).unwrap())
            .fetch_optional(database.pool())
            .await
            .unwrap();
    database.pool().close().await;
    flag.map(|flag| flag != 0)
}

/// Waits until the projection says `expected` of account `mi_id`'s second factor.
async fn until_projected(config: &TestConfig, mi_id: u64, expected: bool, what: &str) {
    let waited = tokio::time::timeout(PROJECTION_TIMEOUT, async {
        while projected_second_factor(config, mi_id).await != Some(expected) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(
        waited.is_ok(),
        "{what}: the registry never projected {expected}"
    );
}

/// Runs `statement` (binding `mi_id` as `$1` when it has one) in `service`'s own database.
async fn execute(config: &TestConfig, service: &str, statement: &str, mi_id: Option<u64>) {
    let database = config.database(service).await;
    let mut query = sqlx::query(statement);
    if let Some(mi_id) = mi_id {
        query = query.bind(i64::try_from(mi_id).unwrap());
    }
    query.execute(database.pool()).await.unwrap();
    database.pool().close().await;
}

async fn a_backfilled_snapshot_makes_an_erase_need_the_second_factor(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    let mut device_registry = registry(&platform).await;
    let (alice, _) = platform
        .create_account(&unique_phone_number(), CodeChannel::Sms)
        .await;
    let owner = (alice.mi_id, alice.access_token.as_str());
    enrolled_phone(&mut device_registry, owner, "lost-phone").await;
    platform.enable_totp(owner.1).await;
    until_projected(&platform.config, alice.mi_id, true, "TwoFactorEnabled").await;
    let session_id = platform.access_claims(owner.1).await.sid;

    // The registry forgets the account, and identity forgets it published its snapshots: as
    // after a registry deployed later and a new snapshot version.
    let config = platform.stop().await;
    execute(
        &config,
        "device",
        "DELETE FROM accounts WHERE mi_id = $1",
        Some(alice.mi_id),
    )
    .await;
    assert_eq!(projected_second_factor(&config, alice.mi_id).await, None);
    execute(&config, "identity", "DELETE FROM snapshot_backfills", None).await;

    // Identity's next start publishes the account's snapshot; the registry projects it.
    let platform = TestPlatform::start_with(config).await;
    until_projected(&platform.config, alice.mi_id, true, "AccountSnapshot").await;
    let mut device_registry = registry(&platform).await;
    let proven_with = |methods: &[&str]| {
        platform.config.sign_access_token(&AccessClaims {
            amr: methods.iter().map(|method| (*method).to_owned()).collect(),
            ..access_claims_for(alice.mi_id, &session_id)
        })
    };
    let erase = || issue("lost-phone", "erase-1", Action::Erase(Erase {}));
    expect_refusal(
        device_registry
            .issue_command(authed(erase(), &proven_with(&["pwd"])))
            .await,
        Code::FailedPrecondition,
        Some(Reason::ReauthenticationRequired),
        "an erase with a password alone on an account with a second factor",
    );
    let issued = device_registry
        .issue_command(authed(erase(), &proven_with(&["pwd", "otp", "mfa"])))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(issued.command_id, "erase-1");
    platform.stop().await;
}

in_both_modes!(a_backfilled_snapshot_makes_an_erase_need_the_second_factor);
