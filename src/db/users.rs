//! Users: accounts with a name, a lower-cased unique email and an argon2id password hash.

use crate::domain::ids::UserId;
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::users;

/// An account.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: UserId,
    pub name: String,
    pub email: String,
    pub password_hash: String,
    pub email_verified_at: Option<DateTime<Utc>>,
    pub is_operator: bool,
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// When two-factor sign-in was turned on (None: it is off).
    pub totp_enabled_at: Option<DateTime<Utc>>,
    /// A new address waiting for its confirmation link.
    pub pending_email: Option<String>,
    /// How many passkeys the account has.
    pub passkey_count: i32,
}

impl User {
    pub fn is_verified(&self) -> bool {
        self.email_verified_at.is_some()
    }

    /// Whether signing in takes a second step: an authenticator app or a passkey.
    pub fn has_two_factor(&self) -> bool {
        self.has_totp() || self.passkey_count > 0
    }

    /// Whether the account has an authenticator app's codes (TOTP) on.
    pub fn has_totp(&self) -> bool {
        self.totp_enabled_at.is_some()
    }
}

/// `users` has two-factor (an app's codes or a passkey), as SQL: what `User::has_two_factor`
/// says, for queries that read many users.
pub type HasTwoFactor = diesel::dsl::Or<
    diesel::dsl::IsNotNull<users::totp_enabled_at>,
    diesel::dsl::Gt<users::passkey_count, i32>,
>;

pub fn has_two_factor() -> HasTwoFactor {
    users::totp_enabled_at
        .is_not_null()
        .or(users::passkey_count.gt(0))
}

/// The same, in SQL text, for the raw queries (`u` being the users table); a macro so that
/// statements built with `concat!` can use it too. The partial index `users_two_factor_idx`
/// carries the same predicate.
macro_rules! has_two_factor_sql {
    () => {
        "(u.totp_enabled_at IS NOT NULL OR u.passkey_count > 0)"
    };
}
pub(crate) use has_two_factor_sql;
pub const HAS_TWO_FACTOR_SQL: &str = has_two_factor_sql!();

/// The row of the account `$id` (an SQL expression) as one record, `UserRecordSql`: read by a
/// subquery, which always finds it by its primary key, where a join leaves the planner free to
/// merge the whole users index with a table it believes to be small (the sessions).
macro_rules! user_record_sql {
    ($id:literal) => {
        concat!(
            "(SELECT ROW(u.id, u.name, u.email, u.password_hash, u.email_verified_at,
                         u.is_operator, u.last_sign_in_at, u.created_at, u.totp_enabled_at,
                         u.pending_email, u.passkey_count)
              FROM users u WHERE u.id = ",
            $id,
            ")"
        )
    };
}
pub(crate) use user_record_sql;

/// The SQL type of an account's record (`user_record_sql`), in `User`'s order.
pub type UserRecordSql = diesel::sql_types::Nullable<
    diesel::pg::sql_types::Record<(
        diesel::sql_types::BigInt,
        diesel::sql_types::Text,
        diesel::sql_types::Text,
        diesel::sql_types::Text,
        diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
        diesel::sql_types::Bool,
        diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
        diesel::sql_types::Timestamptz,
        diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
        diesel::sql_types::Nullable<diesel::sql_types::Text>,
        diesel::sql_types::Integer,
    )>,
>;

/// An account's record as read (`UserRecordSql`).
pub type UserRecord = (
    UserId,
    String,
    String,
    String,
    Option<DateTime<Utc>>,
    bool,
    Option<DateTime<Utc>>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<String>,
    i32,
);

impl From<UserRecord> for User {
    /// The fields in `user_record_sql`'s order.
    fn from(record: UserRecord) -> User {
        User {
            id: record.0,
            name: record.1,
            email: record.2,
            password_hash: record.3,
            email_verified_at: record.4,
            is_operator: record.5,
            last_sign_in_at: record.6,
            created_at: record.7,
            totp_enabled_at: record.8,
            pending_email: record.9,
            passkey_count: record.10,
        }
    }
}

