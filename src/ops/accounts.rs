//! Accounts: sign-up, email verification, sign-in and sign-out records, password reset and
//! change. Each state change is one transaction with its audit event and emails; the outbox is
//! woken after commit.

use crate::audit::Action;
use crate::domain::ids::UserId;
use actix_web::web;
use chrono::{DateTime, Duration, Utc};
use diesel::{Connection, PgConnection, QueryResult};
use serde_json::json;

use secrecy::SecretString;

use super::Ctx;
use super::reauth::Checked;
use crate::audit::{self, Actor, Denied, Event};
use crate::config::Settings;
use crate::db::email_limits::Kind;
use crate::db::invitations::AcceptOutcome;
use crate::db::tokens::{self, Lookup, Purpose};
use crate::db::users::User;
use crate::db::{self, PgPool};
use crate::domain::{EmailAddress, PersonName};
use crate::email::messages::{self, QueueError};
use crate::email::worker::OutboxSignal;
use crate::error::AppError;

/// Records what a person did to their own account: the actor is that user, the target their
/// address.
pub(super) fn record_own(
    c: &mut PgConnection,
    ctx: &Ctx,
    user: &User,
    action: Action,
    details: serde_json::Value,
) -> QueryResult<()> {
    let actor = as_user(user);
    audit::record(
        c,
        Event::successful(&actor, &ctx.meta, action, &user.email, details),
    )
}

/// Drops a new address still waiting for its link, and voids the link: whoever asked for it
/// may have held the password that a reset or change just replaced.
fn cancel_email_change(c: &mut PgConnection, user_id: UserId) -> QueryResult<()> {
    db::users::set_pending_email(c, user_id, None)?;
    tokens::void_outstanding(c, user_id, Purpose::ChangeEmail)
}

/// Verification links work for a day.
pub const VERIFY_TTL_HOURS: i64 = 24;
/// Password reset links work for an hour.
pub const RESET_TTL_HOURS: i64 = 1;

pub(super) fn as_user(user: &User) -> Actor {
    Actor::User {
        id: user.id,
        email: user.email.clone(),
    }
}

/// Issues a verification token and queues its email, in the caller's transaction.
fn queue_verification(
    conn: &mut PgConnection,
    settings: &Settings,
    user: &User,
) -> Result<(), QueueError> {
    let token = tokens::issue(
        conn,
        user.id,
        Purpose::VerifyEmail,
        Duration::hours(VERIFY_TTL_HOURS),
    )?;
    let link = settings.link(&format!("/verify-email?token={token}"));
    messages::verify_email(conn, &user.email, &user.name, &link)
}

/// Creates an unverified account and emails its verification link. When the address already
/// has an account, its holder is emailed instead ("someone tried to sign up with your address"),
/// and the caller cannot tell the two apart (DESIGN §7). Either email counts against the limit
/// per address and IP; over it, nothing is sent.
#[tracing::instrument(skip_all)]
pub async fn sign_up(
    pool: &PgPool,
    settings: &web::Data<Settings>,
    outbox: &OutboxSignal,
    ctx: &Ctx,
    name: PersonName,
    email: EmailAddress,
    password_hash: String,
) -> Result<(), AppError> {
    let (settings, ctx) = (settings.clone(), ctx.clone());
    let queued = db::run(pool, move |c| {
        c.transaction(|c| -> Result<bool, AppError> {
            let Some(user) =
                db::users::create(c, name.as_str(), email.as_str(), &password_hash, false)?
            else {
                if !claim_email(c, &ctx, Kind::Notice, email.as_str())? {
                    return Ok(false);
                }
                let holder = db::users::find_by_email(c, email.as_str())?;
                if let Some(holder) = holder {
                    let links = (settings.link("/signin"), settings.link("/password/forgot"));
                    messages::signup_attempted(c, &holder.email, &holder.name, &links.0, &links.1)?;
                }
                return Ok(true);
            };
            let queued = claim_email(c, &ctx, Kind::Account, &user.email)?;
            if queued {
                queue_verification(c, &settings, &user)?;
            }
            let details = json!({ "after": { "name": user.name, "email": user.email } });
            record_own(c, &ctx, &user, Action::UserSignedUp, details)?;
            Ok(queued)
        })
    })
    .await?;
    if queued {
        outbox.wake();
    }
    Ok(())
}

