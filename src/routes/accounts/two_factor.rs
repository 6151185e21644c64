//! Two-factor sign-in pages (DESIGN §14): the account's two-factor page (set up with a QR code or
//! the typed secret, confirm with a code, recovery codes shown once, regenerate, turn off) and
//! the second step of sign-in.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::signin::NoFields;
use crate::auth::csrf::CsrfForm;
use crate::auth::session::FlashKind;
use crate::auth::two_factor as codes;
use crate::crypto::DataKey;
use crate::db;
use crate::db::users::User;
use crate::error::AppError;
use crate::ops;
use crate::ops::two_factor::{CodeProblem, NewCodes, Passed};
use crate::routes::layout::{FieldErrors, Layout};
use crate::routes::page::{Page, PageRequest};
use crate::routes::{render, reveal, safe_next, see_other};

const PLACE: &str = "/account/two-factor";

#[derive(Template)]
#[template(path = "auth/two_factor.html")]
struct TwoFactorPage {
    layout: Layout,
    /// Codes from an authenticator app are on.
    enabled: bool,
    /// The account's passkeys, a second step of their own.
    passkeys: i32,
    /// The secret waiting for its first code, as typed into an app.
    pending: Option<String>,
    codes_left: i64,
    /// Recovery codes just made, shown this once.
    new_codes: Vec<String>,
    errors: FieldErrors,
}

fn data_key(cx: &Page) -> Result<web::Data<DataKey>, AppError> {
    data_key_of(&cx.request)
}

fn data_key_of(request: &actix_web::HttpRequest) -> Result<web::Data<DataKey>, AppError> {
    request
        .app_data::<web::Data<DataKey>>()
        .cloned()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no data key")))
}

/// What the page shows of the user's authenticator app: the secret being set up (to type), or
/// how many recovery codes are left when it is on.
type Shown = (Option<String>, i64);

fn shown(c: &mut db::PgConn, key: &DataKey, user: &User) -> db::QueryResult<Shown> {
    if user.has_totp() {
        return Ok((None, db::two_factor::recovery_codes_left(c, user.id)?));
    }
    let secret = ops::two_factor::pending_on(c, key, user.id)?;
    Ok((secret.map(|s| codes::secret_for_typing(&s)), 0))
}

async fn page(
    cx: &Page,
    status: StatusCode,
    (pending, codes_left): Shown,
    new_codes: Vec<String>,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let user = cx.auth.require_user()?;
    let (enabled, passkeys) = (user.has_totp(), user.passkey_count);
    let layout = cx.layout("Two-factor sign-in").await?;
    render(
        status,
        &TwoFactorPage {
            layout,
            enabled,
            passkeys,
            pending,
            codes_left,
            new_codes,
            errors,
        },
    )
}

/// The page shown again with a form's errors, read on a trip of its own.
async fn page_again(
    cx: &Page,
    status: StatusCode,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let (key, user) = (data_key(cx)?, cx.auth.require_user()?.clone());
    let state = db::run(&cx.pool, move |c| shown(c, &key, &user)).await?;
    page(cx, status, state, Vec::new(), errors).await
}

/// The page, read with the session on its one trip.
pub async fn show(page_request: PageRequest) -> Result<HttpResponse, AppError> {
    let key = data_key_of(page_request.request())?;
    let (cx, state) = page_request
        .signed_in_page(move |c, who| shown(c, &key, &who.user))
        .await?;
    let new_codes = reveal::take(&cx, PLACE)
        .map(|codes| codes.lines().map(str::to_string).collect())
        .unwrap_or_default();
    let shown = page(
        &cx,
        StatusCode::OK,
        state,
        new_codes,
        FieldErrors::default(),
    )
    .await?;
    Ok(reveal::cleared(&cx, shown, PLACE))
}

/// Starts (or starts over) enrolment with a new secret.
pub async fn setup(cx: Page, _form: CsrfForm<NoFields>) -> Result<HttpResponse, AppError> {
    let user = cx.auth.require_user()?;
    if !user.is_verified() {
        cx.auth.session.flash(FlashKind::Error, super::VERIFY_FIRST);
        return Ok(see_other(PLACE));
    }
    let key = data_key(&cx)?;
    if !ops::two_factor::start(&cx.pool, &key, user).await? {
        cx.auth
            .session
            .flash(FlashKind::Info, "Two-factor sign-in is already on.");
    }
    Ok(see_other(PLACE))
}

/// The QR code of the secret waiting for its first code, drawn on the server as SVG.
pub async fn qr(cx: Page) -> Result<HttpResponse, AppError> {
    let user = cx.auth.require_user()?;
    let key = data_key(&cx)?;
    let secret = ops::two_factor::pending(&cx.pool, &key, user)
        .await?
        .ok_or(AppError::NotFound)?;
    let svg = codes::qr_svg(&codes::otpauth_url(&secret, &user.email));
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header(("Cache-Control", "no-store"))
        .body(svg))
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct CodeForm {
    pub code: String,
    /// The code fields of the page's other forms (ids are unique on a page).
    pub regenerate_code: String,
    pub disable_code: String,
    pub password: String,
}

