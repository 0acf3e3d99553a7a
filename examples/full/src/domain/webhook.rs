//! The rules of webhooks, free of I/O: how a delivery is signed and verified (the Standard
//! Webhooks scheme), which endpoint URLs are acceptable, and which failures are retried.
//!
//! **Signing.** Each delivery carries three headers: `webhook-id` (the delivery's id, the same
//! on every retry, so receivers can drop duplicates), `webhook-timestamp` (Unix seconds) and
//! `webhook-signature`: `v1,` followed by the base64 HMAC-SHA256 of `id.timestamp.body` under
//! the endpoint's secret. During a secret rotation both the new and the previous secret sign,
//! space-separated, and a receiver accepts either.
//!
//! **Retry matrix** ([`next_step`]):
//!
//! | outcome | what happens |
//! | --- | --- |
//! | 2xx | delivered |
//! | timeout, connection refused/reset, TLS failure | retry with backoff |
//! | 5xx | retry with backoff |
//! | 429, 408 | retry after `Retry-After` when given (capped), else backoff |
//! | 3xx (redirects are never followed) | dead: the endpoint must be fixed |
//! | other 4xx | dead: a retry would get the same answer |
//! | out of attempts | dead |

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    time::Duration,
};

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Secrets are shown as `whsec_` + base64 of 32 random bytes, as Standard Webhooks does.
const SECRET_PREFIX: &str = "whsec_";

/// An endpoint's signing key.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    /// 32 bytes from the operating system's generator.
    pub fn generate() -> Self {
        let mut key = vec![0u8; 32];
        getrandom::fill(&mut key).expect("the operating system's random generator works");
        Self(key)
    }

    /// The form shown to the endpoint's owner (once) and stored.
    pub fn encode(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }

    pub fn decode(encoded: &str) -> Option<Self> {
        let key = STANDARD
            .decode(encoded.strip_prefix(SECRET_PREFIX).unwrap_or(encoded))
            .ok()?;
        (key.len() >= 16).then_some(Self(key))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any size");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// `v1,<base64 HMAC-SHA256 of id.timestamp.body>`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let tag = self.mac(id, timestamp, body).finalize().into_bytes();
        format!("v1,{}", STANDARD.encode(tag))
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret([REDACTED])")
    }
}

/// The `webhook-signature` header: one signature per secret that currently signs.
pub fn signature_header(
    secrets: &[&WebhookSecret],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|secret| secret.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The most signatures a `webhook-signature` header may carry: one per secret that signs
/// during a rotation, with room to spare. More is not a sender but someone making us work.
pub const MAX_SIGNATURES: usize = 8;

/// The longest `webhook-signature` header, in bytes: [`MAX_SIGNATURES`] `v1,` signatures of
/// 47 characters each fit with room for other versions' longer ones.
pub const MAX_SIGNATURE_HEADER: usize = 1024;

/// Why an incoming webhook was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the webhook-timestamp header is not a Unix time in seconds")]
    BadTimestamp,
    #[error(
        "the webhook-signature header holds more than {} signatures or {} bytes",
        MAX_SIGNATURES,
        MAX_SIGNATURE_HEADER
    )]
    TooManySignatures,
    #[error("the webhook-timestamp is outside the accepted window (replayed or clock skew)")]
    OutsideTolerance,
    #[error("no signature in webhook-signature matches")]
    BadSignature,
}

/// Checks an incoming delivery: the timestamp within `tolerance` of `now` (so a captured
/// request cannot be replayed later) and at least one `v1` signature that matches under
/// `secret`, compared in constant time. The body is read once, whatever the number of
/// candidates, and the header is bounded first ([`MAX_SIGNATURES`], [`MAX_SIGNATURE_HEADER`]):
/// otherwise one request with a large body and thousands of candidates would cost thousands
/// of HMACs over that body.
pub fn verify(
    secret: &WebhookSecret,
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    now: i64,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    let timestamp: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::BadTimestamp)?;
    if signatures.len() > MAX_SIGNATURE_HEADER
        || signatures.split_whitespace().count() > MAX_SIGNATURES
    {
        return Err(VerifyError::TooManySignatures);
    }
    let tolerance = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
    if now.abs_diff(timestamp) > tolerance.unsigned_abs() {
        return Err(VerifyError::OutsideTolerance);
    }
    // The body goes through the MAC once; each candidate costs a copy of its state and the
    // final block. `verify_slice` compares in constant time (and refuses other lengths).
    let mac = secret.mac(id, timestamp, body);
    let matches = signatures
        .split_whitespace()
        .filter_map(|candidate| candidate.strip_prefix("v1,"))
        .filter_map(|encoded| STANDARD.decode(encoded).ok())
        .any(|tag| mac.clone().verify_slice(&tag).is_ok());
    if matches {
        Ok(())
    } else {
        Err(VerifyError::BadSignature)
    }
}

