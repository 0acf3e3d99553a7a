//! What every handler shares: the application's services, and the edge's own settings (the
//! per-IP API limit and how far to trust `X-Forwarded-For`), built here from the configuration
//! so that nothing outside `http` knows about them.

use std::{ops::Deref, sync::Arc};

use super::rate_limit::{self, ApiLimit};
use crate::{
    app::services::Services,
    config::{Config, TrustedProxies},
};

// ANCHOR: app_state
/// axum clones the state for every request (each handler and `from_fn_with_state` layer gets
/// its own copy), so it is one `Arc`: cloning the services themselves (token keys, the JWT
/// validation sets, strings, a dozen `Arc`s) and dropping them again cost about a tenth of
/// `/healthz`'s instructions in the benchmark (day 10). The services are read through `Deref`:
/// `state.tasks`.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

struct Shared {
    services: Services,
    api_limit: ApiLimit,
    trusted_proxies: TrustedProxies,
}
// ANCHOR_END: app_state

impl AppState {
    pub fn new(services: Services, config: &Config) -> Self {
        let trusted = &config.http.trusted_proxies;
        Self(Arc::new(Shared {
            services,
            api_limit: rate_limit::config(&config.limits, trusted.clone()),
            trusted_proxies: trusted.clone(),
        }))
    }

    /// The per-client-IP limit on the whole API.
    pub fn api_limit(&self) -> &ApiLimit {
        &self.0.api_limit
    }

    /// The proxies in front of the service, whose `X-Forwarded-For` entries are believed.
    pub fn trusted_proxies(&self) -> &TrustedProxies {
        &self.0.trusted_proxies
    }

    /// Forgets rate-limit entries that have recovered, so the limiter's memory stays bounded
    /// by the clients seen recently.
    pub fn forget_idle_clients(&self) {
        self.0.api_limit.limiter().retain_recent();
        self.0.api_limit.limiter().shrink_to_fit();
    }
}

// ANCHOR: deref
impl Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0.services
    }
}
// ANCHOR_END: deref
