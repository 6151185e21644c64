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
    /// This link, for signing in and coming back to it.
    back: String,
}

impl VerifiedPage {
    /// `next=` this link, for the sign-in page.
    fn next_query(&self) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("next", &self.back)
            .finish()
    }
}

pub async fn get(cx: Page, query: web::Query<TokenQuery>) -> Result<HttpResponse, AppError> {
    use ops::accounts::Verification;
    let Page { pool, auth, .. } = &cx;
    let token = query.into_inner().token;
    let back = format!(
        "/verify-email?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", &token)
            .finish()
    );
    let signed_in = auth.user.as_ref().map(|u| u.id);
    let verification = ops::accounts::verify_email(pool, &auth.ctx(), token, signed_in).await?;
    let (status, outcome) = match verification {
        Verification::Verified => (StatusCode::OK, "verified"),
        Verification::SignInFirst => (StatusCode::OK, "sign_in"),
        Verification::OtherAccount => (StatusCode::FORBIDDEN, "other_account"),
        Verification::Link(Lookup::Used) => (StatusCode::GONE, "used"),
        Verification::Link(Lookup::Expired) => (StatusCode::GONE, "expired"),
        Verification::Link(_) => (StatusCode::NOT_FOUND, "unknown"),
    };
    let layout = cx.layout("Email verification").await?;
    render(
        status,
        &VerifiedPage {
            layout,
            outcome,
            back,
        },
    )
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
