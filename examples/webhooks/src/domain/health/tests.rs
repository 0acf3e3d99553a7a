use super::*;

#[test]
fn ready_only_when_all_dependencies_are_up() {
    let mut report = HealthReport::default();
    assert!(
        report.is_ready(),
        "no dependencies means nothing can be down"
    );
    report.dependencies.insert("postgres", DependencyStatus::Up);
    assert!(report.is_ready());
    report.dependencies.insert("cache", DependencyStatus::Down);
    assert!(!report.is_ready());
    assert_eq!(report.failing(), vec!["cache"]);
}

#[test]
fn an_optional_dependency_down_degrades_but_does_not_stop_traffic() {
    let mut report = HealthReport::default();
    report.dependencies.insert("postgres", DependencyStatus::Up);
    report.dependencies.insert("redis", DependencyStatus::Down);
    report.optional.insert("redis");
    assert!(report.is_ready());
    assert!(report.is_degraded());
    assert_eq!(report.failing(), vec!["redis"]);
    report
        .dependencies
        .insert("postgres", DependencyStatus::Down);
    assert!(!report.is_ready());
    assert!(!report.is_degraded());
}
