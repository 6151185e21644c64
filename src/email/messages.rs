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

/// Renders both parts and queues the message; returns its outbox id.
fn queue(
    conn: &mut PgConnection,
    kind: &str,
    to: &str,
    subject: &str,
    text: &impl Template,
    html: &impl Template,
) -> Result<i64, QueueError> {
    let text = text
        .render()
        .map_err(|e| QueueError::Render(format!("{kind} text: {e}")))?;
    let html = html
        .render()
        .map_err(|e| QueueError::Render(format!("{kind} html: {e}")))?;
    Ok(outbox::enqueue(
        conn,
        NewMessage {
            kind,
            recipient: to,
            subject,
            text_body: &text,
            html_body: &html,
        },
    )?)
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
        &VerifyText { name, link },
        &VerifyHtml { name, link },
    )
    .map(|_| ())
}

#[derive(Template)]
#[template(path = "email/signup_attempted.txt")]
struct SignupAttemptedText<'a> {
    name: &'a str,
    signin: &'a str,
    reset: &'a str,
}

#[derive(Template)]
#[template(path = "email/signup_attempted.html")]
struct SignupAttemptedHtml<'a> {
    name: &'a str,
    signin: &'a str,
    reset: &'a str,
}

/// Someone tried to sign up with an address that already has an account: its holder is told,
/// and the sign-up page says the same as for a new address.
pub fn signup_attempted(
    conn: &mut PgConnection,
    to: &str,
    name: &str,
    signin: &str,
    reset: &str,
) -> Result<(), QueueError> {
    queue(
        conn,
        "signup_attempted",
        to,
        "Someone tried to sign up with your address",
        &SignupAttemptedText {
            name,
            signin,
            reset,
        },
        &SignupAttemptedHtml {
            name,
            signin,
            reset,
        },
    )
    .map(|_| ())
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
        &ResetText { name, link },
        &ResetHtml { name, link },
    )
    .map(|_| ())
}

#[derive(Template)]
#[template(path = "email/key_expiring.txt")]
struct KeyExpiringText<'a> {
    name: &'a str,
    key_name: &'a str,
    prefix: &'a str,
    expires: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/key_expiring.html")]
struct KeyExpiringHtml<'a> {
    name: &'a str,
    key_name: &'a str,
    prefix: &'a str,
    expires: &'a str,
    link: &'a str,
}

/// A personal API key expires within a week.
pub fn key_expiring(
    conn: &mut PgConnection,
    to: &str,
    name: &str,
    (key_name, prefix, expires): (&str, &str, &str),
    link: &str,
) -> Result<(), QueueError> {
    queue(
        conn,
        "key_expiring",
        to,
        "A Gatehouse API key expires in a week",
        &KeyExpiringText {
            name,
            key_name,
            prefix,
            expires,
            link,
        },
        &KeyExpiringHtml {
            name,
            key_name,
            prefix,
            expires,
            link,
        },
    )
    .map(|_| ())
}

/// The text of an email about an address: whom to greet, the address, a link.
macro_rules! address_email {
    ($text:ident, $html:ident, $txt_path:literal, $html_path:literal) => {
        #[derive(Template)]
        #[template(path = $txt_path)]
        struct $text<'a> {
            name: &'a str,
            address: &'a str,
            link: &'a str,
        }

        #[derive(Template)]
        #[template(path = $html_path)]
        struct $html<'a> {
            name: &'a str,
            address: &'a str,
            link: &'a str,
        }
    };
}

address_email!(
    ConfirmChangeText,
    ConfirmChangeHtml,
    "email/confirm_email_change.txt",
    "email/confirm_email_change.html"
);
address_email!(
    ChangedText,
    ChangedHtml,
    "email/email_changed.txt",
    "email/email_changed.html"
);

/// The link that confirms a new address, sent to it.
pub fn confirm_email_change(
    conn: &mut PgConnection,
    to: &str,
    name: &str,
    link: &str,
) -> Result<(), QueueError> {
    let text = ConfirmChangeText {
        name,
        address: to,
        link,
    };
    let html = ConfirmChangeHtml {
        name,
        address: to,
        link,
    };
    queue(
        conn,
        "confirm_email_change",
        to,
        "Confirm your new email address for Gatehouse",
        &text,
        &html,
    )
    .map(|_| ())
}

/// Tells the old address that the account moved to `address`.
pub fn email_changed(
    conn: &mut PgConnection,
    to: &str,
    name: &str,
    address: &str,
    link: &str,
) -> Result<(), QueueError> {
    let text = ChangedText {
        name,
        address,
        link,
    };
    let html = ChangedHtml {
        name,
        address,
        link,
    };
    queue(
        conn,
        "email_changed",
        to,
        "Your Gatehouse email address was changed",
        &text,
        &html,
    )
    .map(|_| ())
}

/// What an invitation email says.
pub struct Invitation<'a> {
    pub inviter: &'a str,
    pub organization: &'a str,
    pub role: &'a str,
    /// "staging: viewer, production: support", or empty.
    pub environments: &'a str,
    /// Absolute, with the time zone.
    pub expires: &'a str,
    pub link: &'a str,
}

#[derive(Template)]
#[template(path = "email/invitation.txt")]
struct InvitationText<'a> {
    i: &'a Invitation<'a>,
}

#[derive(Template)]
#[template(path = "email/invitation.html")]
struct InvitationHtml<'a> {
    i: &'a Invitation<'a>,
}

pub fn invitation(
    conn: &mut PgConnection,
    to: &str,
    i: &Invitation<'_>,
) -> Result<i64, QueueError> {
    let subject = format!(
        "{} invited you to {} on Gatehouse",
        i.inviter, i.organization
    );
    queue(
        conn,
        "invitation",
        to,
        &subject,
        &InvitationText { i },
        &InvitationHtml { i },
    )
}

#[derive(Template)]
#[template(path = "email/member_removed.txt")]
struct RemovedText<'a> {
    name: &'a str,
    organization: &'a str,
}

#[derive(Template)]
#[template(path = "email/member_removed.html")]
struct RemovedHtml<'a> {
    name: &'a str,
    organization: &'a str,
}

pub fn member_removed(
    conn: &mut PgConnection,
    to: &str,
    name: &str,
    organization: &str,
) -> Result<i64, QueueError> {
    let subject = format!("You were removed from {organization} on Gatehouse");
    queue(
        conn,
        "member_removed",
        to,
        &subject,
        &RemovedText { name, organization },
        &RemovedHtml { name, organization },
    )
}

#[derive(Template)]
#[template(path = "email/organization_deleted.txt")]
struct DeletedText<'a> {
    name: &'a str,
    organization: &'a str,
}

#[derive(Template)]
#[template(path = "email/organization_deleted.html")]
struct DeletedHtml<'a> {
    name: &'a str,
    organization: &'a str,
}

pub fn organization_deleted(
    conn: &mut PgConnection,
    to: &str,
    name: &str,
    organization: &str,
) -> Result<i64, QueueError> {
    let subject = format!("{organization} was deleted on Gatehouse");
    queue(
        conn,
        "organization_deleted",
        to,
        &subject,
        &DeletedText { name, organization },
        &DeletedHtml { name, organization },
    )
}
