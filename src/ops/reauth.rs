//! The one password re-check, asked before granting or raising a production role, by pages and
//! the API alike. Guesses go through the sign-in throttle (the same failures count, the same
//! lock applies) and every failed re-entry is audited (DESIGN §7).

use crate::audit::Action;
use chrono::Duration;
use secrecy::SecretString;
use serde_json::json;

use super::Ctx;
use crate::audit::{self, Denied};
use crate::auth::password;
use crate::auth::session::TypedSession;
use crate::config::Settings;
use crate::db::users::User;
use crate::db::{self, PgPool};
use crate::error::AppError;

/// The answer to a password re-check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reauth {
    /// The session re-entered the password within the last `SUDO_MINUTES`.
    Fresh,
    /// The password was typed now, and is right.
    Confirmed,
    /// No password was given.
    Missing,
    /// The password is wrong (recorded as a failure).
    Wrong,
    /// Too many failures: the account is locked for now; the password was not checked.
    Locked,
}

impl Reauth {
    pub fn is_ok(self) -> bool {
        matches!(self, Reauth::Fresh | Reauth::Confirmed)
    }

    /// What to tell the person, for an answer that is not ok.
    pub fn problem(self) -> &'static str {
        match self {
            Reauth::Fresh | Reauth::Confirmed => "",
            Reauth::Missing => "Re-enter your password to grant or raise a production role.",
            Reauth::Wrong => "That password is not correct.",
            Reauth::Locked => "Too many wrong passwords. Try again later.",
        }
    }
}

/// Checks `typed` against `user`'s password, unless `session` re-entered it recently. A right
/// password opens the session's re-entry window again.
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn confirm_password(
    pool: &PgPool,
    settings: &Settings,
    ctx: &Ctx,
    user: &User,
    typed: Option<&str>,
    session: Option<&TypedSession>,
) -> Result<Reauth, AppError> {
    if session.is_some_and(|s| s.sudo_fresh(settings.sudo_minutes)) {
        return Ok(Reauth::Fresh);
    }
    let typed = typed.unwrap_or_default();
    if typed.is_empty() {
        return Ok(Reauth::Missing);
    }
    let (email, ip) = (user.email.clone(), ctx.meta.ip.clone().unwrap_or_default());
    let (lookup_email, lookup_ip) = (email.clone(), ip.clone());
    let locked = db::run(pool, move |c| {
        db::throttle::locked_until(c, &lookup_email, &lookup_ip)
    })
    .await?;
    if locked.is_some() {
        return Ok(Reauth::Locked);
    }
    let right = password::verify(
        Some(user.password_hash.clone()),
        SecretString::from(typed.to_string()),
    )
    .await?;
    if right {
        if let Some(session) = session {
            session.mark_sudo()?;
        }
        return Ok(Reauth::Confirmed);
    }
    let (ctx, max, window) = (
        ctx.clone(),
        settings.signin_max_failures,
        Duration::minutes(settings.signin_lock_minutes),
    );
    db::run(pool, move |c| {
        db::throttle::record_failure(c, &email, &ip, max, window)?;
        let denied = Denied {
            organization: None,
            action: Action::UserPasswordReentryFailed,
            target: Some(email.clone()),
            details: json!({ "path": ctx.path }),
        };
        audit::record_denied(c, &ctx.actor, &ctx.meta, &denied)
    })
    .await?;
    Ok(Reauth::Wrong)
}
