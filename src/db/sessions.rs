//! Session storage for actix-session. Signed-in sessions live in PostgreSQL, so that every
//! instance serves every request and a password reset can end all of a user's sessions. A
//! visitor who is not signed in gets no row at all: the little state such a session holds (the
//! CSRF token of signed-out forms, a flash message) travels in the session cookie itself, which
//! the middleware encrypts and signs with the session key (DESIGN §7).

use crate::domain::ids::UserId;
use std::collections::HashMap;

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration;
use chrono::Utc;
use diesel::prelude::*;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::PgPool;
use super::schema::sessions;

/// The session-state key holding the signed-in user's id.
pub const USER_ID_KEY: &str = "user_id";
/// The session's public id (shown on the sessions page, never the key itself).
pub const SID_KEY: &str = "sid";
/// The IP and user agent the session was signed in from.
pub const IP_KEY: &str = "ip";
pub const AGENT_KEY: &str = "ua";
/// When the session was last active (Unix seconds), updated at most once a minute.
pub const SEEN_KEY: &str = "seen";
/// A signed-in session's state is read from the database by the request itself, on its first
/// trip there (a page reads it with its own data: one trip, not two). Until then the state
/// holds only this key, naming the stored session (its key's hash).
pub const PENDING_KEY: &str = "_pending";
/// The fingerprint of the state as read, so that a request which changed nothing writes nothing
/// back (filling the state in marks it changed for the session middleware).
pub const LOADED_KEY: &str = "_loaded";

/// Removes what only a request may carry (the markers of the read) from a state about to be
/// stored, or that a cookie brought.
fn strip_request_only(state: &mut HashMap<String, String>) {
    for key in [PENDING_KEY, LOADED_KEY] {
        state.remove(key);
    }
}

/// A stored state's fingerprint, to tell when the request ends whether it changed: a hash of its
/// entries in key order, keyed at random per process (a request reads and updates its session
/// in one process). Not sent anywhere, and cheap where a digest of the state's JSON was a
/// tenth of a page's work.
fn fingerprint(state: &HashMap<String, String>) -> u64 {
    static KEYS: std::sync::LazyLock<std::hash::RandomState> =
        std::sync::LazyLock::new(std::hash::RandomState::new);
    let ordered: std::collections::BTreeMap<&String, &String> = state.iter().collect();
    std::hash::BuildHasher::hash_one(&*KEYS, &ordered)
}

/// The stored session named by a pending state (see `PENDING_KEY`).
pub fn pending(state: &HashMap<String, String>) -> Option<Vec<u8>> {
    use base64::Engine;
    let named: String = serde_json::from_str(state.get(PENDING_KEY)?).ok()?;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(named)
        .ok()
}

/// Who a session signs in: the user's row read with it, and the user's switcher. Handed to the
/// request as it is read (`auth::session`), never through the session's state.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: super::users::User,
    pub switcher: super::orgs::Switcher,
}

/// A switcher as `SWITCHER_SQL` reads it (`[count, [[name, slug, status, role], …], version]`);
/// the empty one when there is none.
fn switcher_from(read: Option<&str>) -> super::orgs::Switcher {
    type Stored = (i64, Vec<(String, String, String, String)>, i64);
    let (total, rows, version): Stored = read
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default();
    let first = rows
        .into_iter()
        .map(|(name, slug, status, role)| super::orgs::MyOrganization {
            name,
            slug,
            status,
            role,
        })
        .collect();
    super::orgs::Switcher {
        first,
        total,
        version,
    }
}

