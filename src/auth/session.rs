//! `TypedSession`: the only code that knows the session's keys — the signed-in user, the CSRF
//! token, flash messages, the organization last opened.

use crate::domain::ids::UserId;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use actix_session::{Session, SessionExt};
use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, web};
use serde::{Deserialize, Serialize};

use crate::db::sessions::USER_ID_KEY;
use crate::error::AppError;

const CSRF_KEY: &str = "csrf";
const FLASH_KEY: &str = "flash";
const CURRENT_ORG_KEY: &str = "current_org";
const SUDO_KEY: &str = "sudo_at";
const SECOND_STEP_KEY: &str = "second_step";
const CEREMONY_KEY: &str = "webauthn";

/// How long the second step of a sign-in waits after the password.
const SECOND_STEP_MINUTES: i64 = 5;

/// A sign-in whose password was right and whose second step is still to come. A visitor's
/// session lives in the encrypted cookie, so this cannot be forged or altered.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SecondStep {
    pub user_id: UserId,
    /// Unix seconds when the password was checked.
    pub at: i64,
    /// Where to go once signed in.
    pub next: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Flash {
    pub kind: FlashKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FlashKind {
    Success,
    Info,
    Error,
}

impl FlashKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FlashKind::Success => "success",
            FlashKind::Info => "info",
            FlashKind::Error => "error",
        }
    }
}

pub struct TypedSession(Session);

fn session_error(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(anyhow::anyhow!("session: {e}"))
}

impl TypedSession {
    pub fn user_id(&self) -> Result<Option<UserId>, AppError> {
        self.0.get(USER_ID_KEY).map_err(session_error)
    }

    /// Signs in: a new session id, so a session fixed before sign-in is worthless.
    pub fn sign_in(
        &self,
        user_id: UserId,
        meta: &crate::audit::RequestMeta,
    ) -> Result<(), AppError> {
        use crate::db::sessions::{AGENT_KEY, IP_KEY, SEEN_KEY, SID_KEY};
        // Nothing of the session before sign-in (a re-entered password, a flash, the current
        // organization) carries over to the account signing in.
        self.0.clear();
        self.0.renew();
        self.0.insert(USER_ID_KEY, user_id).map_err(session_error)?;
        // What the account's sessions page shows.
        self.0
            .insert(SID_KEY, crate::db::tokens::new_token())
            .map_err(session_error)?;
        let ip = meta.ip.clone().unwrap_or_default();
        let agent: String = meta
            .user_agent
            .clone()
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect();
        self.0.insert(IP_KEY, ip).map_err(session_error)?;
        self.0.insert(AGENT_KEY, agent).map_err(session_error)?;
        self.0
            .insert(SEEN_KEY, chrono::Utc::now().timestamp())
            .map_err(session_error)?;
        self.0
            .insert(CSRF_KEY, crate::db::tokens::new_token())
            .map_err(session_error)
    }

    /// Remembers a right password whose second step is still to come.
    pub fn begin_second_step(&self, user_id: UserId, next: String) -> Result<(), AppError> {
        let step = SecondStep {
            user_id,
            at: chrono::Utc::now().timestamp(),
            next,
        };
        self.0.insert(SECOND_STEP_KEY, step).map_err(session_error)
    }

    /// The sign-in waiting for its second step, unless it is older than five minutes.
    pub fn second_step(&self) -> Option<SecondStep> {
        let step = self.0.get::<SecondStep>(SECOND_STEP_KEY).ok().flatten()?;
        let age = chrono::Utc::now().timestamp() - step.at;
        (0..SECOND_STEP_MINUTES * 60).contains(&age).then_some(step)
    }

    /// Keeps the token of the passkey ceremony this session started (its state stays on the
    /// server).
    pub fn set_ceremony(&self, token: &str) -> Result<(), AppError> {
        self.0.insert(CEREMONY_KEY, token).map_err(session_error)
    }

    /// The token of the passkey ceremony this session started, removed: each is finished once.
    pub fn take_ceremony(&self) -> Option<String> {
        self.0
            .remove_as::<String>(CEREMONY_KEY)
            .and_then(Result::ok)
    }

    /// Signs out: the stored session is destroyed.
    /// Records activity, at most once a minute (a write of the session, not one per request).
    pub fn touch(&self) {
        use crate::db::sessions::SEEN_KEY;
        let now = chrono::Utc::now().timestamp();
        let seen = self.0.get::<i64>(SEEN_KEY).ok().flatten().unwrap_or(0);
        if now - seen >= 60 {
            let _ = self.0.insert(SEEN_KEY, now);
        }
    }

    /// The public id of this (signed-in) session.
    pub fn sid(&self) -> Option<String> {
        self.0
            .get::<String>(crate::db::sessions::SID_KEY)
            .ok()
            .flatten()
    }

    pub fn sign_out(&self) {
        self.0.purge();
    }

    /// Keeps the session but gives it a new id (after a password change).
    pub fn renew(&self) {
        self.0.renew();
    }

    /// The session's CSRF token, created on first use.
    pub fn csrf_token(&self) -> Result<String, AppError> {
        if let Some(token) = self.0.get::<String>(CSRF_KEY).map_err(session_error)? {
            return Ok(token);
        }
        let token = crate::db::tokens::new_token();
        self.0.insert(CSRF_KEY, &token).map_err(session_error)?;
        Ok(token)
    }

    pub fn csrf_matches(&self, submitted: &str) -> bool {
        use subtle::ConstantTimeEq;
        match self.0.get::<String>(CSRF_KEY) {
            Ok(Some(token)) => {
                !submitted.is_empty() && bool::from(token.as_bytes().ct_eq(submitted.as_bytes()))
            }
            _ => false,
        }
    }

