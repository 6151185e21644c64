//! Organization settings: the name (owners only).

use crate::routes::page::Page;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::csrf::CsrfForm;
use crate::auth::session::FlashKind;
use crate::authz::OrgPermission;
use crate::db::orgs::Organization;
use crate::domain::OrgName;
use crate::error::AppError;
use crate::ops;
use crate::routes::layout::{FieldErrors, Layout};
use crate::routes::{render, see_other};

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct RenameForm {
    pub name: String,
}

#[derive(Template)]
#[template(path = "orgs/settings.html")]
struct SettingsPage {
    layout: Layout,
    org: Organization,
    name: String,
    errors: FieldErrors,
}

pub async fn get(cx: Page, slug: web::Path<String>) -> Result<HttpResponse, AppError> {
    let (_, access) = cx.require_org(&slug, OrgPermission::ManageProfile).await?;
    let layout = cx.layout(format!("Settings · {}", access.org.name)).await?;
    let name = access.org.name.clone();
    render(
        StatusCode::OK,
        &SettingsPage {
            layout,
            org: access.org,
            name,
            errors: FieldErrors::default(),
        },
    )
}

pub async fn post(
    cx: Page,
    slug: web::Path<String>,
    CsrfForm(form): CsrfForm<RenameForm>,
) -> Result<HttpResponse, AppError> {
    let Page { pool, auth, .. } = &cx;
    let (_, access) = cx.require_org(&slug, OrgPermission::ManageProfile).await?;
    let mut errors = FieldErrors::default();
    let Some(name) = errors.check("name", OrgName::parse(&form.name)) else {
        let layout = cx.layout(format!("Settings · {}", access.org.name)).await?;
        return render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &SettingsPage {
                layout,
                org: access.org,
                name: form.name,
                errors,
            },
        );
    };
    let org = ops::orgs::rename(pool, &auth.ctx(), &access.org, name).await?;
    auth.session.flash(
        FlashKind::Success,
        format!("The organization is now called {}.", org.name),
    );
    Ok(see_other(&format!("/orgs/{}", org.slug)))
}
