//! Creating an organization: verified users only, at most MAX_ORGS_PER_USER memberships.

use crate::routes::page::Page;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;
use serde::Deserialize;

use crate::auth::csrf::CsrfForm;
use crate::auth::session::FlashKind;
use crate::domain::OrgName;
use crate::error::AppError;
use crate::ops;
use crate::routes::layout::{FieldErrors, Layout};
use crate::routes::{render, see_other};

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct NewOrgForm {
    pub name: String,
}

#[derive(Template)]
#[template(path = "orgs/new.html")]
struct NewOrgPage {
    layout: Layout,
    verified: bool,
    name: String,
    errors: FieldErrors,
}

/// DESIGN §2: the message when a membership would pass the limit.
pub fn limit_message(max: i64) -> String {
    format!(
        "You already belong to {max} organizations, the most allowed. Leave one before joining another."
    )
}

pub async fn get(cx: Page) -> Result<HttpResponse, AppError> {
    let Page { auth, .. } = &cx;
    let verified = auth.require_user()?.is_verified();
    let layout = cx.layout("Create an organization").await?;
    render(
        StatusCode::OK,
        &NewOrgPage {
            layout,
            verified,
            name: String::new(),
            errors: FieldErrors::default(),
        },
    )
}

pub async fn post(
    cx: Page,
    CsrfForm(form): CsrfForm<NewOrgForm>,
) -> Result<HttpResponse, AppError> {
    let Page {
        pool,
        settings,
        auth,
        ..
    } = &cx;
    let user = auth.require_user()?.clone();
    let mut errors = FieldErrors::default();
    if !user.is_verified() {
        errors.add(
            "name",
            "Verify your email address before creating an organization.",
        );
        return form_again(&cx, StatusCode::FORBIDDEN, false, form, errors).await;
    }
    let Some(name) = errors.check("name", OrgName::parse(&form.name)) else {
        return form_again(&cx, StatusCode::UNPROCESSABLE_ENTITY, true, form, errors).await;
    };
    let max = settings.max_orgs_per_user;
    let created = ops::orgs::create(pool, &auth.ctx(), user.id, name, max).await?;
    match created {
        Some(org) => {
            auth.session.set_current_org(&org.slug);
            auth.session.flash(
                FlashKind::Success,
                format!("{} was created. You are its owner.", org.name),
            );
            Ok(see_other(&format!("/orgs/{}", org.slug)))
        }
        None => {
            errors.add("name", limit_message(max));
            form_again(&cx, StatusCode::UNPROCESSABLE_ENTITY, true, form, errors).await
        }
    }
}

async fn form_again(
    cx: &Page,
    status: StatusCode,
    verified: bool,
    form: NewOrgForm,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let layout = cx.layout("Create an organization").await?;
    render(
        status,
        &NewOrgPage {
            layout,
            verified,
            name: form.name,
            errors,
        },
    )
}
