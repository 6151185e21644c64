//! Passkeys (WebAuthn, DESIGN §14) through `webauthn-rs`: adding, naming and removing them, and
//! signing in with one, as the second step or alone. Every ceremony's state stays in PostgreSQL
//! and is used once (`db::passkeys::begin` / `take`); the cryptography runs on the blocking pool
//! with the database work.

use crate::audit::Action;
use diesel::{Connection, PgConnection};
use serde_json::json;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, Url, Uuid,
    Webauthn, WebauthnBuilder,
};

use super::Ctx;
use super::accounts::{as_user, record_own};
use crate::audit::{self, Denied};
use crate::config::Settings;
use crate::db::passkeys::{self as stored, Ceremony};
use crate::db::users::User;
use crate::db::{self, PgPool};
use crate::domain::ids::UserId;
use crate::error::AppError;

/// The relying party: this site, named by the host of `BASE_URL` (DESIGN §14). None when that
/// host cannot be one (browsers refuse an IP address): passkeys are then unavailable.
pub fn relying_party(settings: &Settings) -> Option<Webauthn> {
    let origin = Url::parse(&settings.base_url).ok()?;
    let host = origin.host_str()?.to_string();
    if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
        return None;
    }
    WebauthnBuilder::new(&host, &origin)
        .ok()?
        .rp_name("Gatehouse")
        .build()
        .ok()
}

/// Why a passkey ceremony did not end well.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasskeyProblem {
    /// The ceremony is unknown, used, expired or someone else's: start again.
    Expired,
    /// The browser's answer does not check out.
    Refused,
    /// That passkey is registered already.
    AlreadyRegistered,
}

