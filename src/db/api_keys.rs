//! Personal API keys: created with a name and shown once, kept as a SHA-256, revocable. A key
//! acts as its user, whose memberships and roles are read afresh on every request.

use crate::audit::Action;
use crate::domain::ids::UserId;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use rand::RngCore;

use super::schema::{personal_api_keys, users};
use super::tokens;
use super::users::User;
use crate::audit::{self, Actor, RequestMeta};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = personal_api_keys)]
pub struct PersonalKey {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
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
    meta: &RequestMeta,
) -> QueryResult<String> {
    conn.transaction(|conn| {
        use base64::Engine;
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let key = format!("ghp_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes));
        let prefix: String = key.chars().take(10).collect();
        diesel::insert_into(personal_api_keys::table)
            .values((
                personal_api_keys::user_id.eq(user.id),
                personal_api_keys::name.eq(name),
                personal_api_keys::prefix.eq(&prefix),
                personal_api_keys::key_hash.eq(tokens::hash(&key)),
            ))
            .execute(conn)?;
        audit::record(conn, audit::Event {
            organization: None,
            actor: &Actor::User { id: user.id, email: user.email.clone() },
            action: Action::ApiKeyCreated,
            target: Some(name.to_string()),
            details: serde_json::json!({ "after": { "kind": "personal", "name": name, "prefix": prefix } }),
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

/// The user a live key acts for (its last use recorded), or None for an unknown or revoked key.
/// One statement.
pub fn authenticate(conn: &mut PgConnection, key: &str) -> QueryResult<Option<(User, i64)>> {
    let key_id: Option<(i64, i64)> = diesel::update(
        personal_api_keys::table
            .filter(personal_api_keys::key_hash.eq(tokens::hash(key)))
            .filter(personal_api_keys::revoked_at.is_null()),
    )
    .set(personal_api_keys::last_used_at.eq(Utc::now()))
    .returning((personal_api_keys::id, personal_api_keys::user_id))
    .get_result(conn)
    .optional()?;
    let Some((key_id, user_id)) = key_id else {
        return Ok(None);
    };
    let user = users::table
        .find(user_id)
        .select(User::as_select())
        .first(conn)?;
    Ok(Some((user, key_id)))
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

/// The user a key acts for, counting this request in the key's window; `None` for an unknown,
/// revoked or expired key.
pub fn authenticate_counted(
    conn: &mut PgConnection,
    key: &str,
) -> QueryResult<Option<Authenticated>> {
    let Some((user, key_id)) = authenticate(conn, key)? else {
        return Ok(None);
    };
    let (requests, retry_after) = count_request(conn, key_id)?;
    Ok(Some(Authenticated {
        user,
        key_id,
        requests,
        retry_after,
    }))
}