/// The session's user's organization count (an index-only count of at most 400 entries) and
/// their switcher's organizations in name order, cut from the memberships' (user_id, org_name,
/// organization_id) index with one organization lookup each, and their data version; as JSON.
static SWITCHER_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "(SELECT json_build_array(
                     (SELECT count(*) FROM memberships WHERE user_id = sessions.user_id),
                     coalesce(json_agg(json_build_array(o.name, o.slug, o.status, m.role)
                                       ORDER BY m.org_name, m.organization_id), '[]'),
                     coalesce((SELECT version FROM user_data_versions
                               WHERE user_id = sessions.user_id), 0))::text
          FROM (SELECT organization_id, org_name, role FROM memberships
                WHERE user_id = sessions.user_id
                ORDER BY org_name, organization_id LIMIT {}) m
          CROSS JOIN LATERAL (SELECT name, slug, status FROM organizations
                              WHERE id = m.organization_id OFFSET 0) o)",
        super::orgs::SWITCHER_SIZE
    )
});

/// In place of `SWITCHER_SQL` when the instance keeps a switcher for the session: the person's
/// data version alone.
const SWITCHER_VERSION_SQL: &str = "(SELECT version::text FROM user_data_versions
                                     WHERE user_id = sessions.user_id)";

/// The switchers an instance has read (`SWITCHER_SQL`), per session (its key's hash) and person,
/// under the person's data version (`user_data_versions`): while it is the version read with
/// the session, the session's statement reads the version alone (`SWITCHER_VERSION_SQL`), not
/// the person's organization count and first organizations. At most one per session, and
/// 1,024 sessions' (about 1 KiB each).
#[derive(Default)]
pub struct Switchers(
    super::kept::Kept<[u8; 32], UserId, std::sync::Arc<super::orgs::Switcher>, 1024, 1>,
);

/// `user`'s switcher alone (`SWITCHER_SQL`'s JSON): for a session whose kept switcher is of an
/// older version.
fn read_switcher(conn: &mut PgConnection, user: UserId) -> QueryResult<Option<String>> {
    use diesel::sql_types::{BigInt, Nullable, Text};
    diesel::select(
        diesel::dsl::sql::<Nullable<Text>>("(SELECT ")
            .sql(&SWITCHER_SQL)
            .sql(" FROM (SELECT ")
            .bind::<BigInt, _>(user.0)
            .sql(" AS user_id) sessions)"),
    )
    .get_result(conn)
}

tokio::task_local! {
    /// Set while a request is served (`startup`): whether the session store kept the request's
    /// session key when it updated the session, so the cookie the session middleware then sends
    /// again, with that same key, can be dropped.
    pub static KEY_KEPT: std::rc::Rc<std::cell::Cell<bool>>;
}

/// The key `update` keeps, noted for the request (`KEY_KEPT`).
fn key_kept(session_key: SessionKey) -> Result<SessionKey, UpdateError> {
    let _ = KEY_KEPT.try_with(|kept| kept.set(true));
    Ok(session_key)
}

/// How long a signed-in session lives: ended after `idle` without activity, and after `max`
/// whatever happens (DESIGN §14).
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub idle: chrono::Duration,
    pub max: chrono::Duration,
}

#[derive(Clone)]
pub struct PgSessionStore {
    pool: PgPool,
}

/// A stored session as `read` reads it: state, user, started, last active, the user's row, their
/// switcher (JSON) and the record of the organization asked about.
type StoredSession = (
    String,
    Option<i64>,
    chrono::DateTime<Utc>,
    chrono::DateTime<Utc>,
    Option<super::users::UserRecord>,
    Option<String>,
    Option<super::orgs::OrgRecord>,
);

/// The columns a session's state sets besides the state itself.
struct Details {
    sid: Option<String>,
    ip: Option<String>,
    agent: Option<String>,
    seen: chrono::DateTime<Utc>,
}

fn details(state: &HashMap<String, String>) -> Details {
    let text = |key: &str| {
        state
            .get(key)
            .and_then(|v| serde_json::from_str::<String>(v).ok())
    };
    let seen = state
        .get(SEEN_KEY)
        .and_then(|v| serde_json::from_str::<i64>(v).ok())
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .unwrap_or_else(Utc::now);
    Details {
        sid: text(SID_KEY),
        ip: text(IP_KEY),
        agent: text(AGENT_KEY),
        seen,
    }
}

