//! What the service knows about the dependencies it needs to serve requests.

use std::collections::BTreeMap;

/// The state of one dependency at the moment it was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DependencyStatus {
    Up,
    Down,
}

/// The outcome of checking every dependency, keyed by dependency name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthReport {
    pub dependencies: BTreeMap<&'static str, DependencyStatus>,
}

impl HealthReport {
    /// Ready only when every dependency is up.
    pub fn is_ready(&self) -> bool {
        self.dependencies
            .values()
            .all(|status| *status == DependencyStatus::Up)
    }

    /// The names of the dependencies that are down, in name order.
    pub fn failing(&self) -> Vec<&'static str> {
        self.dependencies
            .iter()
            .filter(|(_, status)| **status == DependencyStatus::Down)
            .map(|(name, _)| *name)
            .collect()
    }
}

#[cfg(test)]
mod tests {
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
}
