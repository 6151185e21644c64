//! Single-use emailed tokens (email verification, password reset). The token itself only
//! travels in the email; the database keeps its SHA-256.

use crate::domain::ids::UserId;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::schema::account_tokens;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    ResetPassword,
    /// Confirms a new address (`users.pending_email`).
    ChangeEmail,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify_email",
            Purpose::ResetPassword => "reset_password",
            Purpose::ChangeEmail => "change_email",
        }
    }
}

/// A new API key: `prefix` and 32 random bytes (base64url), with the part of it that is kept
/// and shown to tell keys apart (the prefix and four characters).
pub fn new_key(prefix: &str) -> (String, String) {
    let key = format!("{prefix}{}", new_token());
    let shown = key.chars().take(prefix.len() + 4).collect();
    (key, shown)
}

/// 32 random bytes, base64url without padding.
pub fn new_token() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// `N` random bytes from the operating system's generator (through `rand`'s thread RNG).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

pub fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Creates a token for the user and returns its clear text (for the email link).
pub fn issue(
    conn: &mut PgConnection,
    user_id: UserId,
    purpose: Purpose,
    ttl: Duration,
) -> QueryResult<String> {
    let token = new_token();
    diesel::insert_into(account_tokens::table)
        .values((
            account_tokens::user_id.eq(user_id),
            account_tokens::purpose.eq(purpose.as_str()),
            account_tokens::token_hash.eq(hash(&token)),
            account_tokens::expires_at.eq(Utc::now() + ttl),
        ))
        .execute(conn)?;
    Ok(token)
}

#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    Valid { token_id: i64, user_id: UserId },
    Expired,
    Used,
    Unknown,
}

/// Finds a token, locking its row so that only one request can use it. The account's row is
/// locked first: using a token changes the account and voids its other tokens (a reset voids
/// an email change's link, an email change the reset links), so every use takes the account,
/// then tokens, and two uses cannot deadlock.
pub fn find_for_use(conn: &mut PgConnection, token: &str, purpose: Purpose) -> QueryResult<Lookup> {
    type Row = (i64, UserId, DateTime<Utc>, Option<DateTime<Utc>>);
    let owner: Option<UserId> = account_tokens::table
        .filter(account_tokens::token_hash.eq(hash(token)))
        .filter(account_tokens::purpose.eq(purpose.as_str()))
        .select(account_tokens::user_id)
        .first(conn)
        .optional()?;
    if let Some(owner) = owner {
        super::schema::users::table
            .find(owner)
            .select(super::schema::users::id)
            .for_update()
            .first::<UserId>(conn)?;
    }
    let row: Option<Row> = account_tokens::table
        .filter(account_tokens::token_hash.eq(hash(token)))
        .filter(account_tokens::purpose.eq(purpose.as_str()))
        .select((
            account_tokens::id,
            account_tokens::user_id,
            account_tokens::expires_at,
            account_tokens::used_at,
        ))
        .for_update()
        .first(conn)
        .optional()?;
    Ok(match row {
        None => Lookup::Unknown,
        Some((_, _, _, Some(_))) => Lookup::Used,
        Some((_, _, expires, None)) if expires <= Utc::now() => Lookup::Expired,
        Some((token_id, user_id, _, None)) => Lookup::Valid { token_id, user_id },
    })
}

/// Uses a token, and with it every other outstanding token of the same user and purpose: once
/// one link has been used, an older one cannot be used after it.
pub fn mark_used(conn: &mut PgConnection, token_id: i64) -> QueryResult<()> {
    let (user_id, purpose): (UserId, String) = account_tokens::table
        .find(token_id)
        .select((account_tokens::user_id, account_tokens::purpose))
        .first(conn)?;
    void(conn, user_id, &purpose)
}

/// Voids every outstanding token of the user for this purpose (before a new one is issued).
pub fn void_outstanding(
    conn: &mut PgConnection,
    user_id: UserId,
    purpose: Purpose,
) -> QueryResult<()> {
    void(conn, user_id, purpose.as_str())
}

fn void(conn: &mut PgConnection, user_id: UserId, purpose: &str) -> QueryResult<()> {
    diesel::update(
        account_tokens::table
            .filter(account_tokens::user_id.eq(user_id))
            .filter(account_tokens::purpose.eq(purpose))
            .filter(account_tokens::used_at.is_null()),
    )
    .set(account_tokens::used_at.eq(Utc::now()))
    .execute(conn)?;
    Ok(())
}