impl PgSessionStore {
    pub fn new(pool: PgPool) -> Self {
        PgSessionStore { pool }
    }

    /// Session writes follow the request's work, so they are never abandoned in the queue.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut PgConnection) -> QueryResult<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        Ok(crate::db::finish(&self.pool, f).await?)
    }
}

fn key_hash(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

fn user_id_of(state: &HashMap<String, String>) -> Option<i64> {
    state
        .get(USER_ID_KEY)
        .and_then(|v| serde_json::from_str::<i64>(v).ok())
}

fn expiry(ttl: &Duration) -> chrono::DateTime<Utc> {
    Utc::now() + chrono::Duration::seconds(ttl.whole_seconds())
}

fn new_key() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 48];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Keys of signed-out sessions start with this; stored keys are URL-safe base64, which has no '.'.
const IN_COOKIE: &str = "a.";

/// The key that carries a signed-out session's state itself, or None when the state belongs in
/// the database (it names a user, or is too large for a cookie).
fn cookie_key(state: &HashMap<String, String>) -> Option<SessionKey> {
    use base64::Engine;
    if state.contains_key(USER_ID_KEY) {
        return None;
    }
    let json = serde_json::to_vec(state).ok()?;
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json);
    // The cookie is encrypted and encoded once more: keep well under browsers' 4 KiB.
    if encoded.len() > 2048 {
        return None;
    }
    SessionKey::try_from(format!("{IN_COOKIE}{encoded}")).ok()
}

/// The state a signed-out session's key carries. Such a key never signs anyone in.
fn state_in_cookie(key: &str) -> Option<HashMap<String, String>> {
    use base64::Engine;
    let encoded = key.strip_prefix(IN_COOKIE)?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded)
        .ok()?;
    let mut state: HashMap<String, String> = serde_json::from_slice(&json).ok()?;
    strip_request_only(&mut state);
    (!state.contains_key(USER_ID_KEY)).then_some(state)
}

/// What `read` found: the state to put in the request (see `PENDING_KEY`), None when there is
/// no such session or it has ended (then it is deleted); and, when the state signs someone in
/// and `read` was given an organization, their access to it (None: not a member, or no state).
#[derive(Default)]
pub struct Read {
    pub state: Option<HashMap<String, String>>,
    /// Who the state signs in (None: a visitor's state, or the account is gone).
    pub who: Option<SignedIn>,
    pub access: Option<super::orgs::Access>,
}