/// One email a visitor asked for, counted against the limits per address and per IP.
fn claim_email(c: &mut PgConnection, ctx: &Ctx, kind: Kind, recipient: &str) -> QueryResult<bool> {
    let ip = ctx.meta.ip.as_deref().unwrap_or("unknown");
    db::email_limits::claim(c, kind, recipient, ip)
}

/// What opening a verification link did.
#[derive(Debug, PartialEq, Eq)]
pub enum Verification {
    Verified,
    /// The link is good, but only the account it is for, signed in, can use it.
    SignInFirst,
    /// The link is good, but for another account than the one signed in.
    OtherAccount,
    /// Used, expired or unknown.
    Link(Lookup),
}

/// Verifies the address of the account signed in as `signed_in` with its link. The link alone
/// is not enough: anyone can sign up with someone else's address, and a link scanner (or the
/// address's owner, unaware) opening the link would then verify the account for whoever made
/// it. Whoever signed up with the address and holds its mail can do both; its owner who did not
/// sign up resets the password instead, which verifies the address and ends every session.
#[tracing::instrument(skip_all)]
pub async fn verify_email(
    pool: &PgPool,
    ctx: &Ctx,
    token: String,
    signed_in: Option<UserId>,
) -> Result<Verification, AppError> {
    let ctx = ctx.clone();
    db::run(pool, move |c| {
        c.transaction(|c| -> Result<Verification, diesel::result::Error> {
            let lookup = tokens::find_for_use(c, &token, Purpose::VerifyEmail)?;
            let Lookup::Valid { token_id, user_id } = lookup else {
                return Ok(Verification::Link(lookup));
            };
            match signed_in {
                None => return Ok(Verification::SignInFirst),
                Some(id) if id != user_id => return Ok(Verification::OtherAccount),
                Some(_) => {}
            }
            tokens::mark_used(c, token_id)?;
            db::users::mark_verified(c, user_id)?;
            if let Some(user) = db::users::find(c, user_id)? {
                record_own(c, &ctx, &user, Action::UserEmailVerified, json!({}))?;
            }
            Ok(Verification::Verified)
        })
    })
    .await
}

/// Sends a new verification link; false when the address had its share of emails for now.
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn resend_verification(
    pool: &PgPool,
    settings: &web::Data<Settings>,
    outbox: &OutboxSignal,
    ctx: &Ctx,
    user: User,
) -> Result<bool, AppError> {
    let (settings, ctx) = (settings.clone(), ctx.clone());
    let sent = db::run(pool, move |c| {
        c.transaction(|c| -> Result<bool, AppError> {
            if !claim_email(c, &ctx, Kind::Account, &user.email)? {
                return Ok(false);
            }
            queue_verification(c, &settings, &user)?;
            record_own(c, &ctx, &user, Action::UserVerificationSent, json!({}))?;
            Ok(true)
        })
    })
    .await?;
    if sent {
        outbox.wake();
    }
    Ok(sent)
}

/// Emails a reset link when the address has an account; does nothing visible otherwise.
#[tracing::instrument(skip_all)]
pub async fn request_reset(
    pool: &PgPool,
    settings: &web::Data<Settings>,
    outbox: &OutboxSignal,
    ctx: &Ctx,
    email: EmailAddress,
) -> Result<(), AppError> {
    let (settings, ctx) = (settings.clone(), ctx.clone());
    db::run(pool, move |c| {
        c.transaction(|c| -> Result<(), AppError> {
            // Claimed before the address is looked up: a request for an address without an
            // account uses the IP's budget too, so the budget tells nothing about who exists.
            if !claim_email(c, &ctx, Kind::Account, email.as_str())? {
                return Ok(());
            }
            let Some(user) = db::users::find_by_email(c, email.as_str())? else {
                return Ok(());
            };
            // Only the newest link works: issuing one voids the others (the limit above keeps
            // this from being a way to void someone's link over and over).
            tokens::void_outstanding(c, user.id, Purpose::ResetPassword)?;
            let token = tokens::issue(
                c,
                user.id,
                Purpose::ResetPassword,
                Duration::hours(RESET_TTL_HOURS),
            )?;
            let link = settings.link(&format!("/password/reset?token={token}"));
            messages::reset_password(c, &user.email, &user.name, &link)?;
            audit::record(
                c,
                Event::successful(
                    &Actor::Visitor,
                    &ctx.meta,
                    Action::UserPasswordResetRequested,
                    &user.email,
                    json!({}),
                ),
            )?;
            Ok(())
        })
    })
    .await?;
    outbox.wake();
    Ok(())
}

