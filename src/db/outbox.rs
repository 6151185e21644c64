//! The durable email outbox: messages are written in the same transaction as the change that
//! causes them, and the background worker claims, sends and records them.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;

use super::schema::email_outbox;

/// Attempts before a message is given up as failed.
pub const MAX_ATTEMPTS: i32 = 8;

pub struct NewMessage<'a> {
    pub kind: &'a str,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub text_body: &'a str,
    pub html_body: &'a str,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = email_outbox)]
pub struct Message {
    pub id: i64,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// The channel on which a queued email is announced to every instance.
pub const CHANNEL: &str = "gatehouse_outbox";

pub fn enqueue(conn: &mut PgConnection, message: NewMessage<'_>) -> QueryResult<i64> {
    // Every instance's worker listens (`email::worker::listen`): the one that claims it sends it
    // at once. Within a transaction the notification goes out when it commits.
    diesel::sql_query(format!("NOTIFY {CHANNEL}")).execute(conn)?;
    diesel::insert_into(email_outbox::table)
        .values((
            email_outbox::kind.eq(message.kind),
            email_outbox::recipient.eq(message.recipient),
            email_outbox::subject.eq(message.subject),
            email_outbox::text_body.eq(message.text_body),
            email_outbox::html_body.eq(message.html_body),
        ))
        .returning(email_outbox::id)
        .get_result(conn)
}

/// How many emails wait to be sent, and how long the oldest has waited (seconds; 0 when none).
pub fn backlog(conn: &mut PgConnection) -> QueryResult<(i64, f64)> {
    diesel::select((
        diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "(SELECT count(*) FROM email_outbox WHERE status IN ('queued', 'sending'))",
        ),
        diesel::dsl::sql::<diesel::sql_types::Double>(
            "(SELECT coalesce(extract(epoch FROM now() - min(created_at))::float8, 0)
              FROM email_outbox WHERE status IN ('queued', 'sending'))",
        ),
    ))
    .get_result(conn)
}

/// Claims due messages for sending. `FOR UPDATE SKIP LOCKED` plus a lease (`locked_until`) make
/// this safe with several instances: each message is claimed by one worker, and a worker that
/// died mid-send only delays the message until the lease ends.
pub fn claim_due(
    conn: &mut PgConnection,
    limit: i64,
    lease: Duration,
) -> QueryResult<Vec<Message>> {
    conn.transaction(|conn| {
        let now = Utc::now();
        let ids: Vec<i64> = email_outbox::table
            .filter(email_outbox::next_attempt_at.le(now))
            .filter(
                email_outbox::status.eq("queued").or(email_outbox::status
                    .eq("sending")
                    .and(email_outbox::locked_until.lt(now))),
            )
            .order(email_outbox::next_attempt_at.asc())
            .limit(limit)
            .select(email_outbox::id)
            .for_update()
            .skip_locked()
            .load(conn)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        diesel::update(email_outbox::table.filter(email_outbox::id.eq_any(&ids)))
            .set((
                email_outbox::status.eq("sending"),
                email_outbox::locked_until.eq(now + lease),
            ))
            .returning(Message::as_returning())
            .get_results(conn)
    })
}

/// Marks a message sent. Sent over SMTP (`redact`), its stored bodies lose every token: the
/// links in them open invitations and reset passwords, and the row is only a delivery record now.
pub fn mark_sent(conn: &mut PgConnection, message: &Message, redact: bool) -> QueryResult<()> {
    let (text, html) = if redact {
        (
            redact_tokens(&message.text_body),
            redact_tokens(&message.html_body),
        )
    } else {
        (message.text_body.clone(), message.html_body.clone())
    };
    diesel::update(email_outbox::table.find(message.id))
        .set((
            email_outbox::text_body.eq(text),
            email_outbox::html_body.eq(html),
            email_outbox::status.eq("sent"),
            email_outbox::attempts.eq(email_outbox::attempts + 1),
            email_outbox::sent_at.eq(Utc::now()),
            email_outbox::locked_until.eq(None::<DateTime<Utc>>),
            email_outbox::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(())
}

/// Replaces every token in a body (a run of 32 or more URL-safe base64 characters, as
/// `db::tokens::new_token` makes them) with `[redacted]`.
pub fn redact_tokens(body: &str) -> String {
    let token_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut out = String::with_capacity(body.len());
    let mut run = String::new();
    for c in body.chars().chain(std::iter::once('\n')) {
        if token_char(c) {
            run.push(c);
            continue;
        }
        if run.len() >= 32 {
            out.push_str("[redacted]");
        } else {
            out.push_str(&run);
        }
        run.clear();
        out.push(c);
    }
    out.pop();
    out
}

/// Deletes sent messages older than `keep`; returns how many.
pub fn purge_sent(conn: &mut PgConnection, keep: Duration) -> QueryResult<usize> {
    diesel::delete(
        email_outbox::table
            .filter(email_outbox::status.eq("sent"))
            .filter(email_outbox::sent_at.lt(Utc::now() - keep)),
    )
    .execute(conn)
}

/// Records a failed attempt: retried with exponential backoff (2, 4, 8 … seconds, at most an
/// hour) until `MAX_ATTEMPTS`, then marked failed for good. Returns true when it gave up.
pub fn mark_failed(conn: &mut PgConnection, message: &Message, error: &str) -> QueryResult<bool> {
    let attempts = message.attempts + 1;
    let give_up = attempts >= MAX_ATTEMPTS;
    let delay = Duration::seconds((1i64 << attempts.min(12)).min(3600));
    diesel::update(email_outbox::table.find(message.id))
        .set((
            email_outbox::status.eq(if give_up { "failed" } else { "queued" }),
            email_outbox::attempts.eq(attempts),
            email_outbox::next_attempt_at.eq(Utc::now() + delay),
            email_outbox::locked_until.eq(None::<DateTime<Utc>>),
            email_outbox::last_error.eq(error.chars().take(1000).collect::<String>()),
        ))
        .execute(conn)?;
    Ok(give_up)
}

/// The newest messages, for the local mailbox page.
pub fn recent(conn: &mut PgConnection, limit: i64) -> QueryResult<Vec<Message>> {
    email_outbox::table
        .order(email_outbox::id.desc())
        .limit(limit)
        .select(Message::as_select())
        .load(conn)
}

pub fn find(conn: &mut PgConnection, id: i64) -> QueryResult<Option<Message>> {
    email_outbox::table
        .find(id)
        .select(Message::as_select())
        .first(conn)
        .optional()
}

#[cfg(test)]
mod tests {
    use super::redact_tokens;

    #[test]
    fn tokens_are_redacted_and_the_rest_kept() {
        let token = crate::db::tokens::new_token();
        let body = format!("Open http://x.example/invitations/{token} to join.\nBye");
        assert_eq!(
            redact_tokens(&body),
            "Open http://x.example/invitations/[redacted] to join.\nBye"
        );
        let reset = format!("<a href=\"http://x/password/reset?token={token}\">reset</a>");
        assert!(!redact_tokens(&reset).contains(&token));
        assert_eq!(redact_tokens("Hello Ada,"), "Hello Ada,");
    }
}
