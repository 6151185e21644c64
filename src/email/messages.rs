//! The emails Gatehouse sends, each a text + HTML template pair, queued through the outbox.

use askama::Template;
use diesel::PgConnection;

use crate::db::outbox::{self, NewMessage};
use crate::error::AppError;

#[derive(Template)]
#[template(path = "email/verify_email.txt")]
struct VerifyText<'a> {
    name: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/verify_email.html")]
struct VerifyHtml<'a> {
    name: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/reset_password.txt")]
struct ResetText<'a> {
    name: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/reset_password.html")]
struct ResetHtml<'a> {
    name: &'a str,
    link: &'a str,
}

fn render(t: &impl Template) -> Result<String, AppError> {
    t.render()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("email template: {e}")))
}

/// Any error inside a transaction that also queues an email.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
    #[error("{0}")]
    Render(String),
}

impl From<QueueError> for AppError {
    fn from(e: QueueError) -> Self {
        match e {
            QueueError::Db(e) => e.into(),
            QueueError::Render(e) => AppError::Internal(anyhow::anyhow!(e)),
        }
    }
}

fn queue(
    conn: &mut PgConnection,
    kind: &str,
    to: &str,
    subject: &str,
    text: Result<String, AppError>,
    html: Result<String, AppError>,
) -> Result<(), QueueError> {
    let text = text.map_err(|e| QueueError::Render(e.to_string()))?;
    let html = html.map_err(|e| QueueError::Render(e.to_string()))?;
    outbox::enqueue(
        conn,
        NewMessage {
            kind,
            recipient: to,
            subject,
            text_body: &text,
            html_body: &html,
        },
    )?;
    Ok(())
}

pub fn verify_email(
    conn: &mut PgConnection,
    to: &str,
    name: &str,
    link: &str,
) -> Result<(), QueueError> {
    queue(
        conn,
        "verify_email",
        to,
        "Verify your email for Gatehouse",
        render(&VerifyText { name, link }),
        render(&VerifyHtml { name, link }),
    )
}

pub fn reset_password(
    conn: &mut PgConnection,
    to: &str,
    name: &str,
    link: &str,
) -> Result<(), QueueError> {
    queue(
        conn,
        "reset_password",
        to,
        "Reset your Gatehouse password",
        render(&ResetText { name, link }),
        render(&ResetHtml { name, link }),
    )
}
