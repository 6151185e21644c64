//! Forgotten password (emailed link, one hour, single use, ends every session) and changing the
//! password while signed in (needs the current one).

use crate::routes::page::Page;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::verify::TokenQuery;
use crate::auth::csrf::CsrfForm;
use crate::auth::password;
use crate::auth::session::FlashKind;
use crate::db::tokens::{self, Lookup, Purpose};
use crate::db::{self, users::User};
use crate::domain::{EmailAddress, NewPassword};
use crate::email::worker::OutboxSignal;
use crate::error::AppError;
use crate::ops;
use crate::ops::reauth::Reauth;
use crate::routes::layout::{FieldErrors, Layout};
use crate::routes::{render, see_other};

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct ForgotForm {
    pub email: String,
}

#[derive(Template)]
#[template(path = "auth/forgot.html")]
struct ForgotPage {
    layout: Layout,
    email: String,
    sent: bool,
    errors: FieldErrors,
}

pub async fn forgot_get(cx: Page) -> Result<HttpResponse, AppError> {
    let layout = cx.layout("Forgot your password?").await?;
    render(
        StatusCode::OK,
        &ForgotPage {
            layout,
            email: String::new(),
            sent: false,
            errors: FieldErrors::default(),
        },
    )
}

/// Answers the same whether or not an account exists, so the form does not reveal accounts.
pub async fn forgot_post(
    cx: Page,
    outbox: web::Data<OutboxSignal>,
    CsrfForm(form): CsrfForm<ForgotForm>,
) -> Result<HttpResponse, AppError> {
    let Page {
        pool,
        settings,
        auth,
        ..
    } = &cx;
    let mut errors = FieldErrors::default();
    let Some(email) = errors.check("email", EmailAddress::parse(&form.email)) else {
        let layout = cx.layout("Forgot your password?").await?;
        return render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &ForgotPage {
                layout,
                email: form.email,
                sent: false,
                errors,
            },
        );
    };
    ops::accounts::request_reset(pool, settings, &outbox, &auth.ctx(), email.clone()).await?;
    let layout = cx.layout("Check your email").await?;
    render(
        StatusCode::OK,
        &ForgotPage {
            layout,
            email: email.as_str().to_string(),
            sent: true,
            errors,
        },
    )
}

#[derive(Template)]
#[template(path = "auth/reset.html")]
struct ResetPage {
    layout: Layout,
    token: String,
    problem: Option<&'static str>,
    errors: FieldErrors,
}

fn token_problem(lookup: &Lookup) -> Option<&'static str> {
    match lookup {
        Lookup::Valid { .. } => None,
        Lookup::Expired => Some("This password reset link has expired. Links work for one hour."),
        Lookup::Used => Some("This password reset link was already used. Each link works once."),
        Lookup::Unknown => {
            Some("This password reset link is not valid. Check that you copied all of it.")
        }
    }
}

async fn reset_page(
    cx: &Page,
    status: StatusCode,
    page: impl FnOnce(Layout) -> ResetPage,
) -> Result<HttpResponse, AppError> {
    let layout = cx.layout("Choose a new password").await?;
    render(status, &page(layout))
}

pub async fn reset_get(cx: Page, query: web::Query<TokenQuery>) -> Result<HttpResponse, AppError> {
    let Page { pool, .. } = &cx;
    let token = query.into_inner().token;
    let peek = token.clone();
    let lookup = db::run(pool, move |c| {
        tokens::find_for_use(c, &peek, Purpose::ResetPassword)
    })
    .await?;
    let problem = token_problem(&lookup);
    let status = if problem.is_some() {
        StatusCode::GONE
    } else {
        StatusCode::OK
    };
    reset_page(&cx, status, |layout| ResetPage {
        layout,
        token,
        problem,
        errors: FieldErrors::default(),
    })
    .await
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct ResetForm {
    pub token: String,
    pub password: String,
}

pub async fn reset_post(
    cx: Page,
    CsrfForm(form): CsrfForm<ResetForm>,
) -> Result<HttpResponse, AppError> {
    let Page { pool, .. } = &cx;
    let (lookup, user) = ops::accounts::peek_reset(pool, form.token.clone()).await?;
    if let Some(problem) = token_problem(&lookup) {
        return reset_page(&cx, StatusCode::GONE, |layout| ResetPage {
            layout,
            token: form.token,
            problem: Some(problem),
            errors: FieldErrors::default(),
        })
        .await;
    }
    reset_with(&cx, form, user).await
}

async fn reset_with(
    cx: &Page,
    form: ResetForm,
    user: Option<User>,
) -> Result<HttpResponse, AppError> {
    let Page { pool, auth, .. } = cx;
    let user = user.ok_or(AppError::NotFound)?;
    let mut errors = FieldErrors::default();
    let Some(new) = errors.check(
        "password",
        NewPassword::parse(&form.password, &user.name, &user.email),
    ) else {
        return reset_page(cx, StatusCode::UNPROCESSABLE_ENTITY, |layout| ResetPage {
            layout,
            token: form.token,
            problem: None,
            errors,
        })
        .await;
    };
    let hash = password::hash(new.secret().clone()).await?;
    let done =
        ops::accounts::reset_password(pool, &auth.ctx(), form.token.clone(), user, hash).await?;
    if let Some(problem) = token_problem(&done) {
        return reset_page(cx, StatusCode::GONE, |layout| ResetPage {
            layout,
            token: form.token,
            problem: Some(problem),
            errors: FieldErrors::default(),
        })
        .await;
    }
    auth.session.sign_out();
    Ok(see_other("/signin?reset=1"))
}

#[derive(Template)]
#[template(path = "auth/change_password.html")]
struct ChangePage {
    layout: Layout,
    errors: FieldErrors,
}

pub async fn change_get(cx: Page) -> Result<HttpResponse, AppError> {
    let Page { auth, .. } = &cx;
    auth.require_user()?;
    let layout = cx.layout("Change password").await?;
    render(
        StatusCode::OK,
        &ChangePage {
            layout,
            errors: FieldErrors::default(),
        },
    )
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct ChangeForm {
    pub current_password: String,
    pub new_password: String,
}

pub async fn change_post(
    cx: Page,
    CsrfForm(form): CsrfForm<ChangeForm>,
) -> Result<HttpResponse, AppError> {
    let Page {
        pool,
        settings,
        auth,
        ..
    } = &cx;
    let user = auth.require_user()?.clone();
    let mut errors = FieldErrors::default();
    let answer = ops::reauth::confirm_password(
        pool,
        settings,
        &auth.ctx(),
        &user,
        Some(&form.current_password),
        None,
    )
    .await?;
    let current_ok = answer.is_ok();
    match answer {
        Reauth::Missing | Reauth::Wrong => {
            errors.add("current_password", "Your current password is incorrect.");
        }
        Reauth::Locked => errors.add("current_password", answer.problem()),
        Reauth::Fresh | Reauth::Confirmed => {}
    }
    let new = errors.check(
        "new_password",
        NewPassword::parse(&form.new_password, &user.name, &user.email),
    );
    let (true, Some(new)) = (current_ok, new) else {
        let layout = cx.layout("Change password").await?;
        return render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &ChangePage { layout, errors },
        );
    };
    let hash = password::hash(new.secret().clone()).await?;
    ops::accounts::change_password(pool, &auth.ctx(), user, hash).await?;
    // Every other session ended above; this one continues under a new id.
    auth.session.renew();
    auth.session.flash(
        FlashKind::Success,
        "Your password was changed. Other sessions were signed out.",
    );
    Ok(see_other("/orgs"))
}
