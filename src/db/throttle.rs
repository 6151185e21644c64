//! Sign-in throttling held in PostgreSQL, so that it holds across instances: after too many
//! failures for one account or one IP within the window, both are locked for the lock period.

use chrono::{DateTime, Duration, Utc};
use diesel::dsl::count_star;
use diesel::prelude::*;

use super::schema::{sign_in_failures, sign_in_locks};

/// When sign-in is locked for this email or IP, the time the lock ends.
pub fn locked_until(
    conn: &mut PgConnection,
    email: &str,
    ip: &str,
) -> QueryResult<Option<DateTime<Utc>>> {
    sign_in_locks::table
        .filter(sign_in_locks::key.eq_any([email_key(email), ip_key(ip)]))
        .filter(sign_in_locks::locked_until.gt(Utc::now()))
        .select(diesel::dsl::max(sign_in_locks::locked_until))
        .first::<Option<DateTime<Utc>>>(conn)
}

/// Records a failure; locks the email and/or IP once it reaches `max_failures` in the window.
pub fn record_failure(
    conn: &mut PgConnection,
    email: &str,
    ip: &str,
    max_failures: i64,
    window: Duration,
) -> QueryResult<()> {
    conn.transaction(|conn| {
        diesel::insert_into(sign_in_failures::table)
            .values((
                sign_in_failures::email.eq(email),
                sign_in_failures::ip.eq(ip),
            ))
            .execute(conn)?;
        let since = Utc::now() - window;
        let by_email: i64 = sign_in_failures::table
            .filter(sign_in_failures::email.eq(email))
            .filter(sign_in_failures::failed_at.gt(since))
            .select(count_star())
            .first(conn)?;
        let by_ip: i64 = sign_in_failures::table
            .filter(sign_in_failures::ip.eq(ip))
            .filter(sign_in_failures::failed_at.gt(since))
            .select(count_star())
            .first(conn)?;
        let until = Utc::now() + window;
        for (reached, key) in [
            (by_email >= max_failures, email_key(email)),
            (by_ip >= max_failures, ip_key(ip)),
        ] {
            if reached {
                diesel::insert_into(sign_in_locks::table)
                    .values((
                        sign_in_locks::key.eq(&key),
                        sign_in_locks::locked_until.eq(until),
                    ))
                    .on_conflict(sign_in_locks::key)
                    .do_update()
                    .set(sign_in_locks::locked_until.eq(until))
                    .execute(conn)?;
            }
        }
        Ok(())
    })
}

/// Forgets old failures and locks.
pub fn purge(conn: &mut PgConnection, window: Duration) -> QueryResult<()> {
    let before = Utc::now() - window;
    diesel::delete(sign_in_failures::table.filter(sign_in_failures::failed_at.lt(before)))
        .execute(conn)?;
    diesel::delete(sign_in_locks::table.filter(sign_in_locks::locked_until.lt(Utc::now())))
        .execute(conn)?;
    Ok(())
}

fn email_key(email: &str) -> String {
    format!("email:{}", email.trim().to_lowercase())
}

fn ip_key(ip: &str) -> String {
    format!("ip:{ip}")
}
