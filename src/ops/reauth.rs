//! The one password re-check, asked before granting or raising a production role, by pages and
//! the API alike. Guesses go through the sign-in throttle (the same failures count, the same
//! lock applies) and every failed re-entry is audited (DESIGN §7).

use crate::audit::Action;
use chrono::{DateTime, Duration, Utc};
use secrecy::SecretString;
use serde_json::json;

use super::Ctx;
use crate::audit::{self, Denied};
use crate::auth::password;
use crate::auth::session::TypedSession;
use crate::config::Settings;
use crate::db::throttle::Claim;
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
    let ip = ctx.meta.ip.clone().unwrap_or_default();
    let hash = Some(user.password_hash.clone());
    let typed = SecretString::from(typed.to_string());
    match check_password(pool, settings, &user.email, &ip, hash, typed).await? {
        Checked::Locked(_) => return Ok(Reauth::Locked),
        Checked::Right => {
            if let Some(session) = session {
                session.mark_sudo()?;
            }
            return Ok(Reauth::Confirmed);
        }
        Checked::Wrong => {}
    }
    reentry_failed(pool, ctx, &user.email).await?;
    Ok(Reauth::Wrong)
}

/// Records a wrong re-entered password of the signed-in `email`.
pub async fn reentry_failed(pool: &PgPool, ctx: &Ctx, email: &str) -> Result<(), AppError> {
    let (ctx, email) = (ctx.clone(), email.to_string());
    db::finish(pool, move |c| {
        let denied = Denied {
            organization: None,
            action: Action::UserPasswordReentryFailed,
            target: Some(email.clone()),
            details: json!({ "path": ctx.path }),
        };
        audit::record_denied(c, &ctx.actor, &ctx.meta, &denied)
    })
    .await
}

/// What a throttled password check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    Right,
    /// Wrong (or no such account): the attempt counts as a failure.
    Wrong,
    /// Too many attempts for this email or IP: the password was not checked.
    Locked(DateTime<Utc>),
}

/// The one password check of Gatehouse (sign-in and every re-entry), through [`throttled`].
pub async fn check_password(
    pool: &PgPool,
    settings: &Settings,
    email: &str,
    ip: &str,
    stored_hash: Option<String>,
    typed: SecretString,
) -> Result<Checked, AppError> {
    // An unknown account is checked against a dummy hash: it costs the same time.
    throttled(pool, settings, email, ip, || {
        password::verify(stored_hash, typed)
    })
    .await
}

/// Every guessable check (passwords, two-factor codes) goes through here: the attempt is claimed
/// against the sign-in throttle before `check` runs, so parallel guesses cannot outrun the limit;
/// a right answer releases its claim, a wrong one stays counted and locks at the limit.
///
/// The claim, the check and its outcome run as one task of their own, to the end even if the
/// client leaves: a right answer's claim must not stay counted because the browser went away
/// while argon2 ran, nor a code be used without its claim released.
pub async fn throttled<F, Fut>(
    pool: &PgPool,
    settings: &Settings,
    email: &str,
    ip: &str,
    check: F,
) -> Result<Checked, AppError>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<bool, AppError>> + Send + 'static,
{
    let (max, window) = (
        settings.signin_max_failures,
        Duration::minutes(settings.signin_lock_minutes),
    );
    use tracing::Instrument as _;
    let (pool, email, ip) = (pool.clone(), email.to_string(), ip.to_string());
    let task = async move {
        let (claim_email, claim_ip) = (email.clone(), ip.clone());
        let claim = db::run(&pool, move |c| {
            db::throttle::claim(c, &claim_email, &claim_ip, max, window)
        })
        .await?;
        let attempt = match claim {
            Claim::Locked(until) => {
                metrics::counter!(crate::metrics::THROTTLE_LOCKS).increment(1);
                return Ok(Checked::Locked(until));
            }
            Claim::Allowed(attempt) => attempt,
        };
        let right = check().await?;
        db::finish(&pool, move |c| {
            if right {
                db::throttle::release(c, attempt)
            } else {
                db::throttle::record_failure(c, &email, &ip, max, window)
            }
        })
        .await?;
        Ok(if right {
            Checked::Right
        } else {
            Checked::Wrong
        })
    };
    tokio::spawn(task.instrument(tracing::Span::current()))
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("a throttled check failed: {e}")))?
}
