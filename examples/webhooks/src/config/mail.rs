//! Email: how messages leave the service, and who sends them.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::reader::Reader;

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::VariantNames)]
#[strum(serialize_all = "snake_case", ascii_case_insensitive)]
pub enum MailTransport {
    /// Write emails to the log instead of sending them.
    Log,
    Smtp,
}

#[derive(Debug, Clone)]
pub struct MailConfig {
    /// `log` (development) or `smtp` (`MAIL_TRANSPORT`).
    pub transport: MailTransport,
    /// `smtp://` (plain or `?tls=required` for STARTTLS) or `smtps://`, with credentials;
    /// required for `smtp` (`SMTP_URL`).
    pub smtp_url: Option<SecretString>,
    /// Upper bound for one SMTP conversation (`SMTP_TIMEOUT_MS`).
    pub smtp_timeout: Duration,
    /// The sender, e.g. `Tasks <no-reply@example.com>` (`MAIL_FROM`).
    pub from: String,
}

impl MailConfig {
    pub(super) fn read(env: &mut Reader) -> Self {
        let config = Self {
            transport: env.choice("MAIL_TRANSPORT", MailTransport::Log),
            smtp_url: env.get("SMTP_URL").map(SecretString::from),
            smtp_timeout: env.millis("SMTP_TIMEOUT_MS", 10_000),
            from: env.string(
                "MAIL_FROM",
                concat!(env!("CARGO_PKG_NAME"), " <no-reply@localhost>"),
            ),
        };
        if config.transport == MailTransport::Smtp {
            match config.smtp_url.as_ref().map(|url| url.expose_secret()) {
                None => env.problem(
                    "MAIL_TRANSPORT=smtp needs SMTP_URL (e.g. smtps://user:password@smtp.example.com)",
                ),
                Some(url) if !url.starts_with("smtp://") && !url.starts_with("smtps://") => env
                    .problem(
                        "SMTP_URL must start with smtp:// or smtps:// (value hidden: it may hold a password)",
                    ),
                Some(_) => {}
            }
        }
        if config.from.parse::<lettre::message::Mailbox>().is_err() {
            env.problem(format!(
                "MAIL_FROM={:?} is not a valid sender such as `Tasks <no-reply@example.com>`",
                config.from
            ));
        }
        config
    }
}
