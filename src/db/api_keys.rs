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

/// Whether the last use of the key `$k` (a table alias) is to be written for a use from the IP
/// `$2`: at most once a minute, or when the IP changes.
macro_rules! use_due_sql {
    ($k:literal) => {
        concat!(
            "(",
            $k,
            ".last_used_at IS NULL OR ",
            $k,
            ".last_used_at < now() - interval '1 minute' OR ",
            $k,
            ".last_used_ip IS DISTINCT FROM $2)"
        )
    };
}

/// What a presented key turned out to be.
pub enum KeyCheck<T> {
    Live(T),
    /// A real key past its expiry date.
    Expired,
    /// No such key, or a revoked one.
    Unknown,
}

#[derive(QueryableByName)]
struct Presented {
    #[diesel(sql_type = super::users::UserRecordSql)]
    user: Option<super::users::UserRecord>,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    key_id: i64,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    expired: bool,
    /// Whether the key's last use is to be written (`use_due_sql`).
    #[diesel(sql_type = diesel::sql_types::Bool)]
    due: bool,
    #[diesel(sql_type = super::orgs::OrgRecordSql)]
    org: Option<super::orgs::OrgRecord>,
}

/// A live key's user and key id, and, when the request names an organization by id or by one
/// of its environments, the user's access to it read in the same statement (`Some(None)`: not
/// a member).
pub type KeyHolder = (User, i64, Option<Option<super::orgs::Access>>);

/// The user a live key acts for, or why there is none; its last use (time and IP) is written
/// at most once a minute, or when the IP changes (`use_due_sql`, then by a second statement).
/// For a request naming an organization by id or by environment, the access check
/// (`db::orgs::access`) is read with it: the organization's record in the same statement, the
/// member's kept by the instance (`kept`) at the version read, or else read again (see
/// `db::orgs::org_record_sql`). One statement (one more when the member's record is read
/// again).
pub fn authenticate(
    conn: &mut PgConnection,
    key: &str,
    ip: Option<&str>,
    org: Option<&super::orgs::OrgRef>,
    kept: &super::orgs::KeptAccess,
) -> QueryResult<KeyCheck<KeyHolder>> {
    use super::orgs::OrgRef;
    use diesel::sql_types::{BigInt, Nullable};
    let (org_id, env_id) = match org {
        Some(OrgRef::Id(id)) => (Some(*id), None),
        Some(OrgRef::Environment(id)) => (None, Some(*id)),
        Some(OrgRef::Slug(_)) | None => (None, None),
    };
    let asked = org_id.is_some() || env_id.is_some();
    // Read alone: a statement that may write (a writable CTE) costs PostgreSQL a third more
    // on every request, to write once a minute.
    let found: Option<Presented> = super::Prepared::new(
        diesel::sql_query(concat!(
            "SELECT ",
            super::users::user_record_sql!("k.user_id"),
            " AS user, k.id AS key_id,
                    k.expires_at IS NOT NULL AND k.expires_at <= now() AS expired, ",
            use_due_sql!("k"),
            " AS due, ",
            super::orgs::org_record_sql!(),
            "o.id = coalesce($3, (SELECT organization_id FROM environments WHERE id = $4))) AS org
             FROM personal_api_keys k WHERE k.key_hash = $1 AND k.revoked_at IS NULL"
        ))
        .bind::<diesel::sql_types::Bytea, _>(tokens::hash(key))
        .bind::<Nullable<diesel::sql_types::Text>, _>(ip)
        .bind::<Nullable<BigInt>, _>(org_id)
        .bind::<Nullable<BigInt>, _>(env_id),
    )
    .get_result(conn)
    .optional()?;
    Ok(match found {
        Some(found) if found.expired => KeyCheck::Expired,
        Some(Presented {
            user: Some(user),
            key_id,
            due,
            org,
            ..
        }) => {
            if due {
                // Guarded again: another instance may have written it meanwhile.
                diesel::sql_query(concat!(
                    "UPDATE personal_api_keys k SET last_used_at = now(), last_used_ip = $2
                     WHERE k.id = $1 AND ",
                    use_due_sql!("k")
                ))
                .bind::<BigInt, _>(key_id)
                .bind::<Nullable<diesel::sql_types::Text>, _>(ip)
                .execute(conn)?;
            }
            let user = User::from(user);
            let access = match asked {
                true => Some(kept.access(conn, user.id, org)?),
                false => None,
            };
            KeyCheck::Live((user, key_id, access))
        }
        Some(_) | None => KeyCheck::Unknown,
    })
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

/// Reserves `n` requests for the key in its current one-minute window; returns how many the
/// window holds now (these included) and the seconds left in it. One statement.
pub fn reserve(conn: &mut PgConnection, key_id: i64, n: i64) -> QueryResult<(i64, i64)> {
    #[derive(QueryableByName)]
    struct Window {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        requests: i32,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        seconds_left: i64,
    }
    let n = i32::try_from(n).unwrap_or(i32::MAX);
    let w: Window = super::Prepared::new(diesel::sql_query(
        "INSERT INTO api_rate_windows (key_id, window_start, requests) VALUES ($1, now(), $2)
         ON CONFLICT (key_id) DO UPDATE SET
             requests = CASE WHEN api_rate_windows.window_start <= now() - interval '1 minute' THEN $2 ELSE api_rate_windows.requests + $2 END,
             window_start = CASE WHEN api_rate_windows.window_start <= now() - interval '1 minute' THEN now() ELSE api_rate_windows.window_start END
         RETURNING requests, greatest(1, ceil(extract(epoch from (window_start + interval '1 minute' - now()))))::bigint AS seconds_left",
    )
    .bind::<diesel::sql_types::BigInt, _>(key_id)
    .bind::<diesel::sql_types::Integer, _>(n))
    .get_result(conn)?;
    Ok((i64::from(w.requests), w.seconds_left))
}

/// The user a key acts for, with this request counted against the key's limit: spent from
/// this instance's batch, or a new batch reserved in the same trip to the database.
pub fn authenticate_counted(
    conn: &mut PgConnection,
    key: &str,
    ip: Option<&str>,
    org: Option<&super::orgs::OrgRef>,
    kept: &super::orgs::KeptAccess,
    limiter: &crate::api::limit::RateLimiter,
) -> QueryResult<KeyCheck<(KeyHolder, crate::api::limit::Decision)>> {
    use crate::api::limit::Decision;
    let found = match authenticate(conn, key, ip, org, kept)? {
        KeyCheck::Live(found) => found,
        KeyCheck::Expired => return Ok(KeyCheck::Expired),
        KeyCheck::Unknown => return Ok(KeyCheck::Unknown),
    };
    let key_id = found.1;
    let decision = if limiter.take_local(key_id) {
        Decision::Allowed
    } else {
        let asked = limiter.batch_size();
        let (total, seconds_left) = reserve(conn, key_id, asked)?;
        limiter.granted(key_id, asked, total, seconds_left)
    };
    Ok(KeyCheck::Live((found, decision)))
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
