//! Email: messages rendered from text + HTML template pairs, queued in the outbox inside the
//! transaction that causes them, and sent by a background worker over SMTP (or kept for the
//! local mailbox page when no SMTP server is configured in local mode).

pub mod messages;
pub mod worker;

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message as LettreMessage, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::config::Settings;
use crate::db::outbox::Message;

/// Where outgoing mail goes.
pub enum Mailer {
    Smtp {
        transport: Box<AsyncSmtpTransport<Tokio1Executor>>,
        from: Mailbox,
    },
    /// Local mode without SMTP_URL: messages stay in the outbox and show at /dev/mailbox.
    LocalMailbox,
}

impl Mailer {
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        match &settings.smtp_url {
            Some(url) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
                    .map_err(|e| anyhow::anyhow!("SMTP_URL is not usable: {e}"))?
                    .timeout(Some(std::time::Duration::from_secs(20)))
                    .build();
                let from = settings
                    .mail_from
                    .parse()
                    .map_err(|e| anyhow::anyhow!("MAIL_FROM is not an address: {e}"))?;
                Ok(Mailer::Smtp {
                    transport: Box::new(transport),
                    from,
                })
            }
            None if settings.is_local() => Ok(Mailer::LocalMailbox),
            None => anyhow::bail!("production mode needs SMTP_URL"),
        }
    }

    pub fn is_local_mailbox(&self) -> bool {
        matches!(self, Mailer::LocalMailbox)
    }

    /// Delivers one message; the error text is recorded on the outbox row.
    pub async fn send(&self, message: &Message) -> Result<(), String> {
        match self {
            Mailer::LocalMailbox => Ok(()),
            Mailer::Smtp { transport, from } => {
                let to: Mailbox = message
                    .recipient
                    .parse()
                    .map_err(|e| format!("bad recipient: {e}"))?;
                let email = LettreMessage::builder()
                    .from(from.clone())
                    .to(to)
                    .subject(&message.subject)
                    .multipart(MultiPart::alternative_plain_html(
                        message.text_body.clone(),
                        message.html_body.clone(),
                    ))
                    .map_err(|e| format!("could not build message: {e}"))?;
                transport
                    .send(email)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        }
    }
}
