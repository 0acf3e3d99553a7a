//! What the service knows about the dependencies it needs to serve requests.

use std::collections::{BTreeMap, BTreeSet};

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
    /// Dependencies the service can serve without (degraded): Redis, a cache.
    pub optional: BTreeSet<&'static str>,
}

impl HealthReport {
    /// Ready when every required dependency is up; optional ones may be down.
    pub fn is_ready(&self) -> bool {
        self.dependencies
            .iter()
            .all(|(name, status)| *status == DependencyStatus::Up || self.optional.contains(name))
    }

    /// Ready, but with an optional dependency down.
    pub fn is_degraded(&self) -> bool {
        self.is_ready() && !self.failing().is_empty()
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
mod tests;
