//! The stored side of two-factor sign-in: the sealed TOTP secret, the last time step accepted,
//! and the hashed recovery codes.

use crate::domain::ids::UserId;
use chrono::Utc;
use diesel::prelude::*;

use super::schema::{recovery_codes, users};

/// A sealed secret and when two-factor was turned on with it.
type Stored = (Option<Vec<u8>>, Option<chrono::DateTime<Utc>>);

/// The account's sealed secret and whether two-factor is on.
pub fn secret(conn: &mut PgConnection, user_id: UserId) -> QueryResult<Option<(Vec<u8>, bool)>> {
    let row: Option<Stored> = users::table
        .find(user_id)
        .select((users::totp_secret, users::totp_enabled_at))
        .first(conn)
        .optional()?;
    Ok(row.and_then(|(secret, on)| secret.map(|s| (s, on.is_some()))))
}

/// Keeps a new sealed secret waiting for its first code; false when two-factor is already on.
pub fn set_pending(conn: &mut PgConnection, user_id: UserId, sealed: &[u8]) -> QueryResult<bool> {
    let changed = diesel::update(
        users::table
            .find(user_id)
            .filter(users::totp_enabled_at.is_null()),
    )
    .set((
        users::totp_secret.eq(sealed),
        users::totp_last_step.eq(None::<i64>),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Turns two-factor on with the waiting secret, whose code for `step` was just typed; false
/// when it was already on (a second submission) or there is no waiting secret.
pub fn enable(conn: &mut PgConnection, user_id: UserId, step: i64) -> QueryResult<bool> {
    let changed = diesel::update(
        users::table
            .find(user_id)
            .filter(users::totp_enabled_at.is_null())
            .filter(users::totp_secret.is_not_null()),
    )
    .set((
        users::totp_enabled_at.eq(Utc::now()),
        users::totp_last_step.eq(step),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Accepts the code of time step `step`, once: false when that step (or a later one) was
/// already used. One statement, so two requests with the same code cannot both pass.
pub fn accept_step(conn: &mut PgConnection, user_id: UserId, step: i64) -> QueryResult<bool> {
    let changed = diesel::update(
        users::table
            .find(user_id)
            .filter(users::totp_enabled_at.is_not_null())
            .filter(
                users::totp_last_step
                    .is_null()
                    .or(users::totp_last_step.lt(step)),
            ),
    )
    .set(users::totp_last_step.eq(step))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Turns two-factor off: the secret and the recovery codes are deleted.
pub fn disable(conn: &mut PgConnection, user_id: UserId) -> QueryResult<()> {
    diesel::update(users::table.find(user_id))
        .set((
            users::totp_secret.eq(None::<Vec<u8>>),
            users::totp_enabled_at.eq(None::<chrono::DateTime<Utc>>),
            users::totp_last_step.eq(None::<i64>),
        ))
        .execute(conn)?;
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
        .execute(conn)?;
    Ok(())
}

/// Replaces the account's recovery codes with these (hashed) ones.
pub fn replace_recovery_codes(
    conn: &mut PgConnection,
    user_id: UserId,
    hashes: &[Vec<u8>],
) -> QueryResult<()> {
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
        .execute(conn)?;
    let rows: Vec<_> = hashes
        .iter()
        .map(|h| {
            (
                recovery_codes::user_id.eq(user_id),
                recovery_codes::code_hash.eq(h),
            )
        })
        .collect();
    diesel::insert_into(recovery_codes::table)
        .values(&rows)
        .execute(conn)?;
    Ok(())
}

/// Uses the recovery code with this hash; false when it is not one of the account's unused
/// codes. One statement: a code cannot be used twice, even by two requests at once.
pub fn use_recovery_code(
    conn: &mut PgConnection,
    user_id: UserId,
    hash: &[u8],
) -> QueryResult<bool> {
    let changed = diesel::update(
        recovery_codes::table
            .filter(recovery_codes::user_id.eq(user_id))
            .filter(recovery_codes::code_hash.eq(hash))
            .filter(recovery_codes::used_at.is_null()),
    )
    .set(recovery_codes::used_at.eq(Utc::now()))
    .execute(conn)?;
    Ok(changed >= 1)
}

/// How many unused recovery codes the account has.
pub fn recovery_codes_left(conn: &mut PgConnection, user_id: UserId) -> QueryResult<i64> {
    recovery_codes::table
        .filter(recovery_codes::user_id.eq(user_id))
        .filter(recovery_codes::used_at.is_null())
        .count()
        .get_result(conn)
}
