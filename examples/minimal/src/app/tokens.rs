//! Access tokens (signed JWTs, short-lived) and refresh tokens (opaque, long-lived, stored
//! hashed and rotated on every use).
//!
//! Validation pins the algorithm (HS256: a token claiming `none` or another algorithm is
//! refused), requires `exp`, `iss`, `aud` and `sub`, and tolerates `JWT_LEEWAY_SECS` of skew.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{config::AuthConfig, error::AppError};

const ALGORITHM: Algorithm = Algorithm::HS256;

// ANCHOR: access_claims
/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    /// The user's id.
    pub sub: Uuid,
    pub iss: String,
    pub aud: String,
    /// Seconds since the epoch.
    pub iat: i64,
    pub exp: i64,
    /// This token's id: logout puts it on the deny list until `exp`.
    pub jti: Uuid,
    /// The user's session epoch at issue; "log out everywhere" bumps it, voiding the token.
    pub sep: i32,
}
// ANCHOR_END: access_claims

impl AccessClaims {
    pub fn expires_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.exp, 0).unwrap_or_default()
    }
}

/// A freshly issued access token.
#[derive(Debug, Clone)]
pub struct IssuedAccess {
    pub token: String,
    pub claims: AccessClaims,
}

#[derive(Clone)]
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    access_ttl: chrono::Duration,
    refresh_ttl: chrono::Duration,
    leeway: chrono::Duration,
    family_max_age: chrono::Duration,
}

impl Tokens {
    // ANCHOR: validation
    pub fn new(config: &AuthConfig) -> Self {
        let secret = config.jwt_secret.expose_secret().as_bytes();
        let mut validation = Validation::new(ALGORITHM);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.set_issuer(&[&config.jwt_issuer]);
        validation.set_audience(&[&config.jwt_audience]);
        validation.leeway = config.leeway.as_secs();
        validation.validate_exp = true;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
            access_ttl: chrono::Duration::from_std(config.access_ttl).unwrap_or_default(),
            refresh_ttl: chrono::Duration::from_std(config.refresh_ttl).unwrap_or_default(),
            leeway: chrono::Duration::from_std(config.leeway).unwrap_or_default(),
            family_max_age: chrono::Duration::from_std(config.refresh_family_max_age)
                .unwrap_or(chrono::Duration::MAX),
        }
    }
    // ANCHOR_END: validation

    pub fn access_ttl_secs(&self) -> i64 {
        self.access_ttl.num_seconds()
    }

    /// The clock skew validation tolerates past `exp`.
    pub fn leeway(&self) -> chrono::Duration {
        self.leeway
    }

    pub fn refresh_expiry(&self) -> DateTime<Utc> {
        Utc::now() + self.refresh_ttl
    }

    /// How long a refresh-token family lives from its login, however often it rotates.
    pub fn family_max_age(&self) -> chrono::Duration {
        self.family_max_age
    }

    pub fn issue_access(
        &self,
        user_id: Uuid,
        session_epoch: i32,
    ) -> Result<IssuedAccess, AppError> {
        let now = Utc::now();
        let claims = AccessClaims {
            sub: user_id,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now.timestamp(),
            exp: (now + self.access_ttl).timestamp(),
            jti: Uuid::now_v7(),
            sep: session_epoch,
        };
        let token = jsonwebtoken::encode(&Header::new(ALGORITHM), &claims, &self.encoding)
            .map_err(|err| AppError::Internal(anyhow::anyhow!("signing a token failed: {err}")))?;
        Ok(IssuedAccess { token, claims })
    }

    /// Checks signature, algorithm and claims; any failure is a 401 that says only that the
    /// token is invalid or expired.
    pub fn validate_access(&self, token: &str) -> Result<AccessClaims, AppError> {
        jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|err| {
                let expired = matches!(
                    err.kind(),
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature
                );
                tracing::debug!(error = %err, "access token refused");
                AppError::Unauthorized(if expired {
                    "the access token has expired".into()
                } else {
                    "the access token is not valid".into()
                })
            })
    }
}

// ANCHOR: refresh_secret
/// A new refresh token: the value goes to the client once; only its hash is stored.
pub struct RefreshSecret {
    pub value: String,
    pub hash: Vec<u8>,
}

impl RefreshSecret {
    /// 256 random bits from the operating system, base64url-encoded.
    pub fn generate() -> Result<Self, AppError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|err| AppError::Internal(anyhow::anyhow!("no randomness: {err}")))?;
        let value = URL_SAFE_NO_PAD.encode(bytes);
        let hash = hash_refresh(&value);
        Ok(Self { value, hash })
    }
}

/// Refresh tokens carry 256 random bits, so a fast hash is enough (no password-style
/// stretching): a leaked table cannot be turned back into usable tokens.
pub fn hash_refresh(value: &str) -> Vec<u8> {
    Sha256::digest(value.as_bytes()).to_vec()
}
// ANCHOR_END: refresh_secret
