//! How many emails a visitor may make Gatehouse send (DESIGN §7), held in PostgreSQL so that it
//! holds across instances: at most `PER_ADDRESS` verification and reset emails to one address,
//! one "someone tried to sign up with your address" notice per address (its own budget, so
//! sign-up attempts cannot use up the holder's resets), and `PER_IP` requests from one IP (IPv6
//! counted per /64), all within `WINDOW_MINUTES`. Every request counts against the IP budget,
//! also a reset asked for an address without an account, so the budget says nothing about
//! which addresses exist.

use chrono::{Duration, Utc};
use diesel::dsl::count_star;
use diesel::prelude::*;

use super::schema::email_requests;

pub const PER_ADDRESS: i64 = 3;
pub const NOTICES_PER_ADDRESS: i64 = 1;
pub const PER_IP: i64 = 30;
pub const WINDOW_MINUTES: i64 = 15;

/// What an email is, for its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Verification and password reset links.
    Account,
    /// "Someone tried to sign up with your address."
    Notice,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Account => "account",
            Kind::Notice => "notice",
        }
    }

    fn limit(self) -> i64 {
        match self {
            Kind::Account => PER_ADDRESS,
            Kind::Notice => NOTICES_PER_ADDRESS,
        }
    }
}

/// The key an IP is counted under: IPv4 as is, IPv6 by its /64 (one subscriber's block).
pub fn ip_key(ip: &str) -> String {
    match ip.parse::<std::net::Ipv6Addr>() {
        Ok(v6) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(v6) => v6
            .to_ipv4_mapped()
            .map_or_else(|| ip.to_string(), |v4| v4.to_string()),
        Err(_) => ip.to_string(),
    }
}

/// Claims one email of `kind` to `recipient` at the request of `ip`: true (and counted) while
/// both are under their limits. Claims are serialized per address and per IP by
/// transaction-scoped advisory locks (taken in one order), so a burst of parallel requests gets
/// no more emails than a sequence; call it inside the transaction that queues the email.
pub fn claim(conn: &mut PgConnection, kind: Kind, recipient: &str, ip: &str) -> QueryResult<bool> {
    let ip = ip_key(ip);
    diesel::sql_query(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 7)), \
                pg_advisory_xact_lock(hashtextextended($2, 8))",
    )
    .bind::<diesel::sql_types::Text, _>(&ip)
    .bind::<diesel::sql_types::Text, _>(recipient)
    .execute(conn)?;
    let since = Utc::now() - Duration::minutes(WINDOW_MINUTES);
    let to_address: i64 = email_requests::table
        .filter(email_requests::recipient.eq(recipient))
        .filter(email_requests::kind.eq(kind.as_str()))
        .filter(email_requests::created_at.gt(since))
        .select(count_star())
        .first(conn)?;
    let from_ip: i64 = email_requests::table
        .filter(email_requests::ip.eq(&ip))
        .filter(email_requests::created_at.gt(since))
        .select(count_star())
        .first(conn)?;
    if to_address >= kind.limit() || from_ip >= PER_IP {
        return Ok(false);
    }
    diesel::insert_into(email_requests::table)
        .values((
            email_requests::kind.eq(kind.as_str()),
            email_requests::recipient.eq(recipient),
            email_requests::ip.eq(&ip),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_count_per_64() {
        assert_eq!(ip_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(ip_key("2001:db8:1:2:ffff::9"), "2001:db8:1:2::/64");
        assert_eq!(ip_key("203.0.113.9"), "203.0.113.9");
        assert_eq!(ip_key("::ffff:203.0.113.9"), "203.0.113.9");
    }
}
