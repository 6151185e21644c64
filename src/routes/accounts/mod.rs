//! Accounts: sign up, email verification, sign in and out, forgotten and changed passwords.

pub mod api_keys;
pub mod password;
pub mod signin;
pub mod signup;
pub mod verify;

use chrono::Duration;
use diesel::PgConnection;

use crate::config::Settings;
use crate::db::tokens::{self, Purpose};
use crate::email::messages::{self, QueueError};

/// Verification links work for a day.
pub const VERIFY_TTL_HOURS: i64 = 24;
/// Password reset links work for an hour.
pub const RESET_TTL_HOURS: i64 = 1;

/// Issues a verification token and queues its email, in the caller's transaction.
pub fn queue_verification(
    conn: &mut PgConnection,
    settings: &Settings,
    user_id: i64,
    name: &str,
    email: &str,
) -> Result<(), QueueError> {
    let token = tokens::issue(
        conn,
        user_id,
        Purpose::VerifyEmail,
        Duration::hours(VERIFY_TTL_HOURS),
    )?;
    let link = settings.link(&format!("/verify-email?token={token}"));
    messages::verify_email(conn, email, name, &link)
}
