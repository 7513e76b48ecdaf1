//! No code, token, CAPTCHA answer or key ever appears in a log line or a span field (the
//! fields become trace attributes), even at TRACE level.

use crate::support::{
    Backends, TestConfig, TestPlatform, code_in, contact_request, unique_phone_number,
};
use mi_platform::Platform;
use mi_platform::config::ConfigLoader;
use mi_platform::db::Database;
use mi_proto::common::v1::{Channel, Purpose};
use mi_proto::verification::v1::CheckCodeRequest;
use mi_test_support::CapturedLogs;
use secrecy::ExposeSecret;
use tracing_subscriber::fmt::format::FmtSpan;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_tokens_and_keys_never_reach_logs_or_spans() {
    let captured = CapturedLogs::default();
    // Installed before the harness's own subscriber, which then keeps this one.
    tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::FULL)
        .with_ansi(false)
        .init();

    let config = TestConfig::new(Backends::Embedded);
    let encryption_key = config
        .code_encryption_key
        .to_base64()
        .expose_secret()
        .to_owned();
    let send_token_key = config.send_token_key.to_base64().expose_secret().to_owned();
    let platform = TestPlatform::start_with(config.with_repeatable_codes()).await;
    let destination = unique_phone_number();
    let request = platform.sign_up_request(&destination, Channel::Sms).await;
    let captcha_answer = request.captcha.clone().unwrap().answer;
    let sent = platform
        .verification()
        .await
        .send_code(request)
        .await
        .unwrap()
        .into_inner();
    let code = code_in(&platform.wait_for_inbox(&destination, 1).await[0]);
    let checked = platform
        .verification()
        .await
        .check_code(CheckCodeRequest {
            verification_id: sent.verification_id,
            code: code.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    // A code to a contact shown masked: its send token is a secret too.
    let account_phone = unique_phone_number();
    let (account, _) = platform.create_account(&account_phone, Channel::Sms).await;
    let reset = platform
        .start_reset(&account.mi_id.to_string())
        .await
        .unwrap();
    let send_token = reset.contacts[0].send_token.clone();
    let to_contact = contact_request(
        &reset.challenge_id,
        &reset.contacts[0],
        Channel::Sms,
        Purpose::PasswordReset,
    );
    platform.code_via_contact(to_contact, &account_phone).await;
    platform.stop().await;
    let server_passwords = connection_errors_are_logged_without_passwords().await;

    let logs = captured.text();
    assert!(
        logs.contains("code sent") && logs.contains("verification approved"),
        "the flow was logged"
    );
    assert!(logs.lines().count() > 100, "TRACE logging was on");
    for (secret, what) in [
        (code.as_str(), "the code"),
        (
            checked.verification_token.as_str(),
            "the verification token",
        ),
        (captcha_answer.as_str(), "the captcha answer"),
        (encryption_key.as_str(), "the code encryption key"),
        (send_token.as_str(), "a send token"),
        (send_token_key.as_str(), "the send token key"),
        (server_passwords[0], "the Redis password"),
        (server_passwords[1], "the PostgreSQL password"),
    ] {
        // Six digits may occur by chance (timestamps); only look for them where a value is printed.
        let leaked = if what == "the code" {
            logs.lines().any(|line| {
                line.contains(&format!("={secret}"))
                    || line.contains(&format!(" {secret} "))
                    || line.contains(&format!("\"{secret}\""))
            })
        } else {
            logs.contains(secret)
        };
        assert!(!leaked, "{what} appears in the logs");
    }
    let token_payload = checked.verification_token.split('.').nth(1).unwrap();
    assert!(
        !logs.contains(token_payload),
        "part of the token appears in the logs"
    );
}

/// Connects to a Redis and a PostgreSQL that are not there, with passwords in their URLs, and
/// logs the errors as a process that stops on them does (`run_process`). Returns the passwords.
async fn connection_errors_are_logged_without_passwords() -> [&'static str; 2] {
    const REDIS_PASSWORD: &str = "redis-Pa55word-in-url";
    const POSTGRES_PASSWORD: &str = "postgres-Pa55word-in-url";
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let redis_url = format!("redis://mi:{REDIS_PASSWORD}@127.0.0.1:{closed_port}/0");
    let infra = ConfigLoader::from_figment(figment::Figment::new())
        .with_value("redis.url", redis_url)
        .infra()
        .unwrap();
    let redis_error = Platform::connect(infra).await.expect_err("no redis there");
    let postgres_url = format!("postgres://mi:{POSTGRES_PASSWORD}@127.0.0.1:{closed_port}/mi");
    let postgres_error = Database::connect_postgres(&postgres_url, 1)
        .await
        .expect_err("no postgres there");
    for error in [redis_error, postgres_error] {
        let message = format!("{error:#}");
        assert!(
            message.contains(&format!("***@127.0.0.1:{closed_port}")),
            "{message}"
        );
        tracing::error!(error = message, "mi-account stopped");
    }
    [REDIS_PASSWORD, POSTGRES_PASSWORD]
}