/// What a reset link is, and whose, without using it.
pub async fn peek_reset(pool: &PgPool, token: String) -> Result<(Lookup, Option<User>), AppError> {
    db::run(pool, move |c| -> Result<_, diesel::result::Error> {
        let lookup = tokens::find_for_use(c, &token, Purpose::ResetPassword)?;
        let user = match lookup {
            Lookup::Valid { user_id, .. } => db::users::find(c, user_id)?,
            _ => None,
        };
        Ok((lookup, user))
    })
    .await
}

/// Uses a reset link: the new password is set and every session of the account ends.
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn reset_password(
    pool: &PgPool,
    ctx: &Ctx,
    token: String,
    user: User,
    password_hash: String,
) -> Result<Lookup, AppError> {
    let ctx = ctx.clone();
    db::run(pool, move |c| {
        c.transaction(|c| -> Result<Lookup, diesel::result::Error> {
            // Checked again under the row lock: two submissions of one link cannot both win.
            let lookup = tokens::find_for_use(c, &token, Purpose::ResetPassword)?;
            if let Lookup::Valid { token_id, user_id } = lookup {
                tokens::mark_used(c, token_id)?;
                db::users::set_password_hash(c, user_id, &password_hash)?;
                // The link went to the address: whoever used it holds it.
                db::users::mark_verified(c, user_id)?;
                let ended = db::sessions::delete_for_user(c, user_id)?;
                cancel_email_change(c, user_id)?;
                // A key made by whoever held the account before the reset must not outlive it.
                let keys_revoked = db::api_keys::revoke_all(c, user_id)?;
                let actor = as_user(&user);
                let details = json!({ "sessions_ended": ended, "api_keys_revoked": keys_revoked });
                audit::record(
                    c,
                    Event::successful(
                        &actor,
                        &ctx.meta,
                        Action::UserPasswordReset,
                        &user.email,
                        details,
                    ),
                )?;
            }
            Ok(lookup)
        })
    })
    .await
}

/// Sets a new password for the signed-in user (whose current one was checked) and ends every
/// session of the account.
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn change_password(
    pool: &PgPool,
    ctx: &Ctx,
    user: User,
    password_hash: String,
) -> Result<(), AppError> {
    let ctx = ctx.clone();
    db::run(pool, move |c| {
        c.transaction(|c| -> Result<(), diesel::result::Error> {
            db::users::set_password_hash(c, user.id, &password_hash)?;
            let ended = db::sessions::delete_for_user(c, user.id)?;
            cancel_email_change(c, user.id)?;
            let details = json!({ "sessions_ended": ended });
            audit::record(
                c,
                Event::successful(
                    &ctx.actor,
                    &ctx.meta,
                    Action::UserPasswordChanged,
                    &user.email,
                    details,
                ),
            )
        })
    })
    .await
}

/// Records a successful sign-in (`details` say how, for a second step).
pub async fn signed_in(
    pool: &PgPool,
    ctx: &Ctx,
    user: &User,
    details: serde_json::Value,
) -> Result<(), AppError> {
    let (ctx, user) = (ctx.clone(), user.clone());
    db::run(pool, move |c| {
        db::users::touch_sign_in(c, user.id)?;
        record_own(c, &ctx, &user, Action::UserSignedIn, details)
    })
    .await
}

