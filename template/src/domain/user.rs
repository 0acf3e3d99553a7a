//! Accounts: who a user is, what role they hold, and the rules for the values they submit.

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use validator::ValidateEmail;

/// Passwords shorter than this are refused (NIST SP 800-63B asks for at least 8; we ask more).
pub const PASSWORD_MIN_CHARS: usize = 12;
/// Passwords longer than this are refused, so nobody can make the server hash a megabyte.
pub const PASSWORD_MAX_CHARS: usize = 128;
/// The longest address SMTP allows.
pub const EMAIL_MAX_CHARS: usize = 254;
pub const DISPLAY_NAME_MAX_CHARS: usize = 100;

// ANCHOR: email_rule
/// An email address as its owner typed it (trimmed), which must look like one. Accounts are
/// unique and looked up by its [`Email::key`], so case does not matter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl TryFrom<String> for Email {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, String> {
        if raw.chars().count() > EMAIL_MAX_CHARS {
            return Err(format!("must be at most {EMAIL_MAX_CHARS} characters"));
        }
        let email = raw.trim();
        if !email.validate_email() {
            return Err("must be an email address".into());
        }
        Ok(Self(email.to_owned()))
    }
}
// ANCHOR_END: email_rule

impl From<Email> for String {
    fn from(email: Email) -> Self {
        email.0
    }
}

impl Email {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key under which the address is unique and looked up (see [`email_key`]).
    pub fn key(&self) -> String {
        email_key(&self.0)
    }
}

// ANCHOR: display_name_rule
/// The name shown for an account: at most 100 characters as sent, one line, not only
/// whitespace; stored trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DisplayName(String);

impl TryFrom<String> for DisplayName {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, String> {
        if raw.chars().count() > DISPLAY_NAME_MAX_CHARS {
            return Err(format!(
                "must be at most {DISPLAY_NAME_MAX_CHARS} characters"
            ));
        }
        if has_control_chars(&raw) {
            return Err("must be one line without control characters".into());
        }
        let name = raw.trim();
        if name.is_empty() {
            return Err("must not be empty or only whitespace".into());
        }
        Ok(Self(name.to_owned()))
    }
}
// ANCHOR_END: display_name_rule

impl From<DisplayName> for String {
    fn from(name: DisplayName) -> Self {
        name.0
    }
}

impl DisplayName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password as typed at login: 1 to 128 characters (longer ones are refused before any
/// hashing). Never printed, never serialized.
#[derive(Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct Password(SecretString);

impl TryFrom<String> for Password {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, String> {
        let chars = raw.chars().count();
        if chars == 0 || chars > PASSWORD_MAX_CHARS {
            return Err(format!("must be 1 to {PASSWORD_MAX_CHARS} characters"));
        }
        Ok(Self(SecretString::from(raw)))
    }
}

/// A password an account is given: 12 to 128 characters.
#[derive(Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct NewPassword(SecretString);

impl TryFrom<String> for NewPassword {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, String> {
        let chars = raw.chars().count();
        if !(PASSWORD_MIN_CHARS..=PASSWORD_MAX_CHARS).contains(&chars) {
            return Err(format!(
                "must be {PASSWORD_MIN_CHARS} to {PASSWORD_MAX_CHARS} characters"
            ));
        }
        Ok(Self(SecretString::from(raw)))
    }
}

macro_rules! secret_debug {
    ($($ty:ty),+) => {
        $(
            impl std::fmt::Debug for $ty {
                fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("[REDACTED]")
                }
            }

            impl $ty {
                /// The secret itself, for hashing.
                pub fn secret(&self) -> SecretString {
                    self.0.clone()
                }

                pub fn expose(&self) -> &str {
                    self.0.expose_secret()
                }
            }
        )+
    };
}

secret_debug!(Password, NewPassword);

/// What a user may do. Ordered: an admin may do everything a user may.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantNames,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Role {
    User,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        self.into()
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
    /// The owner has shown they receive mail at `email` (`app::verification`).
    pub email_verified: bool,
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
mod tests;
