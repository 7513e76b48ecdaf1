//! The checks every send passes, SendCode and ResendCode alike: the destination's country,
//! the CAPTCHA when the risk calls for one, and every rate limit, counted atomically.

use std::time::Duration;

use mi_platform::client::limit_key;
use mi_platform::limiter::{Limit, grouped};

use mi_contracts::Purpose;

use super::{CaptchaAnswer, Destination, Verifier};

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);
/// Every send limit is one limiter group: a send counts its destination's, its client's, its
/// country's and the global budgets at once, and a client's or the global budget is shared by
/// every destination, so no smaller grouping keeps each call's keys together.
const SEND_GROUP: &str = "send";

/// The address a request came from (IP text), used for per-client limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAddress(pub String);

/// Why a send was refused before anything was stored.
#[derive(Debug, thiserror::Error)]
pub enum SendRefusal {
    /// Codes are not sent to this country.
    #[error("codes are not sent to phone numbers in {0}")]
    CountryNotAllowed(String),
    /// A solved CAPTCHA is needed; `answered` tells a wrong answer from a missing one.
    #[error("a CAPTCHA is required")]
    CaptchaRequired {
        /// Whether an answer was given (and was wrong or expired).
        answered: bool,
    },
    /// A rate limit refused.
    #[error("rate limit {limit} reached")]
    RateLimited {
        /// Which limit, e.g. `destination per hour`.
        limit: &'static str,
        /// When a send could succeed.
        retry_after: Duration,
    },
    /// The limiter or CAPTCHA store cannot be reached; sending without them would be unsafe.
    #[error("rate limiter unavailable")]
    Unavailable(#[source] anyhow::Error),
}

impl Verifier {
    /// Runs every check for one send; on success the send is counted against every limit.
    pub(super) async fn guard_send(
        &self,
        destination: &Destination,
        purpose: Purpose,
        client: &ClientAddress,
        captcha: Option<&CaptchaAnswer>,
    ) -> Result<(), SendRefusal> {
        let country = destination.country();
        if let Some(country) = &country {
            let policy = &self.policy.countries;
            let allowed = policy.allowed.is_empty() || policy.allowed.contains(country);
            if !allowed || policy.denied.contains(country) {
                return Err(SendRefusal::CountryNotAllowed(country.clone()));
            }
        }

        let destination_hour = grouped(
            SEND_GROUP,
            &format!("destination-hour:{}", destination.canonical()),
        );
        let client_hour = grouped(SEND_GROUP, &format!("client-hour:{}", limit_key(&client.0)));
        if self
            .captcha_required(purpose, &destination_hour, &client_hour)
            .await?
        {
            let Some(answer) = captcha else {
                return Err(SendRefusal::CaptchaRequired { answered: false });
            };
            if !self
                .captchas
                .check(answer, client)
                .await
                .map_err(SendRefusal::Unavailable)?
            {
                return Err(SendRefusal::CaptchaRequired { answered: true });
            }
        }

        let limits = &self.policy.limits;
        // The cooldown is per purpose: it keeps one flow from re-sending its code faster than
        // a person could read it, and a person who leaves a sign-in code unused to reset the
        // password expects that code at once. The hourly and daily budgets stay shared by
        // every purpose: they bound what one number costs and receives (toll fraud, SMS
        // bombing), whatever the flows.
        let mut checks = vec![
            (
                "destination per minute",
                Limit::new(
                    grouped(
                        SEND_GROUP,
                        &format!(
                            "destination-cooldown:{}:{}",
                            purpose.as_str(),
                            destination.canonical()
                        ),
                    ),
                    1,
                    limits.send_cooldown,
                ),
            ),
            (
                "destination per hour",
                Limit::new(destination_hour, limits.destination_per_hour, HOUR),
            ),
            (
                "destination per day",
                Limit::new(
                    grouped(
                        SEND_GROUP,
                        &format!("destination-day:{}", destination.canonical()),
                    ),
                    limits.destination_per_day,
                    DAY,
                ),
            ),
            (
                "client per hour",
                Limit::new(client_hour, limits.client_per_hour, HOUR),
            ),
        ];
        if let Some(country) = country {
            checks.push((
                "country per hour",
                Limit::new(
                    grouped(SEND_GROUP, &format!("country-hour:{country}")),
                    limits.country_per_hour,
                    HOUR,
                ),
            ));
            checks.push((
                "global per hour",
                Limit::new(
                    grouped(SEND_GROUP, "global-hour"),
                    limits.global_per_hour,
                    HOUR,
                ),
            ));
        }
        let to_acquire: Vec<Limit> = checks.iter().map(|(_, limit)| limit.clone()).collect();
        let decision = self
            .limiter
            .acquire(&to_acquire)
            .await
            .map_err(SendRefusal::Unavailable)?;
        match decision.refused_by {
            None => Ok(()),
            Some(index) => Err(SendRefusal::RateLimited {
                limit: checks.get(index).map_or("send", |(name, _)| name),
                retry_after: decision.retry_after,
            }),
        }
    }

