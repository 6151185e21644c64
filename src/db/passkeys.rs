//! Passkeys (WebAuthn credentials) of accounts, and the WebAuthn ceremonies in progress.

use crate::domain::ids::UserId;
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::{passkeys, users, webauthn_challenges};
use super::users::User;

/// A passkey as the account page lists it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = passkeys)]
pub struct Listed {
    pub id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

pub fn list(conn: &mut PgConnection, user_id: UserId) -> QueryResult<Vec<Listed>> {
    passkeys::table
        .filter(passkeys::user_id.eq(user_id))
        .order((passkeys::created_at, passkeys::id))
        .select(Listed::as_select())
        .load(conn)
}

/// The account's credentials as stored (id, webauthn-rs's JSON).
pub fn credentials(
    conn: &mut PgConnection,
    user_id: UserId,
) -> QueryResult<Vec<(i64, serde_json::Value)>> {
    passkeys::table
        .filter(passkeys::user_id.eq(user_id))
        .select((passkeys::id, passkeys::credential))
        .load(conn)
}

/// The account's WebAuthn user handle, made (random) the first time it is asked for.
pub fn handle(conn: &mut PgConnection, user_id: UserId) -> QueryResult<Vec<u8>> {
    let fresh = super::tokens::random_bytes::<16>().to_vec();
    diesel::update(
        users::table
            .find(user_id)
            .filter(users::webauthn_handle.is_null()),
    )
    .set(users::webauthn_handle.eq(&fresh))
    .execute(conn)?;
    users::table
        .find(user_id)
        .select(users::webauthn_handle.assume_not_null())
        .first(conn)
}

/// The account a user handle belongs to.
pub fn find_by_handle(conn: &mut PgConnection, handle: &[u8]) -> QueryResult<Option<User>> {
    users::table
        .filter(users::webauthn_handle.eq(handle))
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// Adds a passkey; false when that credential is registered already (to anyone).
pub fn add(
    conn: &mut PgConnection,
    user_id: UserId,
    name: &str,
    credential_id: &[u8],
    credential: &serde_json::Value,
) -> QueryResult<bool> {
    let added = diesel::insert_into(passkeys::table)
        .values((
            passkeys::user_id.eq(user_id),
            passkeys::name.eq(name),
            passkeys::credential_id.eq(credential_id),
            passkeys::credential.eq(credential),
        ))
        .on_conflict(passkeys::credential_id)
        .do_nothing()
        .execute(conn)?;
    if added == 1 {
        diesel::update(users::table.find(user_id))
            .set(users::passkey_count.eq(users::passkey_count + 1))
            .execute(conn)?;
    }
    Ok(added == 1)
}

/// Removes one of the account's passkeys; its name, or None when there is no such passkey.
pub fn remove(conn: &mut PgConnection, user_id: UserId, id: i64) -> QueryResult<Option<String>> {
    let name: Option<String> = diesel::delete(
        passkeys::table
            .filter(passkeys::id.eq(id))
            .filter(passkeys::user_id.eq(user_id)),
    )
    .returning(passkeys::name)
    .get_result(conn)
    .optional()?;
    if name.is_some() {
        diesel::update(users::table.find(user_id))
            .set(users::passkey_count.eq(users::passkey_count - 1))
            .execute(conn)?;
    }
    Ok(name)
}

/// Renames one of the account's passkeys; its old name, or None when there is no such passkey.
pub fn rename(
    conn: &mut PgConnection,
    user_id: UserId,
    id: i64,
    name: &str,
) -> QueryResult<Option<String>> {
    let old: Option<String> = passkeys::table
        .filter(passkeys::id.eq(id))
        .filter(passkeys::user_id.eq(user_id))
        .select(passkeys::name)
        .for_update()
        .first(conn)
        .optional()?;
    if old.is_some() {
        diesel::update(passkeys::table.find(id))
            .set(passkeys::name.eq(name))
            .execute(conn)?;
    }
    Ok(old)
}

/// Records a use of a passkey, with its credential as updated (the signature counter).
pub fn used(
    conn: &mut PgConnection,
    id: i64,
    credential: Option<&serde_json::Value>,
) -> QueryResult<()> {
    match credential {
        Some(credential) => diesel::update(passkeys::table.find(id))
            .set((
                passkeys::last_used_at.eq(Utc::now()),
                passkeys::credential.eq(credential),
            ))
            .execute(conn)?,
        None => diesel::update(passkeys::table.find(id))
            .set(passkeys::last_used_at.eq(Utc::now()))
            .execute(conn)?,
    };
    Ok(())
}

/// What a ceremony is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ceremony {
    /// Adding a passkey to a signed-in account.
    Register,
    /// The second step of a sign-in, for one account.
    Authenticate,
    /// Signing in with a passkey alone: the account is whoever the passkey names.
    Discover,
}

impl Ceremony {
    fn as_str(self) -> &'static str {
        match self {
            Ceremony::Register => "register",
            Ceremony::Authenticate => "authenticate",
            Ceremony::Discover => "discover",
        }
    }
}

/// Keeps a ceremony's state for five minutes; the token that finds it, for the session.
pub fn begin(
    conn: &mut PgConnection,
    user_id: Option<UserId>,
    ceremony: Ceremony,
    state: &serde_json::Value,
) -> QueryResult<String> {
    let token = super::tokens::new_token();
    diesel::insert_into(webauthn_challenges::table)
        .values((
            webauthn_challenges::token_hash.eq(super::tokens::hash(&token)),
            webauthn_challenges::user_id.eq(user_id),
            webauthn_challenges::purpose.eq(ceremony.as_str()),
            webauthn_challenges::state.eq(state),
            webauthn_challenges::expires_at.eq(Utc::now() + chrono::Duration::minutes(5)),
        ))
        .execute(conn)?;
    Ok(token)
}

/// Takes a ceremony's state, once: (for whom, state); None when it is unknown, used, expired,
/// or for something else.
pub fn take(
    conn: &mut PgConnection,
    token: &str,
    ceremony: Ceremony,
) -> QueryResult<Option<(Option<UserId>, serde_json::Value)>> {
    let found: Option<(Option<UserId>, serde_json::Value, DateTime<Utc>, String)> = diesel::delete(
        webauthn_challenges::table
            .filter(webauthn_challenges::token_hash.eq(super::tokens::hash(token))),
    )
    .returning((
        webauthn_challenges::user_id,
        webauthn_challenges::state,
        webauthn_challenges::expires_at,
        webauthn_challenges::purpose,
    ))
    .get_result(conn)
    .optional()?;
    Ok(found
        .filter(|(_, _, expires, purpose)| *expires > Utc::now() && purpose == ceremony.as_str())
        .map(|(user, state, _, _)| (user, state)))
}

/// Deletes ceremonies that were never finished.
pub fn purge(conn: &mut PgConnection) -> QueryResult<usize> {
    diesel::delete(
        webauthn_challenges::table.filter(webauthn_challenges::expires_at.lt(Utc::now())),
    )
    .execute(conn)
}
