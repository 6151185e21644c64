//! Sign-in throttling held in PostgreSQL, so that it holds across instances: after too many
//! failures for one account or one IP within the window, both are locked for the lock period.
//! An IP counts as the email limits count it (`email_limits::ip_key`): IPv6 by its /64, which
//! one subscriber holds whole and could otherwise spread guesses over.

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
    let ip = &super::email_limits::ip_key(ip);
    sign_in_locks::table
        .filter(sign_in_locks::key.eq_any([email_key(email), ip_key(ip)]))
        .filter(sign_in_locks::locked_until.gt(Utc::now()))
        .select(diesel::dsl::max(sign_in_locks::locked_until))
        .first::<Option<DateTime<Utc>>>(conn)
}

/// A password check claimed against the throttle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The check may run; the attempt (this row) already counts as a failure until released.
    Allowed(i64),
    /// Too many attempts: the email or IP is locked until then; do not check the password.
    Locked(DateTime<Utc>),
}

/// Claims one password check for this email and IP *before* the password is checked: the
/// attempt is recorded (committed at once, outside any transaction) and then counted with every
/// other attempt in the window, so of any number of simultaneous guesses at most `max_failures`
/// are checked. A right password releases its claim ([`release`]).
pub fn claim(
    conn: &mut PgConnection,
    email: &str,
    ip: &str,
    max_failures: i64,
    window: Duration,
) -> QueryResult<Claim> {
    let ip = &super::email_limits::ip_key(ip);
    if let Some(until) = locked_until(conn, email, ip)? {
        return Ok(Claim::Locked(until));
    }
    let id: i64 = diesel::insert_into(sign_in_failures::table)
        .values((
            sign_in_failures::email.eq(email),
            sign_in_failures::ip.eq(ip),
        ))
        .returning(sign_in_failures::id)
        .get_result(conn)?;
    let (by_email, by_ip) = attempts(conn, email, ip, window)?;
    if by_email > max_failures || by_ip > max_failures {
        let until = lock(
            conn,
            email,
            ip,
            by_email >= max_failures,
            by_ip >= max_failures,
            window,
        )?;
        return Ok(Claim::Locked(until));
    }
    Ok(Claim::Allowed(id))
}

/// The claimed check found the right password: the attempt is not a failure.
pub fn release(conn: &mut PgConnection, attempt: i64) -> QueryResult<()> {
    diesel::delete(sign_in_failures::table.find(attempt)).execute(conn)?;
    Ok(())
}

/// The claimed check found a wrong password: the attempt stays counted, and the email and/or
/// IP lock once they reach `max_failures` in the window.
pub fn record_failure(
    conn: &mut PgConnection,
    email: &str,
    ip: &str,
    max_failures: i64,
    window: Duration,
) -> QueryResult<()> {
    let ip = &super::email_limits::ip_key(ip);
    let (by_email, by_ip) = attempts(conn, email, ip, window)?;
    if by_email >= max_failures || by_ip >= max_failures {
        lock(
            conn,
            email,
            ip,
            by_email >= max_failures,
            by_ip >= max_failures,
            window,
        )?;
    }
    Ok(())
}

fn attempts(
    conn: &mut PgConnection,
    email: &str,
    ip: &str,
    window: Duration,
) -> QueryResult<(i64, i64)> {
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
    Ok((by_email, by_ip))
}

fn lock(
    conn: &mut PgConnection,
    email: &str,
    ip: &str,
    email_reached: bool,
    ip_reached: bool,
    window: Duration,
) -> QueryResult<DateTime<Utc>> {
    let until = Utc::now() + window;
    for (reached, key) in [(email_reached, email_key(email)), (ip_reached, ip_key(ip))] {
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
    Ok(until)
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
