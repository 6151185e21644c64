//! Sign in and sign out, with database-held throttling of failures per account and per IP.

use crate::routes::page::Page;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use secrecy::SecretString;
use serde::Deserialize;

use crate::auth::Auth;
use crate::auth::csrf::CsrfForm;
use crate::db::PgPool;
use crate::error::AppError;
use crate::ops;
use crate::ops::accounts::SignIn;
use crate::routes::layout::{FieldErrors, Layout};
use crate::routes::{render, safe_next, see_other};

pub const BAD_CREDENTIALS: &str = "Email or password is incorrect.";

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct SigninQuery {
    pub next: Option<String>,
    pub reset: Option<String>,
    pub email: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct SigninForm {
    pub email: String,
    pub password: String,
    pub next: String,
}

#[derive(Template)]
#[template(path = "auth/signin.html")]
struct SigninPage {
    layout: Layout,
    email: String,
    next: String,
    notice: Option<&'static str>,
    errors: FieldErrors,
}

pub async fn get(cx: Page, query: web::Query<SigninQuery>) -> Result<HttpResponse, AppError> {
    let Page { auth, .. } = &cx;
    let query = query.into_inner();
    if auth.user.is_some() {
        return Ok(see_other(&safe_next(
            &cx.settings.base_url,
            query.next.as_deref(),
        )));
    }
    let notice = query.reset.is_some().then_some("Your password was changed and every session was signed out. Sign in with your new password.");
    let layout = cx.layout("Sign in").await?;
    render(
        StatusCode::OK,
        &SigninPage {
            layout,
            email: query.email.unwrap_or_default(),
            next: safe_next(&cx.settings.base_url, query.next.as_deref()),
            notice,
            errors: FieldErrors::default(),
        },
    )
}

pub async fn post(
    cx: Page,
    CsrfForm(form): CsrfForm<SigninForm>,
) -> Result<HttpResponse, AppError> {
    let Page {
        pool,
        settings,
        auth,
        ..
    } = &cx;
    let email = form.email.trim().to_lowercase();
    let typed = SecretString::from(form.password.clone());
    let outcome = ops::accounts::sign_in(pool, settings, &auth.ctx(), email, typed).await?;
    match outcome {
        SignIn::SignedIn(user) => {
            auth.session.sign_in(user.id, &auth.meta)?;
            Ok(see_other(&safe_next(&settings.base_url, Some(&form.next))))
        }
        SignIn::SecondStep(user) => {
            let next = safe_next(&settings.base_url, Some(&form.next));
            auth.session.begin_second_step(user.id, next)?;
            Ok(see_other("/signin/two-factor"))
        }
        SignIn::Refused => {
            let mut errors = FieldErrors::default();
            errors.add("email", BAD_CREDENTIALS);
            form_again(&cx, StatusCode::UNPROCESSABLE_ENTITY, form, errors).await
        }
        SignIn::Locked(until) => {
            let minutes = ((until - chrono::Utc::now()).num_seconds() + 59) / 60;
            let mut errors = FieldErrors::default();
            errors.add(
                "email",
                format!(
                    "Too many failed sign-in attempts. Try again in {} minute{}.",
                    minutes.max(1),
                    if minutes == 1 { "" } else { "s" }
                ),
            );
            form_again(&cx, StatusCode::TOO_MANY_REQUESTS, form, errors).await
        }
    }
}

async fn form_again(
    cx: &Page,
    status: StatusCode,
    form: SigninForm,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let layout = cx.layout("Sign in").await?;
    render(
        status,
        &SigninPage {
            layout,
            email: form.email,
            next: safe_next(&cx.settings.base_url, Some(&form.next)),
            notice: None,
            errors,
        },
    )
}

#[derive(Default, Deserialize)]
pub struct NoFields {}

pub async fn sign_out(
    pool: web::Data<PgPool>,
    auth: Auth,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    if let Some(user) = &auth.user {
        ops::accounts::signed_out(&pool, &auth.ctx(), user.email.clone()).await?;
    }
    auth.session.sign_out();
    Ok(see_other("/signin"))
}
