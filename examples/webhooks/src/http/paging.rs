//! Offset paging parameters shared by the admin lists: `limit` (1 to [`MAX_PAGE`], default
//! 20) and `offset` (default 0). Each is its own type, so a value out of range fails the parse
//! with a message naming the range, and the document states the same range. And the `Link`
//! header of a cursor-paged list ([`next_link`]).

use axum::http::{HeaderValue, Uri};
use serde::Deserialize;
use utoipa::{
    IntoParams,
    openapi::{KnownFormat, ObjectBuilder, SchemaFormat, Type, schema::SchemaType},
};

use crate::app::MAX_PAGE;

// ANCHOR: limit
/// How many items a page holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "i64")]
pub struct Limit(pub i64);

impl Default for Limit {
    fn default() -> Self {
        Self(20)
    }
}

impl TryFrom<i64> for Limit {
    type Error = String;

    fn try_from(limit: i64) -> Result<Self, String> {
        if (1..=MAX_PAGE).contains(&limit) {
            Ok(Self(limit))
        } else {
            Err(format!("must be 1 to {MAX_PAGE}"))
        }
    }
}
// ANCHOR_END: limit

/// How many items to skip.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "i64")]
pub struct Offset(pub i64);

impl TryFrom<i64> for Offset {
    type Error = String;

    fn try_from(offset: i64) -> Result<Self, String> {
        if offset >= 0 {
            Ok(Self(offset))
        } else {
            Err("must not be negative".into())
        }
    }
}

fn integer(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::Integer))
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .description(Some(description))
}

super::schemas::schema! {
    Limit => integer(&format!("1 to {MAX_PAGE}; default 20"))
        .minimum(Some(1))
        .maximum(Some(MAX_PAGE))
        .default(Some(serde_json::json!(20)))
        .into();
    Offset => integer("Items to skip; default 0")
        .minimum(Some(0))
        .default(Some(serde_json::json!(0)))
        .into();
}

#[derive(Debug, Clone, Copy, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    #[serde(default)]
    #[param(inline)]
    pub limit: Limit,
    #[serde(default)]
    #[param(inline)]
    pub offset: Offset,
}

// ANCHOR: next_link
/// The `Link` header to the next page (RFC 8288): this request's path and query, with `next`
/// as `cursor` in place of any `cursor` or `offset`, so the filters, the ordering and the
/// limit carry over. The URI is relative to the request's, as the RFC allows; it is built from
/// the request's own query, which the URI parser has already held to URI characters.
pub fn next_link(uri: &Uri, next: &str) -> Option<HeaderValue> {
    let kept = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter(|pair| {
            let key = pair.split('=').next().unwrap_or_default();
            key != "cursor" && key != "offset"
        });
    let cursor = format!("cursor={next}");
    let query = kept.chain([cursor.as_str()]).collect::<Vec<_>>().join("&");
    HeaderValue::try_from(format!("<{}?{query}>; rel=\"next\"", uri.path())).ok()
}
// ANCHOR_END: next_link
