//! Offset paging parameters shared by the admin lists: `limit` (1 to [`MAX_PAGE`], default
//! 20) and `offset` (default 0). Each is its own type, so a value out of range fails the parse
//! with a message naming the range, and the document states the same range. And the `Link`
//! header of a cursor-paged list ([`next_link`]).

use axum::http::HeaderValue;
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
/// The `Link` header to the next page (RFC 8288): this request's query, with `next` as
/// `cursor` in place of any `cursor` or `offset`, so the filters, the ordering and the limit
/// carry over. The target is a query-only reference (`<?...>`), which a client resolves
/// against the URI it asked for: it stays right behind a proxy that strips a path prefix.
/// The query is the request's own, which the URI parser has already held to URI characters.
pub fn next_link(query: Option<&str>, next: &str) -> Option<HeaderValue> {
    let kept = query
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter(|pair| {
            // Keys are compared as the query parser reads them: `%63ursor` is `cursor`.
            let key = decoded(pair.split('=').next().unwrap_or_default());
            key != b"cursor" && key != b"offset"
        });
    let cursor = format!("cursor={next}");
    let query = kept.chain([cursor.as_str()]).collect::<Vec<_>>().join("&");
    HeaderValue::try_from(format!("<?{query}>; rel=\"next\"")).ok()
}

/// A query key as form decoding reads it: `+` is a space, `%XX` a byte.
fn decoded(key: &str) -> Vec<u8> {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}
// ANCHOR_END: next_link

#[cfg(test)]
mod tests;
