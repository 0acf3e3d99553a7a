//! Plain types and the rules about them. Nothing here knows about HTTP, SQL or Redis, so the
//! rules can be tested without any of them.

pub mod health;
pub mod task;
pub mod user;
pub mod webhook;