/// Signs in with an email and password through the one throttled password check
/// (`ops::reauth::check_password`); a failure is audited.
pub async fn sign_in(
    pool: &PgPool,
    settings: &Settings,
    ctx: &Ctx,
    email: String,
    typed: SecretString,
) -> Result<SignIn, AppError> {
    let lookup = email.clone();
    let user = db::run(pool, move |c| db::users::find_by_email(c, &lookup)).await?;
    let ip = ctx.meta.ip.clone().unwrap_or_default();
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    match super::reauth::check_password(pool, settings, &email, &ip, hash, typed).await? {
        Checked::Locked(until) => Ok(SignIn::Locked(until)),
        Checked::Right => match user {
            // The password alone does not sign in an account with two-factor on.
            Some(user) if user.has_two_factor() => Ok(SignIn::SecondStep(user)),
            Some(user) => {
                signed_in(pool, ctx, &user, json!({})).await?;
                Ok(SignIn::SignedIn(user))
            }
            None => Ok(SignIn::Refused),
        },
        Checked::Wrong => {
            sign_in_failed(pool, ctx, email).await?;
            Ok(SignIn::Refused)
        }
    }
}

/// How a sign-in ended.
#[derive(Debug)]
pub enum SignIn {
    SignedIn(User),
    /// The password was right; the second step (a code) is still to come.
    SecondStep(User),
    /// Wrong email or password.
    Refused,
    /// Too many failures for this email or IP, until then.
    Locked(DateTime<Utc>),
}

/// Records a failed sign-in.
async fn sign_in_failed(pool: &PgPool, ctx: &Ctx, email: String) -> Result<(), AppError> {
    metrics::counter!(crate::metrics::SIGN_IN_FAILURES).increment(1);
    let ctx = ctx.clone();
    db::finish(pool, move |c| {
        let denied = Denied {
            organization: None,
            action: Action::UserSignInFailed,
            target: Some(email.chars().take(254).collect()),
            details: json!({}),
        };
        audit::record_denied(c, &Actor::Visitor, &ctx.meta, &denied)
    })
    .await
}

/// Records a sign-out.
pub async fn signed_out(pool: &PgPool, ctx: &Ctx, email: String) -> Result<(), AppError> {
    let ctx = ctx.clone();
    db::run(pool, move |c| {
        audit::record(
            c,
            Event::successful(
                &ctx.actor,
                &ctx.meta,
                Action::UserSignedOut,
                &email,
                json!({}),
            ),
        )
    })
    .await
}

/// How a sign-up from an invitation ended.
#[derive(Debug)]
pub enum InvitedSignup {
    /// The account was created and joined; the new user's id.
    Joined(UserId, AcceptOutcome),
    /// The address already has an account: nothing was created.
    AccountExists,
    /// The invitation could not be accepted: nothing was created.
    NotJoined(AcceptOutcome),
}

enum SignupStep {
    Db(diesel::result::Error),
    Stop(InvitedSignup),
}

impl From<diesel::result::Error> for SignupStep {
    fn from(e: diesel::result::Error) -> Self {
        SignupStep::Db(e)
    }
}

/// A new person from an invitation: the account is created with the invited email, already
/// verified (the link proves it), and joins the organization in the same transaction.
#[tracing::instrument(skip_all)]
pub async fn sign_up_invited(
    pool: &PgPool,
    settings: &Settings,
    ctx: &Ctx,
    token: String,
    name: PersonName,
    email: String,
    password_hash: String,
) -> Result<InvitedSignup, AppError> {
    let (ctx, max) = (ctx.clone(), settings.max_orgs_per_user);
    db::run(pool, move |c| {
        let outcome = c.transaction(|c| -> Result<InvitedSignup, SignupStep> {
            let user = db::users::create(c, name.as_str(), &email, &password_hash, true)?
                .ok_or(SignupStep::Stop(InvitedSignup::AccountExists))?;
            let details =
                json!({ "after": { "name": user.name, "email": user.email }, "via": "invitation" });
            record_own(c, &ctx, &user, Action::UserSignedUp, details)?;
            match db::invitations::accept(c, &token, &user, max, &ctx.meta)? {
                joined @ AcceptOutcome::Joined(_) => {
                    // The new person is signed in by this request: a sign-in like any other.
                    db::users::touch_sign_in(c, user.id)?;
                    let via = json!({ "via": "invitation" });
                    record_own(c, &ctx, &user, Action::UserSignedIn, via)?;
                    Ok(InvitedSignup::Joined(user.id, joined))
                }
                other => Err(SignupStep::Stop(InvitedSignup::NotJoined(other))),
            }
        });
        match outcome {
            Ok(done) | Err(SignupStep::Stop(done)) => Ok(done),
            Err(SignupStep::Db(e)) => Err(e),
        }
    })
    .await
}