    pub fn flash(&self, kind: FlashKind, message: impl Into<String>) {
        let _ = self.0.insert(
            FLASH_KEY,
            Flash {
                kind,
                message: message.into(),
            },
        );
    }

    /// The flash message, removed once shown. Without one the session stays unchanged (and is
    /// not written back).
    pub fn take_flash(&self) -> Option<Flash> {
        self.0.get::<Flash>(FLASH_KEY).ok().flatten()?;
        self.0.remove_as::<Flash>(FLASH_KEY).and_then(Result::ok)
    }

    pub fn set_current_org(&self, slug: &str) {
        if self.current_org().as_deref() != Some(slug) {
            let _ = self.0.insert(CURRENT_ORG_KEY, slug);
        }
    }

    /// Records that the password was just re-entered (for production grants).
    pub fn mark_sudo(&self) -> Result<(), AppError> {
        self.0
            .insert(SUDO_KEY, chrono::Utc::now().timestamp())
            .map_err(session_error)
    }

    /// True when the password was re-entered within the last `minutes`.
    pub fn sudo_fresh(&self, minutes: i64) -> bool {
        match self.0.get::<i64>(SUDO_KEY) {
            Ok(Some(at)) => chrono::Utc::now().timestamp() - at < minutes * 60,
            _ => false,
        }
    }

    pub fn current_org(&self) -> Option<String> {
        self.0.get(CURRENT_ORG_KEY).ok().flatten()
    }
}

/// The stored session this request's session still has to read (see `sessions::PENDING_KEY`).
pub fn pending(session: &Session) -> Option<Vec<u8>> {
    crate::db::sessions::pending(&session.entries())
}

/// Puts the state read from the database into the request's session, or, when the stored
/// session is gone or over, leaves the request signed out.
pub fn fill(session: &Session, read: Option<HashMap<String, String>>) -> Result<(), AppError> {
    session.remove(crate::db::sessions::PENDING_KEY);
    let Some(state) = read else {
        session.clear();
        return Ok(());
    };
    for (key, value) in state {
        // Each value is already JSON: kept as it is.
        let raw = serde_json::value::RawValue::from_string(value).map_err(session_error)?;
        session.insert(key, raw).map_err(session_error)?;
    }
    Ok(())
}

/// Who the request's session signs in, as read with it (`db::sessions::read`): handed to the
/// request's later extractors in its extensions, not through the session's state.
struct Who(Option<crate::db::sessions::SignedIn>);

/// Hands who the session signs in, as just read, to the rest of the request (`signed_in`).
pub fn hand_over(req: &HttpRequest, who: Option<crate::db::sessions::SignedIn>) {
    req.extensions_mut().insert(Who(who));
}

/// Who the request's session signs in, from the user's row read with it on this request (fresh
/// on every request); None for a visitor, when the account is gone, or before the read.
pub fn signed_in(req: &HttpRequest) -> Option<crate::db::sessions::SignedIn> {
    req.extensions().get::<Who>().and_then(|who| who.0.clone())
}

/// The pool and the settings the application registers, which every page and session read needs.
pub fn registered(
    req: &HttpRequest,
) -> Result<
    (
        web::Data<crate::db::PgPool>,
        web::Data<crate::config::Settings>,
    ),
    AppError,
> {
    match (
        req.app_data::<web::Data<crate::db::PgPool>>(),
        req.app_data::<web::Data<crate::config::Settings>>(),
    ) {
        (Some(pool), Some(settings)) => Ok((pool.clone(), settings.clone())),
        _ => Err(session_error("the pool and settings are not registered")),
    }
}

/// The members' access this instance keeps (`db::orgs::KeptAccess`); an application that keeps
/// none is given an empty one per request, which keeps nothing past it.
pub fn kept_access(req: &HttpRequest) -> web::Data<crate::db::orgs::KeptAccess> {
    req.app_data::<web::Data<crate::db::orgs::KeptAccess>>()
        .cloned()
        .unwrap_or_default()
}

/// The switchers this instance keeps (`db::sessions::Switchers`), when the application keeps them.
pub fn switchers(req: &HttpRequest) -> Option<web::Data<crate::db::sessions::Switchers>> {
    req.app_data::<web::Data<crate::db::sessions::Switchers>>()
        .cloned()
}

/// The request's session, read from the database once (however many extractors ask for it) if
/// it is a stored one not read yet.
async fn read_once(req: HttpRequest, session: Session) -> Result<(), AppError> {
    type Once = Rc<tokio::sync::OnceCell<()>>;
    let Some(hash) = pending(&session) else {
        return Ok(());
    };
    let once: Once = {
        let mut extensions = req.extensions_mut();
        match extensions.get::<Once>() {
            Some(once) => once.clone(),
            None => {
                let once = Once::default();
                extensions.insert(once.clone());
                once
            }
        }
    };
    once.get_or_try_init(|| async {
        let (pool, settings) = registered(&req)?;
        let lifetimes = settings.session_lifetimes();
        let switchers = switchers(&req);
        let read = crate::db::run(&pool, move |c| {
            let switchers = switchers.as_ref().map(|s| s.get_ref());
            crate::db::sessions::read(c, &hash, lifetimes, None, switchers)
        })
        .await?;
        hand_over(&req, read.who);
        fill(&session, read.state)
    })
    .await?;
    Ok(())
}

impl FromRequest for TypedSession {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let session = req.get_session();
        let req = req.clone();
        Box::pin(async move {
            read_once(req, session.clone()).await?;
            Ok(TypedSession(session))
        })
    }
}

impl TypedSession {
    /// The session of a request whose stored state was already read (or had none to read).
    pub(crate) fn read(session: Session) -> TypedSession {
        debug_assert!(
            pending(&session).is_none(),
            "a session used before it was read"
        );
        TypedSession(session)
    }
}
