//! How many emails a visitor may make Gatehouse send: at most `PER_ADDRESS` to one address and
//! `PER_IP` at the request of one IP within `WINDOW_MINUTES` (DESIGN §7), held in PostgreSQL so
//! that it holds across instances.

use chrono::{Duration, Utc};
use diesel::dsl::count_star;
use diesel::prelude::*;

use super::schema::email_requests;

pub const PER_ADDRESS: i64 = 3;
pub const PER_IP: i64 = 30;
pub const WINDOW_MINUTES: i64 = 15;

/// Claims one email to `recipient` at the request of `ip`: true (and counted) while both are
/// under their limit. Claims for one address are serialized by a transaction-scoped advisory
/// lock, so a burst of parallel requests gets no more emails than a sequence; call it inside the
/// transaction that queues the email.
pub fn claim(conn: &mut PgConnection, recipient: &str, ip: &str) -> QueryResult<bool> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 7))")
        .bind::<diesel::sql_types::Text, _>(recipient)
        .execute(conn)?;
    let since = Utc::now() - Duration::minutes(WINDOW_MINUTES);
    let to_address: i64 = email_requests::table
        .filter(email_requests::recipient.eq(recipient))
        .filter(email_requests::created_at.gt(since))
        .select(count_star())
        .first(conn)?;
    let from_ip: i64 = email_requests::table
        .filter(email_requests::ip.eq(ip))
        .filter(email_requests::created_at.gt(since))
        .select(count_star())
        .first(conn)?;
    if to_address >= PER_ADDRESS || from_ip >= PER_IP {
        return Ok(false);
    }
    diesel::insert_into(email_requests::table)
        .values((
            email_requests::recipient.eq(recipient),
            email_requests::ip.eq(ip),
        ))
        .execute(conn)?;
    Ok(true)
}

/// Forgets claims older than the window.
pub fn purge(conn: &mut PgConnection) -> QueryResult<usize> {
    diesel::delete(
        email_requests::table
            .filter(email_requests::created_at.lt(Utc::now() - Duration::minutes(WINDOW_MINUTES))),
    )
    .execute(conn)
}