/// Creates a personal API key for the (verified) user and returns it in clear, the only time it
/// is shown.
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn create_api_key(
    pool: &PgPool,
    ctx: &Ctx,
    user: User,
    name: String,
    lifetime: db::api_keys::KeyLifetime,
) -> Result<String, AppError> {
    if !user.is_verified() {
        return Err(AppError::Forbidden);
    }
    let ctx = ctx.clone();
    db::run(pool, move |c| {
        db::api_keys::create(c, &user, &name, lifetime.expires_at(), &ctx.meta)
    })
    .await
}

/// Revokes one of the user's personal API keys; its name, or None when there is no such key.
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn revoke_api_key(
    pool: &PgPool,
    ctx: &Ctx,
    user: User,
    id: i64,
) -> Result<Option<String>, AppError> {
    let ctx = ctx.clone();
    db::run(pool, move |c| db::api_keys::revoke(c, &user, id, &ctx.meta)).await
}

/// Ends one of the user's other sessions (the sessions page); false when there is no such
/// session of theirs.
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn revoke_session(
    pool: &PgPool,
    ctx: &Ctx,
    user: User,
    sid: String,
) -> Result<bool, AppError> {
    let ctx = ctx.clone();
    db::run(pool, move |c| {
        c.transaction(|c| -> Result<bool, diesel::result::Error> {
            if !db::sessions::revoke(c, user.id, &sid)? {
                return Ok(false);
            }
            record_own(
                c,
                &ctx,
                &user,
                Action::SessionRevoked,
                json!({ "sessions_ended": 1 }),
            )?;
            Ok(true)
        })
    })
    .await
}

/// Ends every session of the user but the one making the request; how many.
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn revoke_other_sessions(
    pool: &PgPool,
    ctx: &Ctx,
    user: User,
    current: String,
) -> Result<usize, AppError> {
    let ctx = ctx.clone();
    db::run(pool, move |c| {
        c.transaction(|c| -> Result<usize, diesel::result::Error> {
            let ended = db::sessions::revoke_others(c, user.id, &current)?;
            let details = json!({ "sessions_ended": ended, "all_others": true });
            record_own(c, &ctx, &user, Action::SessionRevoked, details)?;
            Ok(ended)
        })
    })
    .await
}

/// Emails the owner of every personal key that expires within a week, once per key; how many
/// were queued. Runs in the background on every instance; each key is claimed by one.
pub fn remind_expiring_keys(c: &mut PgConnection, settings: &Settings) -> Result<usize, AppError> {
    c.transaction(|c| -> Result<usize, AppError> {
        let expiring = db::api_keys::claim_expiring(c, Duration::days(7))?;
        let link = settings.link("/account/api-keys");
        for key in &expiring {
            let expires = key
                .expires_at
                .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_default();
            messages::key_expiring(
                c,
                &key.owner_email,
                &key.owner_name,
                (&key.name, &key.prefix, &expires),
                &link,
            )?;
        }
        Ok(expiring.len())
    })
}

/// The signed-in user renames themselves.
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn rename(
    pool: &PgPool,
    ctx: &Ctx,
    user: User,
    name: PersonName,
) -> Result<(), AppError> {
    let ctx = ctx.clone();
    db::run(pool, move |c| {
        c.transaction(|c| -> QueryResult<()> {
            db::users::set_name(c, user.id, name.as_str())?;
            let details =
                json!({ "before": { "name": user.name }, "after": { "name": name.as_str() } });
            record_own(c, &ctx, &user, Action::UserNameChanged, details)
        })
    })
    .await
}

/// How asking for a new address ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailChange {
    /// The link is on its way (unless the address belongs to another account, which is not
    /// revealed).
    Sent,
    /// The account has that address already.
    Unchanged,
    /// The address had its share of emails for now.
    Limited,
}

