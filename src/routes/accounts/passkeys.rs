//! Passkey pages and the JSON the passkey script talks to (DESIGN §14): the account's passkeys
//! (add, rename, remove), and signing in with one, alone or as the second step. The JSON
//! endpoints take the page's CSRF token in `X-CSRF-Token` (and pass the Origin check like every
//! form).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use serde_json::json;
use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential, Webauthn};

use crate::auth::csrf::CsrfForm;
use crate::auth::session::FlashKind;
use crate::db;
use crate::db::passkeys::Listed;
use crate::error::AppError;
use crate::ops;
use crate::ops::passkeys::PasskeyProblem;
use crate::routes::layout::{FieldErrors, Layout};
use crate::routes::page::{Page, PageRequest};
use crate::routes::time::Shown as _;
use crate::routes::{render, safe_next, see_other};

const PLACE: &str = "/account/passkeys";

/// The relying party, when this site can have passkeys (`BASE_URL` names a host).
pub struct Passkeys(pub Option<Webauthn>);

fn relying_party(cx: &Page) -> Option<Webauthn> {
    cx.request
        .app_data::<web::Data<Passkeys>>()
        .and_then(|p| p.0.clone())
}

#[derive(Template)]
#[template(path = "auth/passkeys.html")]
struct PasskeysPage {
    layout: Layout,
    passkeys: Vec<Listed>,
    available: bool,
    errors: FieldErrors,
    /// The passkey whose removal `errors` is about.
    removing: Option<i64>,
}

impl PasskeysPage {
    fn is_removing(&self, id: &i64) -> bool {
        self.removing == Some(*id)
    }
}

async fn page(
    cx: &Page,
    status: StatusCode,
    passkeys: Vec<Listed>,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    page_with(cx, status, passkeys, errors, None).await
}

async fn page_with(
    cx: &Page,
    status: StatusCode,
    passkeys: Vec<Listed>,
    errors: FieldErrors,
    removing: Option<i64>,
) -> Result<HttpResponse, AppError> {
    let layout = cx.layout("Passkeys").await?;
    render(
        status,
        &PasskeysPage {
            layout,
            passkeys,
            available: relying_party(cx).is_some(),
            errors,
            removing,
        },
    )
}

/// The passkeys, read with the session on the page's one trip.
pub async fn list(page_request: PageRequest) -> Result<HttpResponse, AppError> {
    let (cx, passkeys) = page_request
        .signed_in_page(|c, who| db::passkeys::list(c, who.user.id))
        .await?;
    page(&cx, StatusCode::OK, passkeys, FieldErrors::default()).await
}

/// An answer of the JSON endpoints.
fn problem(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "error": message }))
}

/// The JSON endpoints' CSRF check: the page's token in `X-CSRF-Token`.
fn csrf_ok(cx: &Page) -> bool {
    let sent = cx
        .request
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    cx.auth.session.csrf_matches(sent)
}

/// What every JSON endpoint checks first: the CSRF token, and that passkeys are available.
fn ready(cx: &Page) -> Result<Webauthn, Box<HttpResponse>> {
    if !csrf_ok(cx) {
        return Err(Box::new(problem(
            StatusCode::FORBIDDEN,
            "This page expired. Reload it and try again.",
        )));
    }
    relying_party(cx).ok_or_else(|| {
        Box::new(problem(
            StatusCode::NOT_FOUND,
            "Passkeys need Gatehouse to be reached by a host name (BASE_URL), not an IP address.",
        ))
    })
}

fn refused(p: PasskeyProblem) -> HttpResponse {
    problem(StatusCode::UNPROCESSABLE_ENTITY, p.message())
}

/// The password typed with a passkey change (empty within the session's re-entry window).
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct Password {
    pub password: String,
}

