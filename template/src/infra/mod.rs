//! Adapters to the outside world: they implement the traits that `app` defines.

pub mod audit;
{%- if webhooks %}
pub mod inbound;
{%- endif %}
pub mod jobs;
pub mod mail;
pub mod postgres;
{%- if redis %}
pub mod redis;
pub mod redis_limit;
{%- endif %}
pub mod sessions;
{%- if redis %}
pub mod task_cache;
pub mod task_events;
{%- endif %}
pub mod tasks;
pub mod users;
{%- if webhooks %}
pub mod webhook_client;
pub mod webhooks;
{%- endif %}
