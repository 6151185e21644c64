//! Personal API keys: created with a name and shown once, kept as a SHA-256, revocable. A key
//! acts as its user, whose memberships and roles are read afresh on every request.

use crate::audit::Action;
use crate::domain::ids::UserId;
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::{personal_api_keys, users};
use super::tokens;
use super::users::User;
use crate::audit::{self, Actor, RequestMeta};

/// How every personal key begins (environment keys begin `gatehouse_ek_`), so that secret
/// scanners and people can tell a Gatehouse key at a glance.
pub const PREFIX: &str = "gatehouse_pk_";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = personal_api_keys)]
pub struct PersonalKey {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub last_used_ip: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// How long a new personal key works, chosen when it is created (DESIGN §14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLifetime {
    Days(i64),
    /// It works until revoked.
    Unlimited,
}

impl KeyLifetime {
    /// The choices, as the form offers them: (value, label).
    pub const CHOICES: [(&'static str, &'static str); 4] = [
        ("30", "30 days"),
        ("90", "90 days"),
        ("365", "365 days"),
        ("never", "No expiry"),
    ];
    /// What a new key gets unless another is chosen.
    pub const DEFAULT: &'static str = "90";

    /// A choice of the form; None for anything else.
    pub fn parse(value: &str) -> Option<KeyLifetime> {
        match value {
            "30" => Some(KeyLifetime::Days(30)),
            "90" => Some(KeyLifetime::Days(90)),
            "365" => Some(KeyLifetime::Days(365)),
            "never" => Some(KeyLifetime::Unlimited),
            _ => None,
        }
    }

    /// When a key made now stops working.
    pub fn expires_at(self) -> Option<DateTime<Utc>> {
        match self {
            KeyLifetime::Days(days) => Some(Utc::now() + chrono::Duration::days(days)),
            KeyLifetime::Unlimited => None,
        }
    }
}

impl PersonalKey {
    pub fn is_expired(&self) -> bool {
        self.expires_at.is_some_and(|at| at <= Utc::now())
    }
}

pub fn list(conn: &mut PgConnection, user_id: UserId) -> QueryResult<Vec<PersonalKey>> {
    personal_api_keys::table
        .filter(personal_api_keys::user_id.eq(user_id))
        .order(personal_api_keys::created_at.desc())
        .select(PersonalKey::as_select())
        .load(conn)
}

/// Creates a key and returns it in clear, the only time it is shown.
pub fn create(
    conn: &mut PgConnection,
    user: &User,
    name: &str,
    expires_at: Option<DateTime<Utc>>,
    meta: &RequestMeta,
) -> QueryResult<String> {
    conn.transaction(|conn| {
        let (key, prefix) = tokens::new_key(PREFIX);
        diesel::insert_into(personal_api_keys::table)
            .values((
                personal_api_keys::user_id.eq(user.id),
                personal_api_keys::name.eq(name),
                personal_api_keys::prefix.eq(&prefix),
                personal_api_keys::key_hash.eq(tokens::hash(&key)),
                personal_api_keys::expires_at.eq(expires_at),
            ))
            .execute(conn)?;
        audit::record(conn, audit::Event {
            organization: None,
            actor: &Actor::User { id: user.id, email: user.email.clone() },
            action: Action::ApiKeyCreated,
            target: Some(name.to_string()),
            details: serde_json::json!({ "after": { "kind": "personal", "name": name, "prefix": prefix, "expires_at": expires_at } }),
            status: audit::Status::Successful,
            meta,
        })?;
        Ok(key)
    })
}

/// Revokes one of the user's keys; false when it was not theirs or already revoked.
pub fn revoke(
    conn: &mut PgConnection,
    user: &User,
    id: i64,
    meta: &RequestMeta,
) -> QueryResult<Option<String>> {
    conn.transaction(|conn| {
        let revoked: Option<(String, String)> = diesel::update(
            personal_api_keys::table
                .filter(personal_api_keys::id.eq(id))
                .filter(personal_api_keys::user_id.eq(user.id))
                .filter(personal_api_keys::revoked_at.is_null()),
        )
        .set(personal_api_keys::revoked_at.eq(Utc::now()))
        .returning((personal_api_keys::name, personal_api_keys::prefix))
        .get_result(conn)
        .optional()?;
        let Some((name, prefix)) = revoked else { return Ok(None) };
        audit::record(conn, audit::Event {
            organization: None,
            actor: &Actor::User { id: user.id, email: user.email.clone() },
            action: Action::ApiKeyRevoked,
            target: Some(name.clone()),
            details: serde_json::json!({ "before": { "kind": "personal", "prefix": prefix, "revoked": false }, "after": { "revoked": true } }),
            status: audit::Status::Successful,
            meta,
        })?;
        Ok(Some(name))
    })
}

/// What a presented key turned out to be.
pub enum KeyCheck<T> {
    Live(T),
    /// A real key past its expiry date.
    Expired,
    /// No such key, or a revoked one.
    Unknown,
}

