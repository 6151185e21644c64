//! Two-factor sign-in (DESIGN §14): enrolment, the second step of sign-in, recovery codes and
//! turning it off. Every code typed goes through the sign-in throttle (`reauth::throttled`), a
//! TOTP step is accepted once, a recovery code once, and every failure is audited.

use crate::audit::Action;
use chrono::{DateTime, Utc};
use diesel::{Connection, PgConnection, QueryResult};
use secrecy::SecretString;
use serde_json::json;

use super::Ctx;
use super::accounts::{as_user, record_own};
use super::reauth::{self, Checked};
use crate::audit::{self, Denied};
use crate::auth::two_factor as codes;
use crate::config::Settings;
use crate::crypto::DataKey;
use crate::db::users::User;
use crate::db::{self, PgPool};
use crate::domain::ids::UserId;
use crate::error::AppError;

/// What the secret of an account is sealed for.
fn context(user_id: UserId) -> Vec<u8> {
    format!("totp:{user_id}").into_bytes()
}

/// Why a code was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeProblem {
    /// Not six digits (nor a recovery code, where one is allowed): nothing was checked.
    Malformed,
    /// Wrong, or a code (or recovery code) already used; counted against the throttle.
    Wrong,
    /// Too many failures: locked until then; nothing was checked.
    Locked(DateTime<Utc>),
    /// The password typed with it is wrong (turning two-factor off).
    WrongPassword,
}

impl CodeProblem {
    /// What to tell the person.
    pub fn message(self, recovery_allowed: bool) -> String {
        match self {
            CodeProblem::Malformed if recovery_allowed => {
                "Enter the 6-digit code from your authenticator app, or one of your recovery codes.".into()
            }
            CodeProblem::Malformed => "Enter the 6-digit code from your authenticator app.".into(),
            CodeProblem::Wrong => {
                "That code is not correct, or was already used. Codes change every 30 seconds; try the current one.".into()
            }
            CodeProblem::Locked(until) => {
                let minutes = ((until - Utc::now()).num_seconds() + 59) / 60;
                format!(
                    "Too many failed attempts. Try again in {} minute{}.",
                    minutes.max(1),
                    if minutes == 1 { "" } else { "s" }
                )
            }
            CodeProblem::WrongPassword => "That password is not correct.".into(),
        }
    }
}

/// How a second step was passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Passed {
    Code,
    /// A recovery code, with this many left.
    RecoveryCode {
        left: i64,
    },
}

/// A new secret waiting for its first code; what the setup page shows. Replaces a waiting one;
/// false when two-factor is already on.
pub async fn start(pool: &PgPool, key: &DataKey, user: &User) -> Result<bool, AppError> {
    let secret = codes::new_secret();
    let (sealed, id) = (key.seal(&secret, &context(user.id)), user.id);
    db::run(pool, move |c| db::two_factor::set_pending(c, id, &sealed)).await
}

/// The secret waiting for its first code, if there is one.
pub async fn pending(
    pool: &PgPool,
    key: &DataKey,
    user: &User,
) -> Result<Option<Vec<u8>>, AppError> {
    let (key, id) = (key.clone(), user.id);
    db::run(pool, move |c| pending_on(c, &key, id)).await
}

/// The secret being set up, not yet confirmed, read on a connection already taken.
pub fn pending_on(
    c: &mut db::PgConn,
    key: &DataKey,
    user_id: UserId,
) -> db::QueryResult<Option<Vec<u8>>> {
    Ok(match db::two_factor::secret(c, user_id)? {
        Some((sealed, false)) => key.open(&sealed, &context(user_id)),
        _ => None,
    })
}

/// What a typed code matched, checked and used in one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Matched {
    Step,
    Recovery,
    Nothing,
}

