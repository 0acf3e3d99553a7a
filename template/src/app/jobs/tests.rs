use std::time::Duration;

use uuid::Uuid;

use super::{
    Job, JobSpec,
    worker::{backoff, random_unit},
};
use crate::app::welcome::WelcomeEmail;

#[test]
fn backoff_doubles_from_the_base_and_stops_at_the_cap() {
    let base = Duration::from_secs(1);
    let max = Duration::from_secs(60);
    // With the random half at its top, the delay is the full exponential step.
    let top = |attempt| backoff(attempt, base, max, 1.0);
    assert_eq!(top(1), Duration::from_secs(1));
    assert_eq!(top(2), Duration::from_secs(2));
    assert_eq!(top(3), Duration::from_secs(4));
    assert_eq!(top(7), Duration::from_secs(60));
    assert_eq!(top(200), Duration::from_secs(60), "no overflow");
}

#[test]
fn jitter_keeps_at_least_half_the_delay() {
    let base = Duration::from_secs(8);
    let max = Duration::from_secs(3600);
    assert_eq!(backoff(1, base, max, 0.0), Duration::from_secs(4));
    assert_eq!(backoff(1, base, max, 0.5), Duration::from_secs(6));
    for _ in 0..1000 {
        let delay = backoff(1, base, max, random_unit());
        assert!(delay >= Duration::from_secs(4) && delay < Duration::from_secs(8));
    }
}

#[test]
fn a_job_key_names_its_cause_and_its_payload_round_trips() {
    let user_id = Uuid::now_v7();
    let welcome = WelcomeEmail {
        user_id,
        email: "a@example.com".into(),
        display_name: "A".into(),
    };
    let job = Job::new(&welcome);
    assert_eq!(job.kind, "welcome_email");
    assert_eq!(job.key, format!("welcome-email.{user_id}"));
    assert_eq!(welcome.key(), job.key);
    let parsed: WelcomeEmail = serde_json::from_value(job.payload).unwrap();
    assert_eq!(parsed, welcome);
}
