//! The monitoring files in `deploy/`: the Prometheus alert rules pass `promtool check rules`
//! and their unit tests (`promtool test rules`), and every query of the Grafana dashboard is
//! valid PromQL over metrics the services serve.
//!
//! `promtool` comes with the Debian package `prometheus`; `scripts/test` installs it when it is
//! missing.

// Always true in a test binary: it tells clippy that all of this is test code.
#![cfg(test)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The metrics the platform serves (`crates/platform/src/metrics`; consumer lag, consumer dead
/// letters and deliveries through its `events` functions).
const SERVED: [&str; 14] = [
    "grpc_server_handled_total",
    "grpc_server_handling_seconds_bucket",
    "mi_outbox_rows",
    "mi_outbox_oldest_age_seconds",
    "mi_outbox_dead_letters",
    "mi_db_pool_connections",
    "mi_db_pool_max_connections",
    "mi_worker_jobs",
    "mi_consumer_lag_messages",
    "mi_consumer_lag_without_partitions_messages",
    "mi_consumer_dead_letters_total",
    "mi_deliveries_total",
    "mi_retention_deleted_rows_total",
    "up",
];

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

fn promtool(directory: &Path, args: &[&str]) {
    let output = Command::new("promtool")
        .args(args)
        .current_dir(directory)
        .output()
        .expect("promtool is needed: apt-get install prometheus (scripts/test does)");
    assert!(
        output.status.success(),
        "promtool {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_alert_rules_pass_promtool_and_their_unit_tests() {
    let directory = deploy().join("prometheus");
    promtool(&directory, &["check", "rules", "alerts.yaml"]);
    promtool(&directory, &["test", "rules", "alerts.test.yaml"]);
}

/// Every `expr` under `value`, at any depth.
fn expressions(value: &serde_json::Value, found: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(object) => {
            for (key, value) in object {
                match (key.as_str(), value) {
                    ("expr", serde_json::Value::String(expr)) => found.push(expr.clone()),
                    _ => expressions(value, found),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|item| expressions(item, found)),
        _ => {}
    }
}

/// The metric names an expression reads: the identifiers named like this project's metrics
/// (`mi_…`, `grpc_…`) or followed by a selector, outside selectors, strings and grouping labels.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut chars = expr.char_indices().peekable();
    let mut in_braces = false;
    while let Some((start, c)) = chars.next() {
        match c {
            '{' => in_braces = true,
            '}' => in_braces = false,
            '"' => {
                for (_, c) in chars.by_ref() {
                    if c == '"' {
                        break;
                    }
                }
            }
            c if (c.is_ascii_alphabetic() || c == '_') && !in_braces => {
                let mut end = start + c.len_utf8();
                while let Some(&(index, next)) = chars.peek() {
                    if !(next.is_ascii_alphanumeric() || next == '_' || next == ':') {
                        break;
                    }
                    end = index + next.len_utf8();
                    chars.next();
                }
                let word = &expr[start..end];
                if word == "by" || word == "without" {
                    // Label names, up to the closing parenthesis.
                    for (_, c) in chars.by_ref() {
                        if c == ')' {
                            break;
                        }
                    }
                    continue;
                }
                let next = expr[end..].trim_start().chars().next();
                if word.starts_with("mi_") || word.starts_with("grpc_") || next == Some('{') {
                    names.push(word.to_owned());
                }
            }
            _ => {}
        }
    }
    names
}

#[test]
fn the_dashboard_queries_are_valid_promql_over_served_metrics() {
    let path = deploy().join("grafana/mi-account.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut found = Vec::new();
    expressions(&dashboard["panels"], &mut found);
    assert!(found.len() >= 11, "{found:?}");
    for expr in &found {
        for name in metric_names(expr) {
            assert!(
                SERVED.contains(&name.as_str()),
                "{name} in {expr} is not served"
            );
        }
    }
    // promtool parses each query as a recording rule, Grafana's variables filled in.
    let rules: Vec<String> = found
        .iter()
        .enumerate()
        .map(|(index, expr)| {
            let expr = expr
                .replace("$__rate_interval", "5m")
                .replace("$service", ".*");
            format!("      - record: dashboard:query{index}\n        expr: {expr:?}\n")
        })
        .collect();
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(
        directory.path().join("dashboard.yaml"),
        format!(
            "groups:\n  - name: dashboard\n    rules:\n{}",
            rules.concat()
        ),
    )
    .unwrap();
    promtool(directory.path(), &["check", "rules", "dashboard.yaml"]);
}

#[test]
fn metric_names_are_read_from_expressions() {
    assert_eq!(
        metric_names(
            r#"sum by (grpc_code) (rate(grpc_server_handled_total{grpc_service=~"$service"}[5m])) / max(mi_outbox_rows)"#
        ),
        ["grpc_server_handled_total", "mi_outbox_rows"]
    );
}