/// Reads the stored session whose key hashes to `hash`, with its user's row and switcher, and,
/// for a page of the organization `org` (its slug, and the instance's `KeptAccess`), the user's
/// access to it as the access check reads it (`db::orgs::access`), all in one statement: the
/// organization's record is read with the session, the member's is the one kept at the version
/// read (or else read with it again, one more statement; see `db::orgs::org_record_sql`).
///
/// With `switchers`, the user's switcher is the one kept for the session while the person's
/// data version is unchanged, and is otherwise read and kept.
pub fn read(
    conn: &mut PgConnection,
    hash: &[u8],
    lifetimes: Lifetimes,
    org: Option<(&str, &super::orgs::KeptAccess)>,
    switchers: Option<&Switchers>,
) -> QueryResult<Read> {
    use diesel::sql_types::{Nullable, Text};
    // Prepared although it carries SQL fragments (the switcher, the access check): their text
    // is fixed. A read for no organization binds NULL, which matches none; the slug is hidden
    // from the planner (`(SELECT $n)`), which would otherwise plan a NULL away on every call
    // rather than keep the one generic plan.
    let access = diesel::dsl::sql::<super::orgs::OrgRecordSql>(concat!(
        super::orgs::org_record_sql!(),
        "o.slug = (SELECT "
    ))
    .bind::<Nullable<Text>, _>(org.map(|(slug, _)| slug.to_string()))
    .sql("))");
    let session = <[u8; 32]>::try_from(hash).ok();
    let kept = switchers
        .zip(session)
        .filter(|(switchers, session)| switchers.0.version_of(*session).is_some());
    let query = sessions::table
        .filter(sessions::key_hash.eq(hash))
        .filter(sessions::expires_at.gt(Utc::now()))
        .select((
            // As text: parsed once, straight into the state's map.
            diesel::dsl::sql::<Text>("\"sessions\".\"state\"::text"),
            sessions::user_id,
            sessions::created_at,
            sessions::last_seen_at,
            diesel::dsl::sql::<super::users::UserRecordSql>(super::users::user_record_sql!(
                "sessions.user_id"
            )),
            diesel::dsl::sql::<Nullable<Text>>(match kept {
                Some(_) => SWITCHER_VERSION_SQL,
                None => &SWITCHER_SQL,
            }),
            access,
        ))
        .limit(1);
    // The statement's two texts (the switcher, or its version alone), each under its own key.
    struct WithSwitcher;
    struct WithVersion;
    let found: Option<StoredSession> = match kept {
        Some(_) => super::Prepared::<_, super::Key<WithVersion>>::keyed(query).get_result(conn),
        None => super::Prepared::<_, super::Key<WithSwitcher>>::keyed(query).get_result(conn),
    }
    .optional()?;
    let Some((state, user_id, created, seen, user, switcher, access)) = found else {
        return Ok(Read::default());
    };
    let now = Utc::now();
    if user_id.is_some() && (now - seen > lifetimes.idle || now - created > lifetimes.max) {
        diesel::delete(sessions::table.find(hash)).execute(conn)?;
        return Ok(Read::default());
    }
    let mut state: HashMap<String, String> = match serde_json::from_str(&state) {
        Ok(state) => state,
        Err(e) => {
            tracing::warn!(error = %e, "a stored session's state does not parse: ignored");
            return Ok(Read::default());
        }
    };
    strip_request_only(&mut state);
    let read = fingerprint(&state);
    state.insert(LOADED_KEY.to_string(), read.to_string());
    // The user's row is the one the state names (the two are stored together).
    let who = match user.map(super::users::User::from) {
        Some(user) if user_id_of(&state) == Some(user.id.0) => {
            let switcher = switcher_of(
                conn,
                switchers.zip(session),
                kept.is_some(),
                user.id,
                switcher,
            )?;
            Some(SignedIn { user, switcher })
        }
        _ => None,
    };
    let access = match (org, user_id) {
        (Some((_, kept)), Some(user_id)) => kept.access(conn, UserId(user_id), access)?,
        _ => None,
    };
    Ok(Read {
        state: Some(state),
        who,
        access,
    })
}

/// The switcher of `user` for a session an instance keeps switchers for (`switchers`, with the
/// session's key hash): when the statement read the version alone (`version_only`, `read` is
/// that version), the one kept at that version, else read now; when it read the switcher
/// (`SWITCHER_SQL`'s JSON), that one, kept.
fn switcher_of(
    conn: &mut PgConnection,
    switchers: Option<(&Switchers, [u8; 32])>,
    version_only: bool,
    user: UserId,
    read: Option<String>,
) -> QueryResult<super::orgs::Switcher> {
    Ok(match (switchers, read) {
        (Some((switchers, session)), version) if version_only => {
            let version = version.and_then(|v| v.parse().ok()).unwrap_or(0);
            let kept = switchers.0.get_or_read(session, version, user, || {
                read_switcher(conn, user)
                    .map(|read| std::sync::Arc::new(switcher_from(read.as_deref())))
            })?;
            super::orgs::Switcher::clone(&kept)
        }
        (Some((switchers, session)), read) => {
            let switcher = switcher_from(read.as_deref());
            let version = switcher.version;
            switchers.0.keep(
                session,
                version,
                user,
                std::sync::Arc::new(switcher.clone()),
            );
            switcher
        }
        (None, read) => switcher_from(read.as_deref()),
    })
}

