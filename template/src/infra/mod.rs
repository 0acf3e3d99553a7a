//! Adapters to the outside world: they implement the traits that `app` defines.

pub mod audit;
pub mod postgres;
{%- if redis %}
pub mod redis;
{%- endif %}
pub mod sessions;
pub mod tasks;
pub mod users;
