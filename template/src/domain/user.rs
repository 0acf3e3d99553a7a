//! Accounts: who a user is, what role they hold, and the rules for the values they submit.

use std::{fmt, str::FromStr};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// Passwords shorter than this are refused (NIST SP 800-63B asks for at least 8; we ask more).
pub const PASSWORD_MIN_CHARS: u64 = 12;
/// Passwords longer than this are refused, so nobody can make the server hash a megabyte.
pub const PASSWORD_MAX_CHARS: u64 = 128;
/// The longest address SMTP allows.
pub const EMAIL_MAX_CHARS: u64 = 254;
pub const DISPLAY_NAME_MAX_CHARS: u64 = 100;

/// What a user may do. Ordered: an admin may do everything a user may.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "user" => Ok(Self::User),
            "admin" => Ok(Self::Admin),
            other => Err(format!("unknown role {other:?}")),
        }
    }
}

/// An account as the rest of the service sees it: never with its password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The authenticated caller of a request, as established from a valid access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub id: Uuid,
    pub role: Role,
    /// The access token's id and expiry, so logout can revoke exactly this token.
    pub token_id: Uuid,
    pub token_expires_at: DateTime<Utc>,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// The key under which an email is unique and looked up: trimmed and lower-cased, matching
/// the `lower(email)` unique index.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// True when `text` holds a control character (newlines included), which no single-line
/// field accepts: they break logs and terminals and are never intended.
pub fn has_control_chars(text: &str) -> bool {
    text.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in [Role::User, Role::Admin] {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err());
        assert!(Role::Admin > Role::User);
    }

    #[test]
    fn email_keys_ignore_case_and_surrounding_space() {
        assert_eq!(email_key("  Ada@Example.COM "), "ada@example.com");
    }

    #[test]
    fn control_characters_are_found() {
        assert!(has_control_chars("line\nbreak"));
        assert!(has_control_chars("bell\u{7}"));
        assert!(!has_control_chars("Zoë O'Brien <b>"));
    }
}
