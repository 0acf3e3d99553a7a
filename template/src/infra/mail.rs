//! [`Mailer`] implementations: [`LogMailer`] writes each email to the log (the default, so
//! development needs no mail server), [`SmtpMailer`] sends it with lettre. `MAIL_TRANSPORT`
//! chooses; SMTP needs only `SMTP_URL` and `MAIL_FROM`.

use std::sync::Arc;

use async_trait::async_trait;
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, header::ContentType},
};
use secrecy::ExposeSecret;

use crate::{
    app::mail::{Email, MailError, Mailer},
    config::{MailConfig, MailTransport},
};

/// The mailer `MAIL_TRANSPORT` selects.
pub fn from_config(config: &MailConfig) -> anyhow::Result<Arc<dyn Mailer>> {
    Ok(match config.transport {
        MailTransport::Log => Arc::new(LogMailer),
        MailTransport::Smtp => Arc::new(SmtpMailer::new(config)?),
    })
}

/// Logs the email instead of sending it: what "sent" means in development.
pub struct LogMailer;

#[async_trait]
impl Mailer for LogMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        tracing::info!(
            mail.to = %email.to,
            mail.subject = %email.subject,
            mail.key = %email.key,
            mail.body = %email.body,
            "email not sent (MAIL_TRANSPORT=log)"
        );
        Ok(())
    }
}

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    /// Checks the URL and the sender address; connecting happens on the first send.
    pub fn new(config: &MailConfig) -> anyhow::Result<Self> {
        let url = config
            .smtp_url
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("MAIL_TRANSPORT=smtp needs SMTP_URL"))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
            // lettre's message would echo the URL, which may hold a password.
            .map_err(|_| anyhow::anyhow!("SMTP_URL is not a valid smtp:// or smtps:// URL"))?
            .timeout(Some(config.smtp_timeout))
            .build();
        let from = config
            .from
            .parse()
            .map_err(|err| anyhow::anyhow!("MAIL_FROM {:?} is not valid: {err}", config.from))?;
        Ok(Self { transport, from })
    }

    fn message(&self, email: &Email) -> Result<Message, MailError> {
        let to: Mailbox = email
            .to
            .parse()
            .map_err(|err| MailError::Rejected(format!("recipient {:?}: {err}", email.to)))?;
        let domain = self.from.email.domain();
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&email.subject)
            // Derived from the job's key, so a retried send is recognisably the same message.
            .message_id(Some(format!("<{}@{domain}>", email.key)))
            .header(ContentType::TEXT_PLAIN)
            .body(email.body.clone())
            .map_err(|err| MailError::Rejected(err.to_string()))
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        let message = self.message(email)?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(err) if err.is_permanent() => Err(MailError::Rejected(err.to_string())),
            // 4xx replies, timeouts, refused connections, TLS trouble: all may pass.
            Err(err) => Err(MailError::Transient(err.to_string())),
        }
    }
}