/// The options for adding a passkey to the signed-in account, after the password.
pub async fn registration_options(
    cx: Page,
    body: Option<web::Json<Password>>,
) -> Result<HttpResponse, AppError> {
    let user = cx.auth.require_user()?;
    let webauthn = match ready(&cx) {
        Ok(w) => w,
        Err(response) => return Ok(*response),
    };
    let typed = body.map(|b| b.into_inner().password).unwrap_or_default();
    if let Err((status, message)) = super::may_change_sign_in(&cx, &typed, true).await? {
        return Ok(problem(status, message));
    }
    let (options, token) = ops::passkeys::begin_registration(&cx.pool, webauthn, user).await?;
    cx.auth.session.set_ceremony(&token)?;
    Ok(HttpResponse::Ok().json(options))
}

#[derive(Deserialize)]
pub struct Registered {
    name: String,
    credential: RegisterPublicKeyCredential,
}

/// The browser's new passkey, named.
pub async fn register(cx: Page, body: web::Json<Registered>) -> Result<HttpResponse, AppError> {
    let user = cx.auth.require_user()?;
    let webauthn = match ready(&cx) {
        Ok(w) => w,
        Err(response) => return Ok(*response),
    };
    // The password was typed for the options, moments ago: its re-entry window still runs.
    if let Err((status, message)) = super::may_change_sign_in(&cx, "", true).await? {
        return Ok(problem(status, message));
    }
    let Registered { name, credential } = body.into_inner();
    let Some(name) = passkey_name(&name) else {
        return Ok(problem(StatusCode::UNPROCESSABLE_ENTITY, NAME_RULE));
    };
    let Some(token) = cx.auth.session.take_ceremony() else {
        return Ok(refused(PasskeyProblem::Expired));
    };
    let ctx = cx.auth.ctx();
    let pair = (token, name.clone());
    match ops::passkeys::finish_registration(&cx.pool, webauthn, &ctx, user, pair, credential)
        .await?
    {
        Ok(()) => {
            cx.auth.session.flash(
                FlashKind::Success,
                format!("The passkey “{name}” was added."),
            );
            Ok(HttpResponse::Ok().json(json!({ "redirect": PLACE })))
        }
        Err(p) => Ok(refused(p)),
    }
}

const NAME_RULE: &str = "Name the passkey (1 to 100 characters), such as the device it is on.";

