//! Adapters to the outside world: they implement the traits that `app` defines.

pub mod postgres;