/// Asks to move the account to `new`: the address waits, and a link to confirm it goes there.
/// The account keeps its address until the link is used (DESIGN §14).
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn request_email_change(
    pool: &PgPool,
    settings: &web::Data<Settings>,
    outbox: &OutboxSignal,
    ctx: &Ctx,
    user: User,
    new: EmailAddress,
) -> Result<EmailChange, AppError> {
    if new.as_str() == user.email {
        return Ok(EmailChange::Unchanged);
    }
    let (settings, ctx) = (settings.clone(), ctx.clone());
    let outcome = db::run(pool, move |c| {
        c.transaction(|c| -> Result<EmailChange, AppError> {
            if !claim_email(c, &ctx, Kind::Account, new.as_str())? {
                return Ok(EmailChange::Limited);
            }
            db::users::set_pending_email(c, user.id, Some(new.as_str()))?;
            tokens::void_outstanding(c, user.id, Purpose::ChangeEmail)?;
            let token = tokens::issue(
                c,
                user.id,
                Purpose::ChangeEmail,
                Duration::hours(VERIFY_TTL_HOURS),
            )?;
            // An address another account holds gets nothing: the page says the same either way.
            if db::users::find_by_email(c, new.as_str())?.is_none() {
                let link = settings.link(&format!("/account/email/confirm?token={token}"));
                messages::confirm_email_change(c, new.as_str(), &user.name, &link)?;
            }
            let details = json!({ "after": { "pending_email": new.as_str() } });
            record_own(c, &ctx, &user, Action::UserEmailChangeRequested, details)?;
            Ok(EmailChange::Sent)
        })
    })
    .await?;
    if outcome == EmailChange::Sent {
        outbox.wake();
    }
    Ok(outcome)
}

/// How a link confirming a new address ended.
#[derive(Debug)]
pub enum EmailConfirm {
    /// The account now has this address.
    Changed(String),
    /// Another account took the address meanwhile; nothing changed.
    Taken,
    /// The link is used, expired or unknown.
    Link(Lookup),
}

/// Uses a link confirming a new address: the account moves to it, and the old address is told.
#[tracing::instrument(skip_all)]
pub async fn confirm_email_change(
    pool: &PgPool,
    settings: &web::Data<Settings>,
    outbox: &OutboxSignal,
    ctx: &Ctx,
    token: String,
) -> Result<EmailConfirm, AppError> {
    let (settings, ctx) = (settings.clone(), ctx.clone());
    let outcome = db::run(pool, move |c| {
        c.transaction(|c| -> Result<EmailConfirm, AppError> {
            let lookup = tokens::find_for_use(c, &token, Purpose::ChangeEmail)?;
            let Lookup::Valid { token_id, user_id } = lookup else {
                return Ok(EmailConfirm::Link(lookup));
            };
            tokens::mark_used(c, token_id)?;
            let Some(user) = db::users::find(c, user_id)? else {
                return Ok(EmailConfirm::Link(Lookup::Unknown));
            };
            let Some(new) = db::users::apply_pending_email(c, user_id)? else {
                return Ok(EmailConfirm::Taken);
            };
            // Links sent to the old address stop working with it: a reset link there would
            // take the account back from someone who moved away from that mailbox.
            tokens::void_outstanding(c, user_id, Purpose::ResetPassword)?;
            tokens::void_outstanding(c, user_id, Purpose::VerifyEmail)?;
            messages::email_changed(c, &user.email, &user.name, &new, &settings.link("/"))?;
            let details = json!({ "before": { "email": user.email }, "after": { "email": new } });
            record_own(c, &ctx, &user, Action::UserEmailChanged, details)?;
            Ok(EmailConfirm::Changed(new))
        })
    })
    .await?;
    if matches!(outcome, EmailConfirm::Changed(_)) {
        outbox.wake();
    }
    Ok(outcome)
}

/// A page of the account's security log and its length.
pub async fn security_log(
    pool: &PgPool,
    user: &User,
    offset: i64,
    limit: i64,
) -> Result<(Vec<db::audit::AuditEvent>, i64), AppError> {
    let (id, email) = (user.id, user.email.clone());
    db::run(pool, move |c| {
        db::audit::security_log(c, id, &email, offset, limit)
    })
    .await
}