fn passkey_name(typed: &str) -> Option<String> {
    let name = typed.trim();
    (!name.is_empty() && name.chars().count() <= 100 && !name.chars().any(char::is_control))
        .then(|| name.to_string())
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct NameForm {
    pub name: String,
}

pub async fn rename(
    cx: Page,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<NameForm>,
) -> Result<HttpResponse, AppError> {
    let user = cx.auth.require_user()?;
    let Some(name) = passkey_name(&form.name) else {
        let mut errors = FieldErrors::default();
        errors.add("name", NAME_RULE);
        let passkeys = ops::passkeys::list(&cx.pool, user).await?;
        return page(&cx, StatusCode::UNPROCESSABLE_ENTITY, passkeys, errors).await;
    };
    let ctx = cx.auth.ctx();
    if !ops::passkeys::rename(&cx.pool, &ctx, user, id.into_inner(), name.clone()).await? {
        return Err(AppError::NotFound);
    }
    cx.auth.session.flash(
        FlashKind::Success,
        format!("The passkey is now called “{name}”."),
    );
    Ok(see_other(PLACE))
}

/// Removes a passkey, after the password.
pub async fn remove(
    cx: Page,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<Password>,
) -> Result<HttpResponse, AppError> {
    let user = cx.auth.require_user()?;
    let id = id.into_inner();
    if let Err((status, message)) = super::may_change_sign_in(&cx, &form.password, false).await? {
        let mut errors = FieldErrors::default();
        errors.add("password", message);
        let passkeys = ops::passkeys::list(&cx.pool, user).await?;
        if !passkeys.iter().any(|p| p.id == id) {
            return Err(AppError::NotFound);
        }
        return page_with(&cx, status, passkeys, errors, Some(id)).await;
    }
    let ctx = cx.auth.ctx();
    let name = ops::passkeys::remove(&cx.pool, &ctx, user, id)
        .await?
        .ok_or(AppError::NotFound)?;
    cx.auth.session.flash(
        FlashKind::Success,
        format!("The passkey “{name}” was removed; it no longer signs you in."),
    );
    Ok(see_other(PLACE))
}

#[derive(Deserialize)]
pub struct Answer {
    #[serde(default)]
    next: String,
    credential: PublicKeyCredential,
}

/// The options for signing in with a passkey alone.
pub async fn signin_options(cx: Page) -> Result<HttpResponse, AppError> {
    let webauthn = match ready(&cx) {
        Ok(w) => w,
        Err(response) => return Ok(*response),
    };
    let (options, token) = ops::passkeys::begin_discovery(&cx.pool, webauthn).await?;
    cx.auth.session.set_ceremony(&token)?;
    Ok(HttpResponse::Ok().json(options))
}

/// Signs in whoever the passkey belongs to.
pub async fn signin(cx: Page, body: web::Json<Answer>) -> Result<HttpResponse, AppError> {
    let webauthn = match ready(&cx) {
        Ok(w) => w,
        Err(response) => return Ok(*response),
    };
    let Answer { next, credential } = body.into_inner();
    let Some(token) = cx.auth.session.take_ceremony() else {
        return Ok(refused(PasskeyProblem::Expired));
    };
    let ctx = cx.auth.ctx();
    let user =
        match ops::passkeys::finish_discovery(&cx.pool, webauthn, &ctx, token, credential).await? {
            Ok(user) => user,
            Err(p) => return Ok(refused(p)),
        };
    signed_in(&cx, &user, "passkey", &next).await
}

/// Signs `user` in (a passkey checked out) and answers where to go.
async fn signed_in(
    cx: &Page,
    user: &db::users::User,
    how: &str,
    next: &str,
) -> Result<HttpResponse, AppError> {
    let details = json!({ "via": how });
    ops::accounts::signed_in(&cx.pool, &cx.auth.ctx(), user, details).await?;
    cx.auth.session.sign_in(user.id, &cx.auth.meta)?;
    let redirect = safe_next(&cx.settings.base_url, Some(next));
    Ok(HttpResponse::Ok().json(json!({ "redirect": redirect })))
}

/// The options for the second step of a sign-in whose password was right.
pub async fn second_step_options(cx: Page) -> Result<HttpResponse, AppError> {
    let webauthn = match ready(&cx) {
        Ok(w) => w,
        Err(response) => return Ok(*response),
    };
    let Some((_, user)) = super::two_factor::pending(&cx).await? else {
        return Ok(refused(PasskeyProblem::Expired));
    };
    match ops::passkeys::begin_second_step(&cx.pool, webauthn, &user).await? {
        Some((options, token)) => {
            cx.auth.session.set_ceremony(&token)?;
            Ok(HttpResponse::Ok().json(options))
        }
        None => Ok(problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "This account has no passkeys. Use a code instead.",
        )),
    }
}

/// The second step of a sign-in, with a passkey.
pub async fn second_step(cx: Page, body: web::Json<Answer>) -> Result<HttpResponse, AppError> {
    let webauthn = match ready(&cx) {
        Ok(w) => w,
        Err(response) => return Ok(*response),
    };
    let Some((step, user)) = super::two_factor::pending(&cx).await? else {
        return Ok(refused(PasskeyProblem::Expired));
    };
    let Some(token) = cx.auth.session.take_ceremony() else {
        return Ok(refused(PasskeyProblem::Expired));
    };
    let credential = body.into_inner().credential;
    let ctx = cx.auth.ctx();
    match ops::passkeys::finish_second_step(&cx.pool, webauthn, &ctx, &user, token, credential)
        .await?
    {
        Ok(()) => signed_in(&cx, &user, "second_step_passkey", &step.next).await,
        Err(p) => Ok(refused(p)),
    }
}