/// The one code check: throttled, then the code is matched against the account's secret (the
/// waiting one when `enrolling`, only the one in use otherwise) and used, or a recovery code
/// when `recovery` allows it. `on_match` runs in the same transaction as the use of the code.
/// `typed` comes with whether a recovery code is allowed and whether this is enrolment.
async fn check_code<F>(
    pool: &PgPool,
    settings: &Settings,
    key: &DataKey,
    ctx: &Ctx,
    user: &User,
    (typed, recovery, enrolling): (&str, bool, bool),
    on_match: F,
) -> Result<Result<Passed, CodeProblem>, AppError>
where
    F: FnOnce(&mut PgConnection, Matched) -> QueryResult<()> + Send + 'static,
{
    let is_recovery = recovery && codes::looks_like_recovery_code(typed);
    if !is_recovery && codes::normalize_code(typed).is_none() {
        return Ok(Err(CodeProblem::Malformed));
    }
    let (id, key, typed) = (user.id, key.clone(), typed.to_string());
    let ip = ctx.meta.ip.clone().unwrap_or_default();
    let matched = std::sync::Arc::new(std::sync::Mutex::new(Matched::Nothing));
    let seen = matched.clone();
    let on_pool = pool.clone();
    let checked = reauth::throttled(pool, settings, &user.email, &ip, move || async move {
        let found = db::run(&on_pool, move |c| {
            c.transaction(|c| -> QueryResult<Matched> {
                let found = match_code(c, &key, id, &typed, (is_recovery, enrolling))?;
                if found != Matched::Nothing {
                    on_match(c, found)?;
                }
                Ok(found)
            })
        })
        .await?;
        if let Ok(mut m) = seen.lock() {
            *m = found;
        }
        Ok(found != Matched::Nothing)
    })
    .await?;
    match checked {
        Checked::Locked(until) => Ok(Err(CodeProblem::Locked(until))),
        Checked::Wrong => {
            failed(pool, ctx, user).await?;
            Ok(Err(CodeProblem::Wrong))
        }
        Checked::Right => {
            let found = matched.lock().map(|m| *m).unwrap_or(Matched::Nothing);
            if found == Matched::Recovery {
                let left =
                    db::run(pool, move |c| db::two_factor::recovery_codes_left(c, id)).await?;
                Ok(Ok(Passed::RecoveryCode { left }))
            } else {
                Ok(Ok(Passed::Code))
            }
        }
    }
}

/// Matches `typed` and uses what it matched: a TOTP step (once, and the enrolment's first code
/// turns two-factor on) or a recovery code. A waiting secret is matched only for enrolment,
/// and the one in use never for it: no other path (a second step, new recovery codes, turning
/// it off) can turn two-factor on, which takes the password (`routes::accounts::two_factor`).
fn match_code(
    c: &mut PgConnection,
    key: &DataKey,
    id: UserId,
    typed: &str,
    (is_recovery, enrolling): (bool, bool),
) -> QueryResult<Matched> {
    let Some((sealed, enabled)) = db::two_factor::secret(c, id)? else {
        return Ok(Matched::Nothing);
    };
    if enabled == enrolling {
        return Ok(Matched::Nothing);
    }
    if is_recovery {
        let hash = codes::recovery_code_hash(typed);
        let used = enabled && db::two_factor::use_recovery_code(c, id, &hash)?;
        return Ok(if used {
            Matched::Recovery
        } else {
            Matched::Nothing
        });
    }
    let Some(secret) = key.open(&sealed, &context(id)) else {
        tracing::error!(user_id = %id, "a two-factor secret does not open with the data key");
        return Ok(Matched::Nothing);
    };
    let now = u64::try_from(Utc::now().timestamp()).unwrap_or_default();
    let Some(step) = codes::matching_step(&secret, typed, now) else {
        return Ok(Matched::Nothing);
    };
    let step = i64::try_from(step).unwrap_or(i64::MAX);
    let accepted = if enabled {
        db::two_factor::accept_step(c, id, step)?
    } else {
        db::two_factor::enable(c, id, step)?
    };
    Ok(if accepted {
        Matched::Step
    } else {
        Matched::Nothing
    })
}

/// Records a wrong code, in the account's security log.
async fn failed(pool: &PgPool, ctx: &Ctx, user: &User) -> Result<(), AppError> {
    let (ctx, actor, email) = (ctx.clone(), as_user(user), user.email.clone());
    db::finish(pool, move |c| {
        let denied = Denied {
            organization: None,
            action: Action::UserTwoFactorFailed,
            target: Some(email),
            details: json!({ "path": ctx.path }),
        };
        audit::record_denied(c, &actor, &ctx.meta, &denied)
    })
    .await
}