    async fn captcha_required(
        &self,
        purpose: Purpose,
        destination_hour: &str,
        client_hour: &str,
    ) -> Result<bool, SendRefusal> {
        if purpose == Purpose::SignUp {
            return Ok(true);
        }
        // The threshold-th send within an hour needs a CAPTCHA: that is when the usage before
        // it has reached threshold - 1.
        let free_sends = self.policy.captcha_risk_threshold.saturating_sub(1);
        let used = self
            .limiter
            .usage(&[destination_hour, client_hour], HOUR)
            .await
            .map_err(SendRefusal::Unavailable)?;
        Ok(used >= free_sends)
    }

    /// Counts one code check from `client`; false when the client checks too often.
    pub(super) async fn guard_check(
        &self,
        client: &ClientAddress,
    ) -> anyhow::Result<Option<Duration>> {
        let limit = Limit::new(
            format!("check:client-hour:{}", limit_key(&client.0)),
            self.policy.limits.checks_per_client_per_hour,
            HOUR,
        );
        let decision = self.limiter.acquire(&[limit]).await?;
        Ok((!decision.allowed).then_some(decision.retry_after))
    }
}

#[cfg(test)]
mod tests {
    use mi_contracts::Channel;

    use super::super::testing::Fixture;
    use super::super::{LimitSettings, SendCodeError, SendCodeRequest};
    use super::*;

    #[tokio::test]
    async fn phone_sends_to_all_countries_share_one_hourly_budget() {
        let fixture = Fixture::with_limits(LimitSettings {
            send_cooldown: Duration::ZERO,
            global_per_hour: 2,
            ..LimitSettings::default()
        });
        let send = |destination: &str, channel| {
            fixture
                .verifier
                .send_code(Fixture::request(destination, channel))
        };
        send("+8613800138000", Channel::Sms).await.expect("CN");
        send("+919876543210", Channel::Sms).await.expect("IN");
        let refused = send("+12025550123", Channel::Voice).await;
        assert!(
            matches!(
                refused,
                Err(SendCodeError::Refused(SendRefusal::RateLimited {
                    limit: "global per hour",
                    ..
                }))
            ),
            "{refused:?}"
        );
        // Email costs nothing per message: the phone budget does not hold it back.
        send("a@example.com", Channel::Email).await.expect("email");
    }

    #[tokio::test]
    async fn the_cooldown_is_per_purpose_and_the_hourly_budget_shared() {
        let fixture = Fixture::with_limits(LimitSettings {
            destination_per_hour: 3,
            ..LimitSettings::default()
        });
        let send = |purpose| {
            fixture.verifier.send_code(SendCodeRequest {
                purpose: Some(purpose),
                ..Fixture::request("+8613800138000", Channel::Sms)
            })
        };
        send(Purpose::SignInSecondFactor).await.expect("sign-in");
        // A password reset right after a sign-in code does not wait for its cooldown...
        send(Purpose::PasswordReset).await.expect("reset");
        // ...but a second reset code does.
        let again = send(Purpose::PasswordReset).await;
        assert!(
            matches!(
                again,
                Err(SendCodeError::Refused(SendRefusal::RateLimited {
                    limit: "destination per minute",
                    ..
                }))
            ),
            "{again:?}"
        );
        send(Purpose::AddRecoveryContact).await.expect("third");
        // Every purpose counts against the destination's hourly budget.
        let over_budget = send(Purpose::DeviceAction).await;
        assert!(
            matches!(
                over_budget,
                Err(SendCodeError::Refused(SendRefusal::RateLimited {
                    limit: "destination per hour",
                    ..
                }))
            ),
            "{over_budget:?}"
        );
    }
}