/// The longest endpoint URL, in its encoded form.
pub const MAX_URL_LEN: usize = 2000;

/// Which endpoint URLs are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlPolicy {
    /// Plain `http://` (development only).
    pub allow_http: bool,
    /// Loopback, private, link-local and other non-public addresses (development only):
    /// otherwise a user could make the service call its own network (SSRF).
    pub allow_private: bool,
}

/// The URL if it is acceptable under `policy`, else what is wrong with it. A host name is
/// checked again after DNS resolution, at delivery time ([`is_public`]), since a name can
/// point anywhere.
pub fn check_url(raw: &str, policy: UrlPolicy) -> Result<url::Url, String> {
    let url = url::Url::parse(raw.trim()).map_err(|err| format!("not a URL: {err}"))?;
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_http => {}
        "http" => return Err("must use https".into()),
        other => return Err(format!("the scheme {other:?} is not http(s)")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials; the signature authenticates us".into());
    }
    if url.fragment().is_some() {
        return Err("must not have a #fragment".into());
    }
    // Parsing percent-encodes and punycodes, so the stored form can be longer than the input.
    if url.as_str().len() > MAX_URL_LEN {
        return Err(format!(
            "must be at most {MAX_URL_LEN} characters once encoded"
        ));
    }
    let blocked = match url.host() {
        None => return Err("has no host".into()),
        Some(url::Host::Ipv4(ip)) => !is_public(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => !is_public(IpAddr::V6(ip)),
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost") || name.ends_with(".internal")
        }
    };
    if blocked && !policy.allow_private {
        return Err("points at a loopback, private or otherwise internal address".into());
    }
    Ok(url)
}

/// Whether `ip` is a public unicast address: the only kind deliveries may reach.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // 100.64.0.0/10: carrier-grade NAT, internal to a provider.
        || (a == 100 && (64..128).contains(&b))
        // 198.18.0.0/15: benchmarking.
        || (a == 198 && (18..20).contains(&b))
        // 240.0.0.0/4: reserved.
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    let octets = ip.octets();
    let embedded =
        |at: usize| Ipv4Addr::new(octets[at], octets[at + 1], octets[at + 2], octets[at + 3]);
    // Addresses that carry an IPv4 address and may be routed to it: judge that address.
    match segments {
        // 64:ff9b::/96, NAT64: the last 32 bits.
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => return is_public_v4(embedded(12)),
        // 2002::/16, 6to4: bits 16 to 48.
        [0x2002, ..] => return is_public_v4(embedded(2)),
        // ::/96, IPv4-compatible (deprecated, and never a public destination).
        [0, 0, 0, 0, 0, 0, _, _] => return false,
        // 64:ff9b:1::/48, local-use NAT64.
        [0x64, 0xff9b, 1, ..] => return false,
        _ => {}
    }
    let first = segments[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // fc00::/7 unique local, fe80::/10 link-local, 2001:db8::/32 documentation.
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first == 0x2001 && ip.segments()[1] == 0x0db8))
}

/// What one delivery attempt ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The receiver answered.
    Status {
        code: u16,
        /// From `Retry-After` (seconds), when the answer had one.
        retry_after: Option<Duration>,
    },
    /// No answer in time.
    Timeout,
    /// No connection (refused, reset, DNS, TLS).
    Unreachable,
}

/// What to do after an attempt (the retry matrix in the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    Delivered,
    /// Try again: after `at_least` if the receiver asked for it, else after the backoff.
    Retry {
        at_least: Option<Duration>,
    },
    /// Give up now.
    Dead,
}

// ANCHOR: retry_matrix
/// The longest `Retry-After` honoured; a receiver cannot park a delivery for a week.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

pub fn next_step(outcome: &AttemptOutcome) -> NextStep {
    match outcome {
        AttemptOutcome::Status { code, .. } if (200..300).contains(code) => NextStep::Delivered,
        AttemptOutcome::Status {
            code: 408 | 429,
            retry_after,
        } => NextStep::Retry {
            at_least: retry_after.map(|wait| wait.min(MAX_RETRY_AFTER)),
        },
        AttemptOutcome::Status { code, .. } if *code >= 500 => NextStep::Retry { at_least: None },
        AttemptOutcome::Status { .. } => NextStep::Dead,
        AttemptOutcome::Timeout | AttemptOutcome::Unreachable => NextStep::Retry { at_least: None },
    }
}
// ANCHOR_END: retry_matrix

#[cfg(test)]
mod tests;
