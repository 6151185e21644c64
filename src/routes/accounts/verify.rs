//! Email verification: the emailed link confirms the address; a signed-in, unverified user can
//! ask for a new link.

use crate::routes::page::Page;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::signin::NoFields;
use crate::auth::csrf::CsrfForm;
use crate::auth::session::FlashKind;
use crate::db::tokens::Lookup;
use crate::email::worker::OutboxSignal;
use crate::error::AppError;
use crate::ops;
use crate::routes::layout::Layout;
use crate::routes::{render, see_other};

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct TokenQuery {
    pub token: String,
}

#[derive(Template)]
#[template(path = "auth/verified.html")]
struct VerifiedPage {
    layout: Layout,
    outcome: &'static str,
}

pub async fn get(cx: Page, query: web::Query<TokenQuery>) -> Result<HttpResponse, AppError> {
    let Page { pool, auth, .. } = &cx;
    let token = query.into_inner().token;
    let lookup = ops::accounts::verify_email(pool, &auth.ctx(), token).await?;
    let (status, outcome) = match lookup {
        Lookup::Valid { .. } => (StatusCode::OK, "verified"),
        Lookup::Used => (StatusCode::GONE, "used"),
        Lookup::Expired => (StatusCode::GONE, "expired"),
        Lookup::Unknown => (StatusCode::NOT_FOUND, "unknown"),
    };
    let layout = cx.layout("Email verification").await?;
    render(status, &VerifiedPage { layout, outcome })
}

pub async fn resend(
    cx: Page,
    outbox: web::Data<OutboxSignal>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let Page {
        pool,
        settings,
        auth,
        ..
    } = &cx;
    let user = auth.require_user()?.clone();
    if user.is_verified() {
        auth.session
            .flash(FlashKind::Info, "Your email is already verified.");
        return Ok(see_other("/orgs"));
    }
    if ops::accounts::resend_verification(pool, settings, &outbox, &auth.ctx(), user).await? {
        auth.session.flash(
            FlashKind::Success,
            "We sent a new verification link. Check your email.",
        );
    } else {
        auth.session.flash(
            FlashKind::Info,
            "We sent several emails to your address recently. Check your email, or ask again in 15 minutes.",
        );
    }
    Ok(see_other("/orgs"))
}
