//! The exercise checks of the webhooks day (38), in the variants that have webhooks.

use std::time::Duration;

use task_svc::domain::webhook;

// --- Day 38: Webhooks & external APIs, retries + idempotency ---------------------------------

#[test]
#[ignore = "exercise"]
fn day_38_a_503_with_retry_after_is_honoured() {
    let answered = |retry_after: Option<Duration>| {
        webhook::next_step(&webhook::AttemptOutcome::Status {
            code: 503,
            retry_after,
        })
    };
    assert_eq!(
        answered(Some(Duration::from_secs(30))),
        webhook::NextStep::Retry {
            at_least: Some(Duration::from_secs(30))
        },
        "503 with Retry-After: 30 waits 30 s"
    );
    assert_eq!(
        answered(Some(webhook::MAX_RETRY_AFTER * 10)),
        webhook::NextStep::Retry {
            at_least: Some(webhook::MAX_RETRY_AFTER)
        },
        "capped at MAX_RETRY_AFTER"
    );
    assert_eq!(
        answered(None),
        webhook::NextStep::Retry { at_least: None },
        "without the header, the backoff"
    );
    let other = webhook::next_step(&webhook::AttemptOutcome::Status {
        code: 500,
        retry_after: Some(Duration::from_secs(30)),
    });
    assert_eq!(
        other,
        webhook::NextStep::Retry { at_least: None },
        "only 503 among the 5xx"
    );
}