impl SessionStore for PgSessionStore {
    /// Reads nothing: a stored session is read by the request, on its first trip to the
    /// database (`read`); a signed-out session's state comes from its cookie.
    async fn load(
        &self,
        session_key: &SessionKey,
    ) -> Result<Option<HashMap<String, String>>, LoadError> {
        use base64::Engine;
        if session_key.as_ref().starts_with(IN_COOKIE) {
            return Ok(state_in_cookie(session_key.as_ref()));
        }
        let named =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key_hash(session_key.as_ref()));
        let marker = serde_json::to_string(&named).map_err(|e| LoadError::Other(e.into()))?;
        Ok(Some(HashMap::from([(PENDING_KEY.to_string(), marker)])))
    }

    async fn save(
        &self,
        mut state: HashMap<String, String>,
        ttl: &Duration,
    ) -> Result<SessionKey, SaveError> {
        strip_request_only(&mut state);
        if let Some(key) = cookie_key(&state) {
            return Ok(key);
        }
        let key = new_key();
        let hash = key_hash(&key);
        let user_id = user_id_of(&state);
        let json = serde_json::to_value(&state).map_err(|e| SaveError::Serialization(e.into()))?;
        let expires = expiry(ttl);
        let d = details(&state);
        self.blocking(move |conn| {
            diesel::insert_into(sessions::table)
                .values((
                    sessions::key_hash.eq(hash),
                    sessions::user_id.eq(user_id),
                    sessions::state.eq(json),
                    sessions::expires_at.eq(expires),
                    sessions::sid.eq(d.sid),
                    sessions::ip.eq(d.ip),
                    sessions::user_agent.eq(d.agent),
                    sessions::last_seen_at.eq(d.seen),
                ))
                .execute(conn)
        })
        .await
        .map_err(SaveError::Other)?;
        SessionKey::try_from(key).map_err(|e| SaveError::Other(e.into()))
    }

    async fn update(
        &self,
        session_key: SessionKey,
        mut state: HashMap<String, String>,
        ttl: &Duration,
    ) -> Result<SessionKey, UpdateError> {
        let read = state.remove(LOADED_KEY);
        let never_read = state.contains_key(PENDING_KEY);
        strip_request_only(&mut state);
        let as_save = |e| match e {
            SaveError::Serialization(e) => UpdateError::Serialization(e),
            SaveError::Other(e) => UpdateError::Other(e),
        };
        if session_key.as_ref().starts_with(IN_COOKIE) {
            return self.save(state, ttl).await.map_err(as_save);
        }
        if never_read {
            // Written to without being read: storing it would lose the stored state.
            tracing::error!("a session changed before it was read: not stored");
            debug_assert!(false, "a session changed before it was read");
            return key_kept(session_key);
        }
        if read.is_some_and(|read| read.parse().ok() == Some(fingerprint(&state))) {
            return key_kept(session_key);
        }
        let hash = key_hash(session_key.as_ref());
        let Some(user_id) = user_id_of(&state) else {
            // Nobody is signed in any more (the stored session had ended): a visitor's state
            // lives in the cookie, and no row is kept for it.
            self.blocking(move |conn| diesel::delete(sessions::table.find(hash)).execute(conn))
                .await
                .map_err(UpdateError::Other)?;
            return self.save(state, ttl).await.map_err(as_save);
        };
        let json =
            serde_json::to_value(&state).map_err(|e| UpdateError::Serialization(e.into()))?;
        let expires = expiry(ttl);
        let d = details(&state);
        let updated = self
            .blocking(move |conn| {
                diesel::update(
                    sessions::table
                        .find(hash)
                        .filter(sessions::expires_at.gt(Utc::now())),
                )
                .set((
                    sessions::user_id.eq(user_id),
                    sessions::state.eq(json),
                    sessions::expires_at.eq(expires),
                    sessions::sid.eq(d.sid),
                    sessions::ip.eq(d.ip),
                    sessions::user_agent.eq(d.agent),
                    sessions::last_seen_at.eq(d.seen),
                ))
                .execute(conn)
            })
            .await
            .map_err(UpdateError::Other)?;
        if updated == 1 {
            key_kept(session_key)
        } else {
            // The session was deleted meanwhile (e.g. a password reset ended it): start afresh
            // rather than bringing it back.
            self.save(HashMap::new(), ttl).await.map_err(as_save)
        }
    }

    async fn update_ttl(
        &self,
        session_key: &SessionKey,
        ttl: &Duration,
    ) -> Result<(), anyhow::Error> {
        if session_key.as_ref().starts_with(IN_COOKIE) {
            return Ok(());
        }
        let hash = key_hash(session_key.as_ref());
        let expires = expiry(ttl);
        self.blocking(move |conn| {
            diesel::update(sessions::table.find(hash))
                .set(sessions::expires_at.eq(expires))
                .execute(conn)
        })
        .await?;
        Ok(())
    }

    async fn delete(&self, session_key: &SessionKey) -> Result<(), anyhow::Error> {
        if session_key.as_ref().starts_with(IN_COOKIE) {
            return Ok(());
        }
        let hash = key_hash(session_key.as_ref());
        self.blocking(move |conn| diesel::delete(sessions::table.find(hash)).execute(conn))
            .await?;
        Ok(())
    }
}