pub fn find(conn: &mut PgConnection, id: UserId) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_email(conn: &mut PgConnection, email: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::email.eq(email.to_lowercase()))
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// Inserts a user; `None` when the email is already taken.
pub fn create(
    conn: &mut PgConnection,
    name: &str,
    email: &str,
    password_hash: &str,
    verified: bool,
) -> QueryResult<Option<User>> {
    diesel::insert_into(users::table)
        .values((
            users::name.eq(name),
            users::email.eq(email.to_lowercase()),
            users::password_hash.eq(password_hash),
            users::email_verified_at.eq(verified.then(Utc::now)),
        ))
        .on_conflict(users::email)
        .do_nothing()
        .returning(User::as_returning())
        .get_result(conn)
        .optional()
}

pub fn mark_verified(conn: &mut PgConnection, id: UserId) -> QueryResult<()> {
    diesel::update(
        users::table
            .find(id)
            .filter(users::email_verified_at.is_null()),
    )
    .set(users::email_verified_at.eq(Utc::now()))
    .execute(conn)?;
    Ok(())
}

pub fn set_password_hash(conn: &mut PgConnection, id: UserId, hash: &str) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set(users::password_hash.eq(hash))
        .execute(conn)?;
    Ok(())
}

pub fn touch_sign_in(conn: &mut PgConnection, id: UserId) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set(users::last_sign_in_at.eq(Utc::now()))
        .execute(conn)?;
    Ok(())
}

/// Grants or revokes platform operator rights; false when no account has this email.
/// What `set_operator` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorChange {
    Done,
    NoAccount,
    /// Granting needs a verified address: anyone can sign up with a colleague's address, and an
    /// operator grant by email must not go to whoever did.
    Unverified,
}

/// Grants (or revokes) platform operator to the account with this email; a grant only to a
/// verified account.
pub fn set_operator(
    conn: &mut PgConnection,
    email: &str,
    operator: bool,
) -> QueryResult<OperatorChange> {
    let email = email.trim().to_lowercase();
    let mut update = diesel::update(users::table)
        .filter(users::email.eq(&email))
        .into_boxed();
    if operator {
        update = update.filter(users::email_verified_at.is_not_null());
    }
    if update.set(users::is_operator.eq(operator)).execute(conn)? == 1 {
        return Ok(OperatorChange::Done);
    }
    let exists = diesel::select(diesel::dsl::exists(
        users::table.filter(users::email.eq(&email)),
    ))
    .get_result::<bool>(conn)?;
    Ok(if exists {
        OperatorChange::Unverified
    } else {
        OperatorChange::NoAccount
    })
}

pub fn set_name(conn: &mut PgConnection, id: UserId, name: &str) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set(users::name.eq(name))
        .execute(conn)?;
    Ok(())
}

pub fn set_pending_email(
    conn: &mut PgConnection,
    id: UserId,
    email: Option<&str>,
) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set(users::pending_email.eq(email))
        .execute(conn)?;
    Ok(())
}

/// Makes the waiting address the account's own (verified: its link was used); None when there
/// is none, or another account took it meanwhile (nothing changes then).
pub fn apply_pending_email(conn: &mut PgConnection, id: UserId) -> QueryResult<Option<String>> {
    let Some(Some(pending)) = users::table
        .find(id)
        .select(users::pending_email)
        .for_update()
        .first::<Option<String>>(conn)
        .optional()?
    else {
        return Ok(None);
    };
    if find_by_email(conn, &pending)?.is_some() {
        return Ok(None);
    }
    diesel::update(users::table.find(id))
        .set((
            users::email.eq(&pending),
            users::pending_email.eq(None::<String>),
            users::email_verified_at.eq(Utc::now()),
        ))
        .execute(conn)?;
    Ok(Some(pending))
}
