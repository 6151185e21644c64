//! Sign in and sign out, with database-held throttling of failures per account and per IP.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::Duration;
use secrecy::SecretString;
use serde::Deserialize;

use crate::audit::{self, Actor};
use crate::auth::Auth;
use crate::auth::csrf::CsrfForm;
use crate::auth::password;
use crate::config::Settings;
use crate::db::{self, PgPool};
use crate::error::AppError;
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

pub async fn get(
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    auth: Auth,
    query: web::Query<SigninQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    if auth.user.is_some() {
        return Ok(see_other(&safe_next(query.next.as_deref())));
    }
    let notice = query.reset.is_some().then_some("Your password was changed and every session was signed out. Sign in with your new password.");
    let layout = Layout::load(&pool, &settings, &auth, "Sign in").await?;
    render(
        StatusCode::OK,
        &SigninPage {
            layout,
            email: query.email.unwrap_or_default(),
            next: safe_next(query.next.as_deref()),
            notice,
            errors: FieldErrors::default(),
        },
    )
}

pub async fn post(
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    auth: Auth,
    CsrfForm(form): CsrfForm<SigninForm>,
) -> Result<HttpResponse, AppError> {
    let email = form.email.trim().to_lowercase();
    let ip = auth.meta.ip.clone().unwrap_or_default();
    let window = Duration::minutes(settings.signin_lock_minutes);

    let (lookup_email, lookup_ip) = (email.clone(), ip.clone());
    let (locked, user) = db::run(&pool, move |c| -> Result<_, diesel::result::Error> {
        Ok((
            db::throttle::locked_until(c, &lookup_email, &lookup_ip)?,
            db::users::find_by_email(c, &lookup_email)?,
        ))
    })
    .await?;
    if let Some(until) = locked {
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
        return form_again(
            &pool,
            &settings,
            &auth,
            StatusCode::TOO_MANY_REQUESTS,
            form,
            errors,
        )
        .await;
    }

    let password_ok = password::verify(
        user.as_ref().map(|u| u.password_hash.clone()),
        SecretString::from(form.password.clone()),
    )
    .await?;
    let meta = auth.meta.clone();
    match user.filter(|_| password_ok) {
        Some(user) => {
            let (id, user_email) = (user.id, user.email.clone());
            db::run(&pool, move |c| {
                db::users::touch_sign_in(c, id)?;
                audit::record(
                    c,
                    audit::Event {
                        organization: None,
                        actor: &Actor::User {
                            id,
                            email: user_email.clone(),
                        },
                        action: "user.signed_in",
                        target: Some(user_email),
                        details: serde_json::json!({}),
                        status: audit::Status::Successful,
                        meta: &meta,
                    },
                )
            })
            .await?;
            auth.session.sign_in(user.id)?;
            Ok(see_other(&safe_next(Some(&form.next))))
        }
        None => {
            let max = settings.signin_max_failures;
            let (fail_email, fail_ip) = (email.clone(), ip);
            db::run(&pool, move |c| {
                db::throttle::record_failure(c, &fail_email, &fail_ip, max, window)?;
                audit::record(
                    c,
                    audit::Event {
                        organization: None,
                        actor: &Actor::Visitor,
                        action: "user.sign_in_failed",
                        target: Some(fail_email.chars().take(254).collect()),
                        details: serde_json::json!({}),
                        status: audit::Status::Denied,
                        meta: &meta,
                    },
                )
            })
            .await?;
            let mut errors = FieldErrors::default();
            errors.add("email", BAD_CREDENTIALS);
            form_again(
                &pool,
                &settings,
                &auth,
                StatusCode::UNPROCESSABLE_ENTITY,
                form,
                errors,
            )
            .await
        }
    }
}

async fn form_again(
    pool: &PgPool,
    settings: &Settings,
    auth: &Auth,
    status: StatusCode,
    form: SigninForm,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let layout = Layout::load(pool, settings, auth, "Sign in").await?;
    render(
        status,
        &SigninPage {
            layout,
            email: form.email,
            next: safe_next(Some(&form.next)),
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
        let (actor, meta, email) = (auth.actor(), auth.meta.clone(), user.email.clone());
        db::run(&pool, move |c| {
            audit::record(
                c,
                audit::Event {
                    organization: None,
                    actor: &actor,
                    action: "user.signed_out",
                    target: Some(email),
                    details: serde_json::json!({}),
                    status: audit::Status::Successful,
                    meta: &meta,
                },
            )
        })
        .await?;
    }
    auth.session.sign_out();
    Ok(see_other("/signin"))
}
