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
