//! Use cases. Each service here works on `domain` types and reaches the outside world only
//! through traits that `infra` implements, so it can be tested without a network.

pub mod readiness;
