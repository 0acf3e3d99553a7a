//! Adapters to the outside world: they implement the traits that `app` defines.

pub mod audit;
pub mod inbound;
pub mod jobs;
pub mod mail;
pub mod postgres;
pub mod redis;
pub mod redis_limit;
pub mod sessions;
pub mod task_cache;
pub mod task_events;
pub mod tasks;
pub mod users;
pub mod webhook_client;
pub mod webhooks;
