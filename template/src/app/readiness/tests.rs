use std::sync::atomic::AtomicUsize;

use super::*;

struct Fixed(&'static str, Result<(), String>, Duration);

#[async_trait]
impl Probe for Fixed {
    fn name(&self) -> &'static str {
        self.0
    }
    async fn check(&self) -> Result<(), String> {
        tokio::time::sleep(self.2).await;
        self.1.clone()
    }
}

#[tokio::test]
async fn a_failing_or_slow_probe_makes_the_report_not_ready() {
    let readiness = Readiness::new(
        vec![
            Arc::new(Fixed("fast", Ok(()), Duration::ZERO)),
            Arc::new(Fixed("broken", Err("refused".into()), Duration::ZERO)),
            Arc::new(Fixed("slow", Ok(()), Duration::from_secs(5))),
        ],
        Duration::from_millis(50),
    );
    let report = readiness.check().await;
    assert!(!report.is_ready());
    assert_eq!(report.failing(), vec!["broken", "slow"]);
    assert_eq!(report.dependencies["fast"], DependencyStatus::Up);
}

/// Counts its checks; each takes `delay`.
struct Counting(AtomicUsize, Duration);

#[async_trait]
impl Probe for Counting {
    fn name(&self) -> &'static str {
        "postgres"
    }
    async fn check(&self) -> Result<(), String> {
        self.0.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.1).await;
        Ok(())
    }
}

#[tokio::test]
async fn a_flood_of_checks_shares_one_round_trip_and_a_later_check_runs_its_own() {
    let probe = Arc::new(Counting(AtomicUsize::new(0), Duration::from_millis(50)));
    let readiness = Readiness::new(vec![probe.clone()], Duration::from_secs(1));
    let reports = join_all((0..100).map(|_| readiness.check())).await;
    assert!(reports.iter().all(HealthReport::is_ready));
    assert_eq!(
        probe.0.load(Ordering::SeqCst),
        1,
        "a hundred callers at once: one check"
    );
    // A caller arriving after that check finished gets a fresh one, never a stale report.
    readiness.check().await;
    assert_eq!(probe.0.load(Ordering::SeqCst), 2);
}