/// The user a live key acts for (its last use and IP recorded), or why there is none. One
/// statement for a live key.
pub fn authenticate(
    conn: &mut PgConnection,
    key: &str,
    ip: Option<&str>,
) -> QueryResult<KeyCheck<(User, i64)>> {
    let hash = tokens::hash(key);
    let key_id: Option<(i64, i64)> = diesel::update(
        personal_api_keys::table
            .filter(personal_api_keys::key_hash.eq(&hash))
            .filter(personal_api_keys::revoked_at.is_null())
            .filter(
                personal_api_keys::expires_at
                    .is_null()
                    .or(personal_api_keys::expires_at.gt(Utc::now())),
            ),
    )
    .set((
        personal_api_keys::last_used_at.eq(Utc::now()),
        personal_api_keys::last_used_ip.eq(ip),
    ))
    .returning((personal_api_keys::id, personal_api_keys::user_id))
    .get_result(conn)
    .optional()?;
    let Some((key_id, user_id)) = key_id else {
        // Only on the way to a 401: was it a real key that expired?
        let expired: i64 = personal_api_keys::table
            .filter(personal_api_keys::key_hash.eq(&hash))
            .filter(personal_api_keys::revoked_at.is_null())
            .count()
            .get_result(conn)?;
        return Ok(if expired > 0 {
            KeyCheck::Expired
        } else {
            KeyCheck::Unknown
        });
    };
    let user = users::table
        .find(user_id)
        .select(User::as_select())
        .first(conn)?;
    Ok(KeyCheck::Live((user, key_id)))
}

/// Revokes every personal API key of a user (a password reset); returns how many.
pub fn revoke_all(conn: &mut PgConnection, user_id: UserId) -> QueryResult<usize> {
    diesel::update(
        personal_api_keys::table
            .filter(personal_api_keys::user_id.eq(user_id))
            .filter(personal_api_keys::revoked_at.is_null()),
    )
    .set(personal_api_keys::revoked_at.eq(Utc::now()))
    .execute(conn)
}

/// Counts one request for the key in its current one-minute window; returns the count so far
/// and the seconds left in the window. One statement.
pub fn count_request(conn: &mut PgConnection, key_id: i64) -> QueryResult<(i32, i64)> {
    #[derive(QueryableByName)]
    struct Window {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        requests: i32,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        seconds_left: i64,
    }
    let w: Window = diesel::sql_query(
        "INSERT INTO api_rate_windows (key_id, window_start, requests) VALUES ($1, now(), 1)
         ON CONFLICT (key_id) DO UPDATE SET
             requests = CASE WHEN api_rate_windows.window_start <= now() - interval '1 minute' THEN 1 ELSE api_rate_windows.requests + 1 END,
             window_start = CASE WHEN api_rate_windows.window_start <= now() - interval '1 minute' THEN now() ELSE api_rate_windows.window_start END
         RETURNING requests, greatest(1, ceil(extract(epoch from (window_start + interval '1 minute' - now()))))::bigint AS seconds_left",
    )
    .bind::<diesel::sql_types::BigInt, _>(key_id)
    .get_result(conn)?;
    Ok((w.requests, w.seconds_left))
}

/// A key that authenticated a request, with its rate-limit window.
pub struct Authenticated {
    pub user: User,
    pub key_id: i64,
    /// Requests in the current minute, this one included.
    pub requests: i32,
    /// Seconds until the window ends.
    pub retry_after: i64,
}

/// The user a key acts for, counting this request in the key's window.
pub fn authenticate_counted(
    conn: &mut PgConnection,
    key: &str,
    ip: Option<&str>,
) -> QueryResult<KeyCheck<Authenticated>> {
    let (user, key_id) = match authenticate(conn, key, ip)? {
        KeyCheck::Live(found) => found,
        KeyCheck::Expired => return Ok(KeyCheck::Expired),
        KeyCheck::Unknown => return Ok(KeyCheck::Unknown),
    };
    let (requests, retry_after) = count_request(conn, key_id)?;
    Ok(KeyCheck::Live(Authenticated {
        user,
        key_id,
        requests,
        retry_after,
    }))
}

/// A key that expires soon and whose owner was not told yet.
#[derive(Debug, Queryable)]
pub struct Expiring {
    pub name: String,
    pub prefix: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub owner_name: String,
    pub owner_email: String,
}

/// Claims the live keys expiring within `within` whose owner was not reminded yet (marking them
/// reminded), in the caller's transaction; rows another instance is claiming are skipped, so
/// each reminder goes out once.
pub fn claim_expiring(
    conn: &mut PgConnection,
    within: chrono::Duration,
) -> QueryResult<Vec<Expiring>> {
    let now = Utc::now();
    let ids: Vec<i64> = personal_api_keys::table
        .filter(personal_api_keys::revoked_at.is_null())
        .filter(personal_api_keys::expiry_reminded_at.is_null())
        .filter(personal_api_keys::expires_at.gt(now))
        .filter(personal_api_keys::expires_at.le(now + within))
        .select(personal_api_keys::id)
        .limit(500)
        .for_update()
        .skip_locked()
        .load(conn)?;
    diesel::update(personal_api_keys::table.filter(personal_api_keys::id.eq_any(&ids)))
        .set(personal_api_keys::expiry_reminded_at.eq(now))
        .execute(conn)?;
    personal_api_keys::table
        .inner_join(users::table)
        .filter(personal_api_keys::id.eq_any(&ids))
        .select((
            personal_api_keys::name,
            personal_api_keys::prefix,
            personal_api_keys::expires_at,
            users::name,
            users::email,
        ))
        .load(conn)
}
