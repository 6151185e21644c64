//! The account page (DESIGN §14): name, email (a new one takes effect once its link is used),
//! links to password, two-factor, sessions and API keys, and the account's security log, paged.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::csrf::CsrfForm;
use crate::auth::session::FlashKind;
use crate::db;
use crate::db::audit::AuditEvent;
use crate::domain::{EmailAddress, PersonName};
use crate::email::worker::OutboxSignal;
use crate::error::AppError;
use crate::ops;
use crate::ops::accounts::{EmailChange, EmailConfirm};
use crate::routes::layout::{FieldErrors, Layout};
use crate::routes::page::{Page, PageRequest};
use crate::routes::pagination::{PAGE_SIZE, Pagination};
use crate::routes::time::Shown as _;
use crate::routes::{reconfirm_password, render, see_other};

const PLACE: &str = "/account";

#[derive(Template)]
#[template(path = "auth/account.html")]
struct AccountPage {
    layout: Layout,
    name: String,
    email: String,
    pending_email: Option<String>,
    new_email: String,
    two_factor: bool,
    passkeys: i32,
    events: Vec<AuditEvent>,
    pagination: Pagination,
    errors: FieldErrors,
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct PageQuery {
    pub page: Option<i64>,
}

/// The page, with what was typed kept: (name, new email), and the page `page` of the security
/// log with the log's total.
async fn page(
    cx: &Page,
    status: StatusCode,
    (page, (events, total)): (i64, (Vec<AuditEvent>, i64)),
    (name, new_email): (Option<String>, String),
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let user = cx.auth.require_user()?;
    let layout = cx.layout("Your account").await?;
    render(
        status,
        &AccountPage {
            layout,
            name: name.unwrap_or_else(|| user.name.clone()),
            email: user.email.clone(),
            pending_email: user.pending_email.clone(),
            new_email,
            two_factor: user.has_totp(),
            passkeys: user.passkey_count,
            events,
            pagination: Pagination::new(page, total, PLACE, ""),
            errors,
        },
    )
}

/// The page shown again with a form's errors: the log's first page read on a trip of its own.
async fn page_again(
    cx: &Page,
    kept: (Option<String>, String),
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let user = cx.auth.require_user()?;
    let log = ops::accounts::security_log(&cx.pool, user, Pagination::offset(1), PAGE_SIZE).await?;
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    page(cx, status, (1, log), kept, errors).await
}

/// The account and its security log, read with the session on the page's one trip.
pub async fn show(
    page_request: PageRequest,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    let asked = Pagination::page_asked(query.page);
    let (cx, log) = page_request
        .signed_in_page(move |c, who| {
            let (id, email) = (who.user.id, &who.user.email);
            db::audit::security_log(c, id, email, Pagination::offset(asked), PAGE_SIZE)
        })
        .await?;
    let kept = (None, String::new());
    page(
        &cx,
        StatusCode::OK,
        (asked, log),
        kept,
        FieldErrors::default(),
    )
    .await
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct NameForm {
    pub name: String,
}

pub async fn rename(
    cx: Page,
    CsrfForm(form): CsrfForm<NameForm>,
) -> Result<HttpResponse, AppError> {
    let user = cx.auth.require_user()?.clone();
    let mut errors = FieldErrors::default();
    let Some(name) = errors.check("name", PersonName::parse(&form.name)) else {
        let kept = (Some(form.name), String::new());
        return page_again(&cx, kept, errors).await;
    };
    ops::accounts::rename(&cx.pool, &cx.auth.ctx(), user, name).await?;
    cx.auth
        .session
        .flash(FlashKind::Success, "Your name was changed.");
    Ok(see_other(PLACE))
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct EmailForm {
    pub new_email: String,
    pub password: String,
}

pub async fn change_email(
    cx: Page,
    outbox: web::Data<OutboxSignal>,
    CsrfForm(form): CsrfForm<EmailForm>,
) -> Result<HttpResponse, AppError> {
    let user = cx.auth.require_user()?.clone();
    let mut errors = FieldErrors::default();
    let new = errors.check("new_email", EmailAddress::parse(&form.new_email));
    let again = |errors| {
        let kept = (None, form.new_email.clone());
        page_again(&cx, kept, errors)
    };
    let Some(new) = new else {
        return again(errors).await;
    };
    let checked = reconfirm_password(&cx, &form.password).await?;
    if !checked.is_ok() {
        let message = match checked {
            ops::reauth::Reauth::Missing => "Enter your password to change your email address.",
            other => other.problem(),
        };
        errors.add("password", message);
        return again(errors).await;
    }
    let ctx = cx.auth.ctx();
    let outcome =
        ops::accounts::request_email_change(&cx.pool, &cx.settings, &outbox, &ctx, user, new)
            .await?;
    match outcome {
        EmailChange::Sent => {
            cx.auth.session.flash(
                FlashKind::Success,
                format!(
                    "We sent a link to {}. Your address changes once you open it; until then you keep signing in with your current one.",
                    form.new_email.trim()
                ),
            );
            Ok(see_other(PLACE))
        }
        EmailChange::Unchanged => {
            errors.add("new_email", "That is already your address.");
            again(errors).await
        }
        EmailChange::Limited => {
            errors.add(
                "new_email",
                "Too many emails to that address just now. Try again in 15 minutes.",
            );
            again(errors).await
        }
    }
}

#[derive(Template)]
#[template(path = "auth/email_changed.html")]
struct ChangedPage {
    layout: Layout,
    outcome: &'static str,
    email: String,
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct TokenQuery {
    pub token: String,
}

/// The link sent to a new address.
pub async fn confirm_email(
    cx: Page,
    outbox: web::Data<OutboxSignal>,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, AppError> {
    let token = query.into_inner().token;
    let ctx = cx.auth.ctx();
    let outcome =
        ops::accounts::confirm_email_change(&cx.pool, &cx.settings, &outbox, &ctx, token).await?;
    let (status, outcome, email) = match outcome {
        EmailConfirm::Changed(email) => (StatusCode::OK, "changed", email),
        EmailConfirm::Taken => (StatusCode::CONFLICT, "taken", String::new()),
        EmailConfirm::Link(crate::db::tokens::Lookup::Used) => {
            (StatusCode::GONE, "used", String::new())
        }
        EmailConfirm::Link(crate::db::tokens::Lookup::Expired) => {
            (StatusCode::GONE, "expired", String::new())
        }
        EmailConfirm::Link(_) => (StatusCode::NOT_FOUND, "unknown", String::new()),
    };
    let layout = cx.layout("Email address").await?;
    render(
        status,
        &ChangedPage {
            layout,
            outcome,
            email,
        },
    )
}