/// New recovery codes for `user`, stored hashed, with `action` recorded; the codes in clear.
fn new_codes(
    c: &mut PgConnection,
    ctx: &Ctx,
    user: &User,
    action: Action,
    codes_shown: &[String],
) -> QueryResult<()> {
    let hashes: Vec<Vec<u8>> = codes_shown
        .iter()
        .map(|code| codes::recovery_code_hash(code))
        .collect();
    db::two_factor::replace_recovery_codes(c, user.id, &hashes)?;
    record_own(
        c,
        ctx,
        user,
        action,
        json!({ "recovery_codes": hashes.len() }),
    )
}

/// Why recovery codes are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewCodes {
    /// The first code of enrolment: two-factor is turned on with them.
    Enrolment,
    /// A current code: they replace the old ones.
    Replacement,
}

/// Ten recovery codes, returned to be shown once, after a code: the first code of enrolment
/// (turning two-factor on) or a current one (replacing the old codes).
pub async fn make_codes(
    pool: &PgPool,
    settings: &Settings,
    key: &DataKey,
    ctx: &Ctx,
    user: &User,
    typed: &str,
    why: NewCodes,
) -> Result<Result<Vec<String>, CodeProblem>, AppError> {
    let shown = codes::new_recovery_codes();
    let action = match why {
        NewCodes::Enrolment => Action::UserTwoFactorEnabled,
        NewCodes::Replacement => Action::UserRecoveryCodesRegenerated,
    };
    let (for_tx, ctx_tx, user_tx) = (shown.clone(), ctx.clone(), user.clone());
    let outcome = check_code(
        pool,
        settings,
        key,
        ctx,
        user,
        (typed, false, why == NewCodes::Enrolment),
        move |c, _| new_codes(c, &ctx_tx, &user_tx, action, &for_tx),
    )
    .await?;
    Ok(outcome.map(|_| shown))
}

/// The second step of sign-in: a code or a recovery code (a recovery code used is recorded).
pub async fn second_step(
    pool: &PgPool,
    settings: &Settings,
    key: &DataKey,
    ctx: &Ctx,
    user: &User,
    typed: &str,
) -> Result<Result<Passed, CodeProblem>, AppError> {
    let (ctx_tx, user_tx) = (ctx.clone(), user.clone());
    check_code(
        pool,
        settings,
        key,
        ctx,
        user,
        (typed, true, false),
        move |c, matched| {
            if matched == Matched::Recovery {
                record_own(
                    c,
                    &ctx_tx,
                    &user_tx,
                    Action::UserRecoveryCodeUsed,
                    json!({}),
                )?;
            }
            Ok(())
        },
    )
    .await
}

/// Turns two-factor off: the password (throttled, like every password check) and a code or
/// recovery code are both needed.
pub async fn disable(
    pool: &PgPool,
    settings: &Settings,
    key: &DataKey,
    ctx: &Ctx,
    user: &User,
    password: &str,
    typed: &str,
) -> Result<Result<(), CodeProblem>, AppError> {
    let ip = ctx.meta.ip.clone().unwrap_or_default();
    let hash = Some(user.password_hash.clone());
    let typed_password = SecretString::from(password.to_string());
    match reauth::check_password(pool, settings, &user.email, &ip, hash, typed_password).await? {
        Checked::Locked(until) => return Ok(Err(CodeProblem::Locked(until))),
        Checked::Wrong => {
            reauth::reentry_failed(pool, ctx, &user.email).await?;
            return Ok(Err(CodeProblem::WrongPassword));
        }
        Checked::Right => {}
    }
    let (ctx_tx, user_tx) = (ctx.clone(), user.clone());
    let outcome = check_code(
        pool,
        settings,
        key,
        ctx,
        user,
        (typed, true, false),
        move |c, _| {
            db::two_factor::disable(c, user_tx.id)?;
            record_own(
                c,
                &ctx_tx,
                &user_tx,
                Action::UserTwoFactorDisabled,
                json!({}),
            )
        },
    )
    .await?;
    Ok(outcome.map(|_| ()))
}
