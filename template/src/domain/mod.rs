//! Plain types and the rules about them. Nothing here knows about HTTP, SQL or Redis, so the
//! rules can be tested without any of them; later days add `Task`, `User` and their inputs.

pub mod health;
