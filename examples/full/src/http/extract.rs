//! Extractors every handler uses instead of axum's raw ones, so every rejection has the
//! documented status and the one problem body:
//!
//! - [`JsonBody`] / [`QueryParams`]: parse into types that hold their own rules; syntax
//!   errors are 400, wrong types, unknown or missing fields and broken rules are 422 naming
//!   the field in `errors`;
//! - [`Authorized`]: the caller from the bearer token (401 without a valid one), holding at
//!   least the role its type names (403 otherwise);
//! - [`RequestOrigin`]: client IP (honouring `TRUSTED_PROXY_CIDRS`) and request id.

use std::{
    marker::PhantomData,
    net::{IpAddr, SocketAddr},
};

use axum::{
    Json,
    extract::{
        ConnectInfo, FromRequest, FromRequestParts, Query, Request,
        rejection::{JsonRejection, QueryRejection},
    },
    http::{Extensions, HeaderMap, header, request::Parts},
    response::{IntoResponse, Response},
};
use serde::de::DeserializeOwned;

use super::request_id::RequestId;
use super::{AppState, problem::Problem};
use crate::{
    app::audit::Origin,
    config::TrustedProxies,
    context,
    domain::user::{Caller, Role},
    error::{AppError, FieldError},
};

// ANCHOR: parse_once
// ANCHOR: json_body
/// A JSON body parsed into `T`, whose fields are the domain's own types (`Title`, `Email`,
/// ...): a value that does not hold to its type's rules fails the parse, so a handler only
/// ever sees valid input. Syntax errors are 400; a wrong type, an unknown or missing field or
/// a broken rule is 422 naming the field.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            // Well-formed JSON of the wrong shape: say which field, as a 422.
            Err(JsonRejection::JsonDataError(err)) => {
                let error = field_error::<serde_json::Error>(&err, "body", |inner| {
                    // serde_json appends the position, which means nothing to a client that
                    // built its body as an object.
                    let message = inner.to_string();
                    let at = format!(" at line {} column {}", inner.line(), inner.column());
                    message.strip_suffix(&at).unwrap_or(&message).to_owned()
                })
                .unwrap_or_else(|| FieldError::new("body", err.body_text()));
                Err(AppError::Validation(vec![error]).into_response())
            }
            // Not JSON at all, a wrong content type, an oversized body: keep axum's status
            // (400, 415, 413) with the problem body.
            Err(rejection) => Err(Problem::new(rejection.status())
                .with_detail(rejection.body_text())
                .into_response()),
        }
    }
}
// ANCHOR_END: json_body

/// A query string parsed into `T`; what does not parse is a 422 naming the parameter.
pub struct QueryParams<T>(pub T);

impl<S, T> FromRequestParts<S> for QueryParams<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(value) = Query::<T>::from_request_parts(parts, state).await.map_err(
            |rejection: QueryRejection| {
                let error = field_error::<serde::de::value::Error>(
                    &rejection,
                    "query",
                    ToString::to_string,
                )
                .unwrap_or_else(|| FieldError::new("query", rejection.body_text()));
                AppError::Validation(vec![error]).into_response()
            },
        )?;
        Ok(Self(value))
    }
}

/// The failing field's path and message, from the `serde_path_to_error` error axum keeps in
/// `rejection`'s sources. serde reports an unknown field at its own path (`role`), but a
/// missing one at the path of the object that lacks it: at the top level `.`, which `whole`
/// then names (`body`, `query`).
fn field_error<E>(
    rejection: &(dyn std::error::Error + 'static),
    whole: &str,
    message: impl Fn(&E) -> String,
) -> Option<FieldError>
where
    E: std::error::Error + 'static,
{
    let mut cause = rejection.source();
    std::iter::from_fn(|| {
        let current = cause?;
        cause = current.source();
        Some(current)
    })
    .find_map(|e| e.downcast_ref::<serde_path_to_error::Error<E>>())
    .map(|err| {
        let path = err.path().to_string();
        let field = if path == "." { whole.to_owned() } else { path };
        FieldError::new(field, message(err.inner()))
    })
}
// ANCHOR_END: parse_once

// ANCHOR: authorized
/// The least role a route requires, named by a type so the requirement is part of the
/// handler's signature (and so of its review and its OpenAPI entry).
pub trait RoleRequirement {
    const MIN: Role;
}

/// Any signed-in user.
pub struct AnyUser;
/// Admins only.
pub struct Admin;

impl RoleRequirement for AnyUser {
    const MIN: Role = Role::User;
}
impl RoleRequirement for Admin {
    const MIN: Role = Role::Admin;
}

/// The authenticated caller, who holds at least `R::MIN`. Without a valid bearer token:
/// 401. With one but too small a role: 403.
pub struct Authorized<R: RoleRequirement = AnyUser> {
    pub caller: Caller,
    requirement: PhantomData<R>,
}

impl<R: RoleRequirement> FromRequestParts<AppState> for Authorized<R> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let token = bearer_token(&parts.headers).ok_or_else(|| {
            AppError::Unauthorized("send an access token: `Authorization: Bearer <token>`".into())
        })?;
        let caller = state.auth.authenticate(token).await?;
        if caller.role < R::MIN {
            return Err(AppError::Forbidden(format!(
                "this needs the {} role",
                R::MIN
            )));
        }
        Ok(Self {
            caller,
            requirement: PhantomData,
        })
    }
}
// ANCHOR_END: authorized

// ANCHOR: bearer_token
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}
// ANCHOR_END: bearer_token

/// Who sent the request: for rate limits and the audit log.
pub struct RequestOrigin(pub Origin);

impl FromRequestParts<AppState> for RequestOrigin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let client_ip = client_ip(&parts.extensions, &parts.headers, state.trusted_proxies())
            .ok_or_else(|| {
                AppError::Internal(anyhow::anyhow!(
                    "no peer address: serve with into_make_service_with_connect_info"
                ))
            })?;
        let request_id = parts
            .extensions
            .get::<RequestId>()
            .map(|id| id.0.clone())
            .or_else(context::request_id);
        Ok(Self(Origin {
            client_ip,
            request_id,
        }))
    }
}

// ANCHOR: forwarded_client
/// The client's address: the peer, unless the peer is one of our `trusted` proxies. Then
/// `X-Forwarded-For` is read from the right, each entry written by the hop before it, and the
/// first address that is not one of our proxies is the client: everything to its left was
/// written by the client (or its side of the internet) and can be forged.
pub fn client_ip(
    extensions: &Extensions,
    headers: &HeaderMap,
    trusted: &TrustedProxies,
) -> Option<IpAddr> {
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())?;
    Some(forwarded_client(peer, headers, trusted))
}

pub fn forwarded_client(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted.contains(peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|hop| !hop.is_empty())
        .collect();
    // The last address a trusted proxy vouched for: the peer, to begin with.
    let mut client = peer;
    for hop in hops.iter().rev() {
        // Proxies write `ip`, `ip:port` or `[v6]:port`; anything else ends the chain.
        let Some(ip) = hop
            .parse::<IpAddr>()
            .ok()
            .or_else(|| hop.parse::<SocketAddr>().ok().map(|addr| addr.ip()))
        else {
            break;
        };
        client = ip.to_canonical();
        if !trusted.contains(client) {
            break;
        }
    }
    client
}
// ANCHOR_END: forwarded_client

#[cfg(test)]
mod tests;
