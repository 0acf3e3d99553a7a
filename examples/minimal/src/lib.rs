//! A task service built on Axum and SQLx
//!
//! Layers: `http` (the edge) calls `app` (use cases), which works on `domain` (plain types and
//! rules) and on traits that `infra` implements. `startup` puts them together; `config`,
//! `context`, `error` and `telemetry` serve every layer (`tests/architecture.rs` holds the
//! rules).

pub mod app;
pub mod config;
pub mod context;
pub mod domain;
pub mod error;
pub mod http;
pub mod infra;
pub mod startup;
pub mod telemetry;
