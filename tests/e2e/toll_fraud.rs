//! Toll fraud and SMS pumping: codes go only to people's own lines (no premium-rate,
//! shared-cost or other non-personal numbers, by SMS or by voice), and phone sends to all
//! countries together have an hourly budget beside each country's.

use crate::bad_input::{request, stored_rows};
use crate::support::{
    Backends, TestConfig, TestPlatform, field_violations, in_both_modes, retry_after,
};
use mi_proto::common::v1::{Channel, Purpose};
use tonic::Code;
use tonic_types::StatusExt;

async fn premium_rate_and_shared_cost_numbers_get_no_codes(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    let mut client = platform.verification().await;
    // UK premium rate, US premium rate (900), UK shared cost (0843).
    for number in ["+449098790000", "+19005550100", "+448431234567"] {
        for channel in [Channel::Voice, Channel::Sms] {
            let refused = client
                .send_code(request(
                    number,
                    channel.into(),
                    Purpose::PasswordReset.into(),
                ))
                .await
                .unwrap_err();
            assert_eq!(
                refused.code(),
                Code::InvalidArgument,
                "{number} {channel:?}"
            );
            let violations = field_violations(&refused);
            assert!(
                matches!(&violations[..], [(field, problem)]
                    if field == "destination" && problem.contains("premium-rate")),
                "{number} {channel:?}: {violations:?}"
            );
        }
    }
    assert_eq!(stored_rows(&platform, "verifications").await, 0);
    platform.stop().await;
}

async fn phone_sends_to_all_countries_share_an_hourly_budget(backends: Backends) {
    let config = TestConfig::new(backends)
        .with_value("verification.limits.global_per_hour", 2)
        .with_value("verification.captcha.risk_threshold", 1000);
    let platform = TestPlatform::start_with(config).await;
    let mut client = platform.verification().await;
    let reset = i32::from(Purpose::PasswordReset);
    for (number, channel) in [
        ("+8613800138000", Channel::Sms),
        ("+919876543210", Channel::Sms),
    ] {
        client
            .send_code(request(number, channel.into(), reset))
            .await
            .unwrap();
    }
    let refused = client
        .send_code(request("+12025550123", Channel::Voice.into(), reset))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    let details = refused.get_error_details();
    assert_eq!(
        details.quota_failure().unwrap().violations[0].subject,
        "global per hour"
    );
    assert!(retry_after(&refused).is_some_and(|delay| !delay.is_zero()));
    assert_eq!(stored_rows(&platform, "verifications").await, 2);
    platform.stop().await;
}

in_both_modes!(
    premium_rate_and_shared_cost_numbers_get_no_codes,
    phone_sends_to_all_countries_share_an_hourly_budget,
);
