//! Personal API keys for the Platform API: create with a name (the key is shown once), list with
//! prefix, created and last used, revoke.

use crate::routes::page::{Page, PageRequest};
use crate::routes::time::Shown as _;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::signin::NoFields;
use crate::auth::Auth;
use crate::auth::csrf::CsrfForm;
use crate::auth::session::FlashKind;
use crate::db::api_keys::{KeyLifetime, PersonalKey};
use crate::db::{self, PgPool};
use crate::error::AppError;
use crate::ops;
use crate::routes::layout::{FieldErrors, Layout};
use crate::routes::{render, reveal, see_other};

#[derive(Template)]
#[template(path = "auth/api_keys.html")]
struct KeysPage {
    layout: Layout,
    keys: Vec<PersonalKey>,
    new_key: Option<String>,
    name: String,
    /// The lifetime chosen (a value of `KeyLifetime::CHOICES`).
    expires: String,
    errors: FieldErrors,
    verified: bool,
}

async fn page(
    cx: &Page,
    status: StatusCode,
    keys: Vec<PersonalKey>,
    new_key: Option<String>,
    (name, expires): (String, String),
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let verified = cx.auth.require_user()?.is_verified();
    let layout = cx.layout("API keys").await?;
    render(
        status,
        &KeysPage {
            layout,
            keys,
            new_key,
            name,
            expires,
            errors,
            verified,
        },
    )
}

/// The page shown again with a form's errors: its keys read on a trip of their own.
async fn page_again(
    cx: &Page,
    status: StatusCode,
    kept: (String, String),
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let user_id = cx.auth.require_user()?.id;
    let keys = db::run(&cx.pool, move |c| db::api_keys::list(c, user_id)).await?;
    page(cx, status, keys, None, kept, errors).await
}

const PLACE: &str = "/account/api-keys";

/// The keys, read with the session on the page's one trip.
pub async fn list(page_request: PageRequest) -> Result<HttpResponse, AppError> {
    let (cx, keys) = page_request
        .signed_in_page(|c, who| db::api_keys::list(c, who.user.id))
        .await?;
    let new_key = reveal::take(&cx, PLACE);
    let shown = page(
        &cx,
        StatusCode::OK,
        keys,
        new_key,
        (String::new(), KeyLifetime::DEFAULT.to_string()),
        FieldErrors::default(),
    )
    .await?;
    Ok(reveal::cleared(&cx, shown, PLACE))
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct KeyForm {
    pub name: String,
    pub expires: String,
}

pub async fn create(cx: Page, CsrfForm(form): CsrfForm<KeyForm>) -> Result<HttpResponse, AppError> {
    let Page { pool, auth, .. } = &cx;
    let user = auth.require_user()?.clone();
    if !user.is_verified() {
        let mut errors = FieldErrors::default();
        errors.add(
            "name",
            "Verify your email address before creating API keys.",
        );
        let kept = (form.name, form.expires);
        return page_again(&cx, StatusCode::FORBIDDEN, kept, errors).await;
    }
    let name = form.name.trim().to_string();
    let mut errors = FieldErrors::default();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        errors.add(
            "name",
            "Name the key (1 to 100 characters) so you can tell it apart later.",
        );
    }
    // A form without the choice (a script's post) gets the default.
    let lifetime = KeyLifetime::parse(match form.expires.as_str() {
        "" => KeyLifetime::DEFAULT,
        chosen => chosen,
    });
    if lifetime.is_none() {
        errors.add(
            "expires",
            "Choose how long the key works: 30, 90 or 365 days, or no expiry.",
        );
    }
    let Some(lifetime) = lifetime.filter(|_| errors.is_empty()) else {
        let (status, kept) = (StatusCode::UNPROCESSABLE_ENTITY, (form.name, form.expires));
        return page_again(&cx, status, kept, errors).await;
    };
    let key = ops::accounts::create_api_key(pool, &auth.ctx(), user, name, lifetime).await?;
    Ok(reveal::redirect_showing(&cx, PLACE, &key))
}

pub async fn revoke(
    pool: web::Data<PgPool>,
    auth: Auth,
    id: web::Path<i64>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let user = auth.require_user()?.clone();
    let name = ops::accounts::revoke_api_key(&pool, &auth.ctx(), user, id.into_inner())
        .await?
        .ok_or(AppError::NotFound)?;
    auth.session.flash(
        FlashKind::Success,
        format!("The key “{name}” was revoked; it stops working at once."),
    );
    Ok(see_other("/account/api-keys"))
}