fn problem(field: &'static str, p: CodeProblem, recovery: bool) -> (StatusCode, FieldErrors) {
    let mut errors = FieldErrors::default();
    let field = if p == CodeProblem::WrongPassword {
        "password"
    } else {
        field
    };
    errors.add(field, p.message(recovery));
    let status = match p {
        CodeProblem::Locked(_) => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    (status, errors)
}

/// Confirms enrolment with the password and the first code: two-factor is on, and the recovery
/// codes are shown.
pub async fn confirm(
    cx: Page,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Result<HttpResponse, AppError> {
    if let Err((status, message)) = super::may_change_sign_in(&cx, &form.password, true).await? {
        let mut errors = FieldErrors::default();
        errors.add("password", message);
        return page_again(&cx, status, errors).await;
    }
    let done = "Two-factor sign-in is on. Save your recovery codes now: they are shown only once.";
    make_codes(&cx, &form.code, NewCodes::Enrolment, "code", done).await
}

/// New recovery codes, after a current code.
pub async fn regenerate(
    cx: Page,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Result<HttpResponse, AppError> {
    let done = "New recovery codes were made; the old ones no longer work. Save these now.";
    let typed = &form.regenerate_code;
    make_codes(&cx, typed, NewCodes::Replacement, "regenerate_code", done).await
}

/// Recovery codes made after the code typed in `field`, shown on the next page.
async fn make_codes(
    cx: &Page,
    typed: &str,
    why: NewCodes,
    field: &'static str,
    done: &str,
) -> Result<HttpResponse, AppError> {
    let user = cx.auth.require_user()?;
    let key = data_key(cx)?;
    let ctx = cx.auth.ctx();
    match ops::two_factor::make_codes(&cx.pool, &cx.settings, &key, &ctx, user, typed, why).await? {
        Ok(new_codes) => {
            cx.auth.session.flash(FlashKind::Success, done);
            Ok(reveal::redirect_showing(cx, PLACE, &new_codes.join("\n")))
        }
        Err(p) => {
            let (status, errors) = problem(field, p, false);
            page_again(cx, status, errors).await
        }
    }
}

/// Turns two-factor off, with the password and a code.
pub async fn disable(
    cx: Page,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Result<HttpResponse, AppError> {
    let user = cx.auth.require_user()?;
    let key = data_key(&cx)?;
    let ctx = cx.auth.ctx();
    let (password, code) = (form.password.as_str(), form.disable_code.as_str());
    if password.is_empty() {
        let mut errors = FieldErrors::default();
        errors.add(
            "password",
            "Enter your password to turn two-factor sign-in off.",
        );
        return page_again(&cx, StatusCode::UNPROCESSABLE_ENTITY, errors).await;
    }
    let outcome =
        ops::two_factor::disable(&cx.pool, &cx.settings, &key, &ctx, user, password, code).await?;
    match outcome {
        Ok(()) => {
            cx.auth.session.flash(
                FlashKind::Success,
                "Two-factor sign-in is off; your recovery codes were deleted.",
            );
            Ok(see_other(PLACE))
        }
        Err(p) => {
            let (status, errors) = problem("disable_code", p, true);
            page_again(&cx, status, errors).await
        }
    }
}

#[derive(Template)]
#[template(path = "auth/second_step.html")]
struct SecondStepPage {
    layout: Layout,
    errors: FieldErrors,
    /// Which second steps the account has.
    totp: bool,
    passkeys: bool,
}

/// The second-step page for the account whose password was right.
async fn second_step_page(
    cx: &Page,
    status: StatusCode,
    user: &crate::db::users::User,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let layout = cx.layout("Two-factor sign-in").await?;
    render(
        status,
        &SecondStepPage {
            layout,
            errors,
            totp: user.has_totp(),
            passkeys: user.passkey_count > 0,
        },
    )
}

/// The account whose password was right a moment ago, and where its sign-in goes.
pub(super) async fn pending(
    cx: &Page,
) -> Result<Option<(crate::auth::session::SecondStep, crate::db::users::User)>, AppError> {
    let Some(step) = cx.auth.session.second_step() else {
        return Ok(None);
    };
    let id = step.user_id;
    let user = db::run(&cx.pool, move |c| db::users::find(c, id)).await?;
    Ok(user.map(|u| (step, u)))
}

/// The second step of sign-in, for a sign-in whose password was right a moment ago.
pub async fn second_step_get(cx: Page) -> Result<HttpResponse, AppError> {
    let Some((_, user)) = pending(&cx).await? else {
        return Ok(see_other("/signin"));
    };
    second_step_page(&cx, StatusCode::OK, &user, FieldErrors::default()).await
}

pub async fn second_step_post(
    cx: Page,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Result<HttpResponse, AppError> {
    let Some((step, user)) = pending(&cx).await? else {
        cx.auth.session.flash(
            FlashKind::Info,
            "That sign-in took too long. Enter your email and password again.",
        );
        return Ok(see_other("/signin"));
    };
    let key = data_key(&cx)?;
    let ctx = cx.auth.ctx();
    let outcome =
        ops::two_factor::second_step(&cx.pool, &cx.settings, &key, &ctx, &user, &form.code).await?;
    let passed = match outcome {
        Ok(passed) => passed,
        Err(p) => {
            let (status, errors) = problem("code", p, true);
            return second_step_page(&cx, status, &user, errors).await;
        }
    };
    let how = match passed {
        Passed::Code => "code",
        Passed::RecoveryCode { .. } => "recovery_code",
    };
    ops::accounts::signed_in(
        &cx.pool,
        &ctx,
        &user,
        serde_json::json!({ "second_step": how }),
    )
    .await?;
    cx.auth.session.sign_in(user.id, &cx.auth.meta)?;
    if let Passed::RecoveryCode { left } = passed {
        cx.auth.session.flash(
            FlashKind::Info,
            format!(
                "You signed in with a recovery code; {left} left. Make new ones on your two-factor page if you are running low."
            ),
        );
    }
    Ok(see_other(&safe_next(
        &cx.settings.base_url,
        Some(&step.next),
    )))
}
