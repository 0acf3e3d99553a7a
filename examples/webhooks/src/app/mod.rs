//! Use cases. Each service here works on `domain` types and reaches the outside world only
//! through traits that `infra` implements, so it can be tested without a network.

/// The largest page any list returns; larger `limit`s are refused (422), never silently cut.
pub const MAX_PAGE: i64 = 100;

pub mod access;
pub mod audit;
pub mod auth;
pub mod inbound;
pub mod jobs;
pub mod limits;
pub mod mail;
pub mod memory;
pub mod password_reset;
pub mod passwords;
pub mod readiness;
pub mod services;
pub mod sessions;
pub mod tasks;
pub mod tokens;
pub mod users;
pub mod verification;
pub mod webhooks;
pub mod welcome;