impl PasskeyProblem {
    pub fn message(self) -> &'static str {
        match self {
            PasskeyProblem::Expired => "That took too long. Try again.",
            PasskeyProblem::Refused => {
                "The passkey was not accepted. Try again, or use another way."
            }
            PasskeyProblem::AlreadyRegistered => "That passkey is registered already.",
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Option<T> {
    serde_json::from_value(value).ok()
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, AppError> {
    serde_json::to_value(value).map_err(|e| AppError::Internal(e.into()))
}

/// The account's passkeys as webauthn-rs reads them, with their row ids.
fn passkeys_of(c: &mut PgConnection, user_id: UserId) -> diesel::QueryResult<Vec<(i64, Passkey)>> {
    Ok(stored::credentials(c, user_id)?
        .into_iter()
        .filter_map(|(id, json)| parse::<Passkey>(json).map(|p| (id, p)))
        .collect())
}

/// Starts adding a passkey: the options for the browser, and the token of the ceremony.
pub async fn begin_registration(
    pool: &PgPool,
    webauthn: Webauthn,
    user: &User,
) -> Result<(serde_json::Value, String), AppError> {
    let user = user.clone();
    db::run(pool, move |c| -> Result<_, AppError> {
        let handle = stored::handle(c, user.id)?;
        let handle = Uuid::from_slice(&handle).map_err(|e| AppError::Internal(e.into()))?;
        let exclude = passkeys_of(c, user.id)?
            .iter()
            .map(|(_, p)| p.cred_id().clone())
            .collect();
        let (options, state) = webauthn
            .start_passkey_registration(handle, &user.email, &user.name, Some(exclude))
            .map_err(|e| AppError::Internal(anyhow::anyhow!("passkey registration: {e}")))?;
        // A passkey that can sign in alone must be discoverable (a resident key).
        let mut options = to_json(&options)?;
        options["publicKey"]["authenticatorSelection"]["residentKey"] = json!("required");
        options["publicKey"]["authenticatorSelection"]["requireResidentKey"] = json!(true);
        let token = stored::begin(c, Some(user.id), Ceremony::Register, &to_json(&state)?)?;
        Ok((options, token))
    })
    .await
}

/// Finishes adding a passkey named `name` with the browser's answer.
pub async fn finish_registration(
    pool: &PgPool,
    webauthn: Webauthn,
    ctx: &Ctx,
    user: &User,
    (token, name): (String, String),
    answer: RegisterPublicKeyCredential,
) -> Result<Result<(), PasskeyProblem>, AppError> {
    let (ctx, user) = (ctx.clone(), user.clone());
    db::run(pool, move |c| {
        c.transaction(|c| -> Result<Result<(), PasskeyProblem>, AppError> {
            let Some((Some(owner), state)) = stored::take(c, &token, Ceremony::Register)? else {
                return Ok(Err(PasskeyProblem::Expired));
            };
            let Some(state) = parse::<PasskeyRegistration>(state).filter(|_| owner == user.id)
            else {
                return Ok(Err(PasskeyProblem::Expired));
            };
            let Ok(passkey) = webauthn.finish_passkey_registration(&answer, &state) else {
                return Ok(Err(PasskeyProblem::Refused));
            };
            let id: &[u8] = passkey.cred_id().as_ref();
            if !stored::add(c, user.id, &name, id, &to_json(&passkey)?)? {
                return Ok(Err(PasskeyProblem::AlreadyRegistered));
            }
            let details = json!({ "after": { "name": name } });
            record_own(c, &ctx, &user, Action::UserPasskeyAdded, details)?;
            Ok(Ok(()))
        })
    })
    .await
}

/// Renames one of the user's passkeys; false when there is no such passkey of theirs.
pub async fn rename(
    pool: &PgPool,
    ctx: &Ctx,
    user: &User,
    id: i64,
    name: String,
) -> Result<bool, AppError> {
    let (ctx, user) = (ctx.clone(), user.clone());
    db::run(pool, move |c| {
        c.transaction(|c| -> diesel::QueryResult<bool> {
            let Some(old) = stored::rename(c, user.id, id, &name)? else {
                return Ok(false);
            };
            let details = json!({ "before": { "name": old }, "after": { "name": name } });
            record_own(c, &ctx, &user, Action::UserPasskeyRenamed, details)?;
            Ok(true)
        })
    })
    .await
}

/// Removes one of the user's passkeys; its name, or None when there is no such passkey.
pub async fn remove(
    pool: &PgPool,
    ctx: &Ctx,
    user: &User,
    id: i64,
) -> Result<Option<String>, AppError> {
    let (ctx, user) = (ctx.clone(), user.clone());
    db::run(pool, move |c| {
        c.transaction(|c| -> diesel::QueryResult<Option<String>> {
            let Some(name) = stored::remove(c, user.id, id)? else {
                return Ok(None);
            };
            let details = json!({ "before": { "name": name } });
            record_own(c, &ctx, &user, Action::UserPasskeyRemoved, details)?;
            Ok(Some(name))
        })
    })
    .await
}

/// Starts the second step of `user`'s sign-in with one of their passkeys.
pub async fn begin_second_step(
    pool: &PgPool,
    webauthn: Webauthn,
    user: &User,
) -> Result<Option<(RequestChallengeResponse, String)>, AppError> {
    let id = user.id;
    db::run(pool, move |c| -> Result<_, AppError> {
        let keys: Vec<Passkey> = passkeys_of(c, id)?.into_iter().map(|(_, p)| p).collect();
        if keys.is_empty() {
            return Ok(None);
        }
        let (options, state) = webauthn
            .start_passkey_authentication(&keys)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("passkey authentication: {e}")))?;
        let token = stored::begin(c, Some(id), Ceremony::Authenticate, &to_json(&state)?)?;
        Ok(Some((options, token)))
    })
    .await
}

/// Records a passkey that did not sign anyone in.
fn failed(c: &mut PgConnection, ctx: &Ctx, user: Option<&User>) -> diesel::QueryResult<()> {
    let (action, actor) = match user {
        Some(user) => (Action::UserTwoFactorFailed, as_user(user)),
        None => (Action::UserSignInFailed, ctx.actor.clone()),
    };
    let denied = Denied {
        organization: None,
        action,
        target: user.map(|u| u.email.clone()),
        details: json!({ "via": "passkey", "path": ctx.path }),
    };
    audit::record_denied(c, &actor, &ctx.meta, &denied)
}

/// The passkey `answer` used, checked against `state` and updated (its counter), by row id.
fn verify(
    c: &mut PgConnection,
    user_id: UserId,
    answer: &PublicKeyCredential,
    check: impl FnOnce(&Passkey) -> Option<webauthn_rs::prelude::AuthenticationResult>,
) -> Result<bool, AppError> {
    let used: &[u8] = answer.raw_id.as_ref();
    let Some((row, mut passkey)) = passkeys_of(c, user_id)?
        .into_iter()
        .find(|(_, p)| AsRef::<[u8]>::as_ref(p.cred_id()) == used)
    else {
        return Ok(false);
    };
    let Some(result) = check(&passkey) else {
        return Ok(false);
    };
    let changed = passkey.update_credential(&result).unwrap_or(false);
    let updated = if changed {
        Some(to_json(&passkey)?)
    } else {
        None
    };
    stored::used(c, row, updated.as_ref())?;
    Ok(true)
}

/// Finishes the second step of `user`'s sign-in with a passkey; false (recorded) when it does
/// not check out.
pub async fn finish_second_step(
    pool: &PgPool,
    webauthn: Webauthn,
    ctx: &Ctx,
    user: &User,
    token: String,
    answer: PublicKeyCredential,
) -> Result<Result<(), PasskeyProblem>, AppError> {
    let (ctx, user) = (ctx.clone(), user.clone());
    db::run(pool, move |c| -> Result<_, AppError> {
        let taken = stored::take(c, &token, Ceremony::Authenticate)?;
        let Some(state) = taken
            .filter(|(owner, _)| *owner == Some(user.id))
            .and_then(|(_, state)| parse::<PasskeyAuthentication>(state))
        else {
            return Ok(Err(PasskeyProblem::Expired));
        };
        let ok = verify(c, user.id, &answer, |_| {
            webauthn.finish_passkey_authentication(&answer, &state).ok()
        })?;
        if !ok {
            failed(c, &ctx, Some(&user))?;
            return Ok(Err(PasskeyProblem::Refused));
        }
        Ok(Ok(()))
    })
    .await
}

/// Starts a sign-in with a passkey alone: the browser offers the passkeys it holds for us.
pub async fn begin_discovery(
    pool: &PgPool,
    webauthn: Webauthn,
) -> Result<(RequestChallengeResponse, String), AppError> {
    db::run(pool, move |c| -> Result<_, AppError> {
        let (mut options, state) = webauthn
            .start_discoverable_authentication()
            .map_err(|e| AppError::Internal(anyhow::anyhow!("passkey sign-in: {e}")))?;
        // Asked for by a button, not offered in the email field's autofill.
        options.mediation = None;
        let token = stored::begin(c, None, Ceremony::Discover, &to_json(&state)?)?;
        Ok((options, token))
    })
    .await
}

/// Finishes a sign-in with a passkey alone: the account whose passkey it is, or why not
/// (recorded).
pub async fn finish_discovery(
    pool: &PgPool,
    webauthn: Webauthn,
    ctx: &Ctx,
    token: String,
    answer: PublicKeyCredential,
) -> Result<Result<User, PasskeyProblem>, AppError> {
    let ctx = ctx.clone();
    db::run(pool, move |c| -> Result<_, AppError> {
        let taken = stored::take(c, &token, Ceremony::Discover)?;
        let Some(state) = taken.and_then(|(_, state)| parse::<DiscoverableAuthentication>(state))
        else {
            return Ok(Err(PasskeyProblem::Expired));
        };
        let user = match webauthn.identify_discoverable_authentication(&answer) {
            Ok((handle, _)) => stored::find_by_handle(c, handle.as_bytes())?,
            Err(_) => None,
        };
        let Some(user) = user else {
            failed(c, &ctx, None)?;
            return Ok(Err(PasskeyProblem::Refused));
        };
        let ok = verify(c, user.id, &answer, |passkey| {
            webauthn
                .finish_discoverable_authentication_v2(&answer, state, passkey)
                .ok()
        })?;
        if !ok {
            failed(c, &ctx, Some(&user))?;
            return Ok(Err(PasskeyProblem::Refused));
        }
        Ok(Ok(user))
    })
    .await
}

/// The user's passkeys as listed.
pub async fn list(pool: &PgPool, user: &User) -> Result<Vec<stored::Listed>, AppError> {
    let id = user.id;
    db::run(pool, move |c| stored::list(c, id)).await
}