/// Ends every session of a user (password reset).
pub fn delete_for_user(conn: &mut PgConnection, user_id: UserId) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)
}

/// Removes expired sessions.
pub fn purge_expired(conn: &mut PgConnection) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::expires_at.le(Utc::now()))).execute(conn)
}

/// One signed-in session of a user, as the sessions page shows it.
#[derive(Debug, Clone, Queryable)]
pub struct SessionRow {
    pub sid: Option<String>,
    pub created_at: chrono::DateTime<Utc>,
    pub last_seen_at: chrono::DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// The user's live sessions, most recently active first.
pub fn list_for_user(conn: &mut PgConnection, user_id: UserId) -> QueryResult<Vec<SessionRow>> {
    sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::expires_at.gt(Utc::now()))
        .order(sessions::last_seen_at.desc())
        .select((
            sessions::sid,
            sessions::created_at,
            sessions::last_seen_at,
            sessions::ip,
            sessions::user_agent,
        ))
        .load(conn)
}

/// Ends one of the user's sessions; false when it is not theirs or already over.
pub fn revoke(conn: &mut PgConnection, user_id: UserId, sid: &str) -> QueryResult<bool> {
    let n = diesel::delete(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::sid.eq(sid)),
    )
    .execute(conn)?;
    Ok(n > 0)
}

/// Ends every session of the user but `keep`; how many.
pub fn revoke_others(conn: &mut PgConnection, user_id: UserId, keep: &str) -> QueryResult<usize> {
    diesel::delete(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::sid.is_distinct_from(keep)),
    )
    .execute(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(entries: &[(&str, &str)]) -> HashMap<String, String> {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The fingerprint tells a changed state from the one read, whatever order its map holds
    /// the entries in, and however a change moves text between a key and its value.
    #[test]
    fn a_state_s_fingerprint_changes_with_any_entry() {
        let read = state(&[("user_id", "7"), ("csrf", "\"abc\""), ("flash", "[]")]);
        let mut same = HashMap::with_capacity(64);
        for key in ["flash", "user_id", "csrf"] {
            same.insert(key.to_string(), read[key].clone());
        }
        assert_eq!(fingerprint(&read), fingerprint(&same));
        let changed = [
            state(&[("user_id", "7"), ("csrf", "\"abd\""), ("flash", "[]")]),
            state(&[("user_id", "7"), ("csrf", "\"abc\"")]),
            state(&[
                ("user_id", "7"),
                ("csrf", "\"abc\""),
                ("flash", "[]"),
                ("x", ""),
            ]),
            state(&[("user_id7", ""), ("csrf", "\"abc\""), ("flash", "[]")]),
            state(&[]),
        ];
        for other in changed {
            assert_ne!(fingerprint(&read), fingerprint(&other), "{other:?}");
        }
    }
}
