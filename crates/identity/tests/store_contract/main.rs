//! The identity store contract, on SQLite and PostgreSQL: every scenario runs as
//! `sqlite::<scenario>` and `postgres::<scenario>`, each on a database of its own.
//!
//! The scenarios live by subject in [`accounts`], [`contacts`], [`passwords`], [`sessions`],
//! [`retention`], [`challenges`], [`consent`], [`two_factor`] and [`snapshots`]; what they
//! share (databases, builders, `race`, outbox readers) is in [`support`].

mod accounts;
mod challenges;
mod consent;
mod contacts;
mod passwords;
mod retention;
mod sessions;
mod snapshots;
mod support;
mod two_factor;

/// Runs each `async fn scenario(fixture: Fixture)` of each module as `sqlite::scenario` and
/// `postgres::scenario`.
macro_rules! on_both_backends {
    ($($module:ident: [$($scenario:ident),+ $(,)?]),+ $(,)?) => {
        on_both_backends!(@backend sqlite, $($module: [$($scenario),+]),+);
        on_both_backends!(@backend postgres, $($module: [$($scenario),+]),+);
    };
    (@backend $backend:ident, $($module:ident: [$($scenario:ident),+]),+) => {
        mod $backend {
            $($(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    let fixture = crate::support::$backend().await;
                    Box::pin(crate::$module::$scenario(fixture)).await;
                }
            )+)+
        }
    };
}

on_both_backends!(
    accounts: [
        sign_up_stores_everything_or_nothing,
        concurrent_sign_ups_create_one_account,
        deleting_an_account_removes_only_that_account,
        tokens_events_profile_and_authentication_times,
    ],
    contacts: [
        account_lists_contacts_primary_first_with_two_factor_state,
        contacts_are_added_within_limits_and_removed_unless_primary,
        concurrent_contact_additions_respect_the_limit,
        an_account_keeps_one_primary_contact_under_concurrent_changes,
        contacts_are_not_added_to_a_deleted_account,
    ],
    sessions: [
        refresh_tokens_rotate_once_and_reuse_is_detected,
        concurrent_rotations_of_one_token_rotate_once,
        revoking_sessions_follows_the_scope,
        concurrent_authentications_keep_every_method,
        sessions_are_paged_newest_first_through_equal_times,
    ],
    retention: [expired_rows_are_deleted_and_live_ones_kept],
    passwords: [password_changes_spend_the_token_and_revoke_other_sessions],
    challenges: [challenges_complete_once_while_pending],
    consent: [
        consent_steps_complete_once_and_record_the_consent,
        a_second_factor_hands_over_to_the_consent_step,
    ],
    two_factor: [totp_steps_and_recovery_codes_are_accepted_once],
    snapshots: [
        the_backfill_publishes_one_snapshot_per_account_resumes_and_runs_once,
        a_sign_in_says_whether_the_account_has_a_second_factor_at_commit,
        two_factor_events_say_whether_a_second_factor_is_left,
    ],
);
