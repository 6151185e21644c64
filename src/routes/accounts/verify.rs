//! Email verification: the emailed link confirms the address; a signed-in, unverified user can
//! ask for a new link.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use diesel::Connection;
use serde::Deserialize;

use super::queue_verification;
use super::signin::NoFields;
use crate::audit::{self, Actor};
use crate::auth::Auth;
use crate::auth::csrf::CsrfForm;
use crate::auth::session::FlashKind;
use crate::config::Settings;
use crate::db::tokens::{self, Lookup, Purpose};
use crate::db::{self, PgPool};
use crate::email::worker::OutboxSignal;
use crate::error::AppError;
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

pub async fn get(
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    auth: Auth,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, AppError> {
    let token = query.into_inner().token;
    let meta = auth.meta.clone();
    let lookup = db::run(&pool, move |c| {
        c.transaction(|c| -> Result<Lookup, diesel::result::Error> {
            let lookup = tokens::find_for_use(c, &token, Purpose::VerifyEmail)?;
            if let Lookup::Valid { token_id, user_id } = lookup {
                tokens::mark_used(c, token_id)?;
                db::users::mark_verified(c, user_id)?;
                let email = db::users::find(c, user_id)?
                    .map(|u| u.email)
                    .unwrap_or_default();
                audit::record(
                    c,
                    audit::Event {
                        organization: None,
                        actor: &Actor::User {
                            id: user_id,
                            email: email.clone(),
                        },
                        action: "user.email_verified",
                        target: Some(email),
                        details: serde_json::json!({}),
                        status: audit::Status::Successful,
                        meta: &meta,
                    },
                )?;
            }
            Ok(lookup)
        })
    })
    .await?;
    let (status, outcome) = match lookup {
        Lookup::Valid { .. } => (StatusCode::OK, "verified"),
        Lookup::Used => (StatusCode::GONE, "used"),
        Lookup::Expired => (StatusCode::GONE, "expired"),
        Lookup::Unknown => (StatusCode::NOT_FOUND, "unknown"),
    };
    let layout = Layout::load(&pool, &settings, &auth, "Email verification").await?;
    render(status, &VerifiedPage { layout, outcome })
}

pub async fn resend(
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    outbox: web::Data<OutboxSignal>,
    auth: Auth,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let user = auth.require_user()?.clone();
    if user.is_verified() {
        auth.session
            .flash(FlashKind::Info, "Your email is already verified.");
        return Ok(see_other("/orgs"));
    }
    let (settings_for_tx, meta) = (settings.clone(), auth.meta.clone());
    db::run(&pool, move |c| {
        c.transaction(|c| -> Result<(), AppError> {
            queue_verification(c, &settings_for_tx, user.id, &user.name, &user.email)?;
            audit::record(
                c,
                audit::Event {
                    organization: None,
                    actor: &Actor::User {
                        id: user.id,
                        email: user.email.clone(),
                    },
                    action: "user.verification_sent",
                    target: Some(user.email.clone()),
                    details: serde_json::json!({}),
                    status: audit::Status::Successful,
                    meta: &meta,
                },
            )?;
            Ok(())
        })
    })
    .await?;
    outbox.wake();
    auth.session.flash(
        FlashKind::Success,
        "We sent a new verification link. Check your email.",
    );
    Ok(see_other("/orgs"))
}
