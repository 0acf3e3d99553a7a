//! [`WebhookSender`] with reqwest: one client for every delivery (connection pooling), rustls
//! with the ring provider (no C toolchain), bounded by a connect timeout and a total timeout,
//! redirects never followed, at most `WEBHOOK_MAX_RESPONSE_BYTES` of any answer read, and —
//! unless `WEBHOOK_ALLOW_INSECURE_URLS` — host names resolved to public addresses only, so an
//! endpoint's DNS cannot point deliveries into our own network (SSRF, DNS rebinding).

use std::{net::SocketAddr, sync::Arc, time::Duration};

use async_trait::async_trait;
use reqwest::{
    dns::{Addrs, Name, Resolve, Resolving},
    redirect,
};

use crate::{
    app::webhooks::WebhookSender,
    config::WebhookConfig,
    domain::webhook::{AttemptOutcome, is_public},
};

#[derive(Clone)]
pub struct HttpWebhookSender {
    client: reqwest::Client,
    max_response_bytes: usize,
}

impl HttpWebhookSender {
    /// reqwest is built without a TLS crypto provider of its own: the client uses the one
    /// `main` installs for the whole process (ring, as SQLx and lettre use).
    pub fn new(config: &WebhookConfig) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder()
            .redirect(redirect::Policy::none())
            // A proxy from the environment would resolve names for us, past the check below.
            .no_proxy()
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .user_agent(concat!(
                env!("CARGO_PKG_NAME"),
                "-webhooks/",
                env!("CARGO_PKG_VERSION")
            ));
        if !config.allow_insecure_urls {
            builder = builder.dns_resolver(Arc::new(PublicAddressesOnly));
        }
        Ok(Self {
            client: builder.build()?,
            max_response_bytes: config.max_response_bytes,
        })
    }
}

#[async_trait]
impl WebhookSender for HttpWebhookSender {
    async fn post(
        &self,
        url: &url::Url,
        headers: &[(&'static str, String)],
        body: String,
    ) -> AttemptOutcome {
        let mut request = self
            .client
            .post(url.as_str())
            .header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let mut response = match request.body(body).send().await {
            Ok(response) => response,
            Err(err) if err.is_timeout() => return AttemptOutcome::Timeout,
            Err(_) => return AttemptOutcome::Unreachable,
        };
        let code = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        // Read (and drop) a bounded amount of the answer, so the connection can be reused
        // without letting a receiver stream gigabytes at us.
        let mut read = 0;
        while read < self.max_response_bytes {
            match response.chunk().await {
                Ok(Some(chunk)) => read += chunk.len(),
                Ok(None) | Err(_) => break,
            }
        }
        AttemptOutcome::Status { code, retry_after }
    }
}

/// Resolves names like the system does, then keeps only public addresses.
struct PublicAddressesOnly;

impl Resolve for PublicAddressesOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let public: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|addr| is_public(addr.ip()))
                .collect();
            if public.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}
