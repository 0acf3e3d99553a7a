//! How the service's own types appear in the OpenAPI document.
//!
//! `domain` and `app` know nothing of the document (see decisions: "The wire belongs to
//! `http`"): their enums carry their names through strum, and their validated strings carry
//! their limits as constants. Here both become schemas, so the document states exactly the
//! names and limits the server enforces, from the same source.

use strum::VariantNames;
use utoipa::openapi::{
    KnownFormat, ObjectBuilder, RefOr, SchemaFormat, Type,
    schema::{Schema, SchemaType},
};

use crate::{
    app::{
        jobs::JobStatus,
        tasks::{Direction, SortKey, TaskEventKind},
    },
    domain::{
        task::{DESCRIPTION_MAX_CHARS, Description, Due, TITLE_MAX_CHARS, TaskStatus, Title},
        user::{
            DISPLAY_NAME_MAX_CHARS, DisplayName, EMAIL_MAX_CHARS, Email, NewPassword,
            PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS, Password, Role,
        },
    },
};

/// A string schema with a description.
pub fn string(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .description(Some(description))
}

// The rules of the domain's text types as regular expressions (ECMA-262, as JSON Schema reads
// them), so a client can check a value before sending it.
/// Control characters: `char::is_control`, Unicode's Cc.
const CONTROLS: &str = r"\u0000-\u001f\u007f-\u009f";
/// The control characters a description refuses: all but tab, line feed and carriage return.
const TEXT_CONTROLS: &str = r"\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f";
/// What `str::trim` removes that is not a control character: Unicode's White_Space.
const SPACES: &str = r"\u0020\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

/// One line (no control character) that is not only whitespace: `Title` and `DisplayName`.
fn one_line() -> String {
    format!("^[{SPACES}]*[^{CONTROLS}{SPACES}][^{CONTROLS}]*$")
}

/// A string enum's schema from the names its type parses (strum's `VariantNames`), which are
/// the names serde writes (a test below holds them together).
pub fn names<T: VariantNames>(description: &str) -> RefOr<Schema> {
    string(description)
        .enum_values(Some(T::VARIANTS.iter().copied()))
        .into()
}

/// `ToSchema` for a type of ours, from a function that builds its schema.
macro_rules! schema {
    ($($ty:ty => $schema:expr;)+) => {
        $(
            impl utoipa::PartialSchema for $ty {
                fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                    $schema
                }
            }

            impl utoipa::ToSchema for $ty {}
        )+
    };
}
pub(crate) use schema;

schema! {
    TaskStatus => names::<TaskStatus>("Where a task stands: `todo`, `in_progress` or `done`");
    Role => names::<Role>("What an account may do; admins may do everything users may");
    JobStatus => names::<JobStatus>("Where a background job stands");
    TaskEventKind => names::<TaskEventKind>("What happened to a task");
    SortKey => names::<SortKey>("The field a list is sorted by; ties are broken by id");
    Direction => names::<Direction>("The sort direction");
    Title => string(&format!(
        "Up to {TITLE_MAX_CHARS} characters, one line, not only whitespace; stored trimmed"
    ))
        .min_length(Some(1))
        .max_length(Some(TITLE_MAX_CHARS))
        .pattern(Some(one_line()))
        .into();
    Description => string(&format!("Up to {DESCRIPTION_MAX_CHARS} characters; newlines and tabs allowed"))
        .max_length(Some(DESCRIPTION_MAX_CHARS))
        .pattern(Some(format!("^[^{TEXT_CONTROLS}]*$")))
        .into();
    Due => string("A date and time between the years 1 and 9999 (RFC 3339)")
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
        .into();
    Email => string(&format!(
        "An email address of at most {EMAIL_MAX_CHARS} characters; accounts are unique by it, whatever its case"
    ))
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
        .max_length(Some(EMAIL_MAX_CHARS))
        .examples(["ada@example.com"])
        .into();
    DisplayName => string(&format!(
        "Shown to other people: up to {DISPLAY_NAME_MAX_CHARS} characters, one line, not only whitespace; stored trimmed"
    ))
        .min_length(Some(1))
        .max_length(Some(DISPLAY_NAME_MAX_CHARS))
        .pattern(Some(one_line()))
        .examples(["Ada Lovelace"])
        .into();
    Password => string(&format!("The account's password: 1 to {PASSWORD_MAX_CHARS} characters"))
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Password)))
        .min_length(Some(1))
        .max_length(Some(PASSWORD_MAX_CHARS))
        .into();
    NewPassword => string(&format!("{PASSWORD_MIN_CHARS} to {PASSWORD_MAX_CHARS} characters"))
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Password)))
        .min_length(Some(PASSWORD_MIN_CHARS))
        .max_length(Some(PASSWORD_MAX_CHARS))
        .examples(["correct horse battery staple"])
        .into();
}

/// Every name the document lists for `T` is one serde reads and writes back unchanged.
#[cfg(test)]
pub fn same_names<T: VariantNames + serde::Serialize + serde::de::DeserializeOwned>() {
    for name in T::VARIANTS {
        let value: T = serde_json::from_value(serde_json::json!(name))
            .unwrap_or_else(|err| panic!("{name} is not a serde name: {err}"));
        assert_eq!(serde_json::to_value(value).unwrap(), *name);
    }
}

#[cfg(test)]
mod tests;
