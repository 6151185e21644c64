//! Organization settings (owners only): the name and the sign-in policy.

use crate::routes::page::{Page, PageRequest};
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
use crate::ops::orgs::PolicyChange;
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
    /// Members without two-factor sign-in, shown before the policy is turned on.
    lacking_two_factor: i64,
}

async fn settings_page(
    cx: &Page,
    status: StatusCode,
    org: Organization,
    name: String,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let org_id = org.id;
    let lacking_two_factor = crate::db::run(&cx.pool, move |c| {
        crate::db::orgs::members_without_two_factor(c, org_id)
    })
    .await?;
    let layout = cx.layout(title(&org)).await?;
    show(status, org, name, errors, lacking_two_factor, layout)
}

fn title(org: &Organization) -> String {
    format!("Settings · {}", org.name)
}

fn show(
    status: StatusCode,
    org: Organization,
    name: String,
    errors: FieldErrors,
    lacking_two_factor: i64,
    layout: Layout,
) -> Result<HttpResponse, AppError> {
    render(
        status,
        &SettingsPage {
            layout,
            org,
            name,
            errors,
            lacking_two_factor,
        },
    )
}

pub async fn get(
    page_request: PageRequest,
    slug: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (_, access, lacking_two_factor, layout) = page_request
        .org_page(
            &slug,
            OrgPermission::ManageProfile,
            |c, access| crate::db::orgs::members_without_two_factor(c, access.org.id),
            |access| title(&access.org),
        )
        .await?;
    let name = access.org.name.clone();
    show(
        StatusCode::OK,
        access.org,
        name,
        FieldErrors::default(),
        lacking_two_factor,
        layout,
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
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return settings_page(&cx, status, access.org, form.name, errors).await;
    };
    let org = ops::orgs::rename(pool, &auth.ctx(), &access.org, name).await?;
    auth.session.flash(
        FlashKind::Success,
        format!("The organization is now called {}.", org.name),
    );
    Ok(see_other(&format!("/orgs/{}", org.slug)))
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct PolicyForm {
    /// "on" or "off".
    pub require_two_factor: String,
}

/// The sign-in policy: "Require two-factor sign-in" (owners, DESIGN §14).
pub async fn two_factor_policy(
    cx: Page,
    slug: web::Path<String>,
    CsrfForm(form): CsrfForm<PolicyForm>,
) -> Result<HttpResponse, AppError> {
    let (user, access) = cx.require_org(&slug, OrgPermission::ManageProfile).await?;
    let required = match form.require_two_factor.as_str() {
        "on" => true,
        "off" => false,
        _ => return Err(AppError::BadRequest("require_two_factor: on or off".into())),
    };
    let ctx = cx.auth.ctx();
    let outcome = ops::orgs::set_require_two_factor(
        &cx.pool,
        &ctx,
        &access.org,
        user.has_two_factor(),
        required,
    )
    .await?;
    if outcome == PolicyChange::OwnTwoFactorFirst {
        let mut errors = FieldErrors::default();
        errors.add(
            "require_two_factor",
            "Set up two-factor sign-in for your own account first (Account → Two-factor sign-in), so the policy does not lock you out.",
        );
        let name = access.org.name.clone();
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return settings_page(&cx, status, access.org, name, errors).await;
    }
    let message = match (outcome, required) {
        (PolicyChange::Changed, true) => {
            "Two-factor sign-in is now required: members without it see how to set it up instead of the organization."
        }
        (PolicyChange::Changed, false) => "Two-factor sign-in is no longer required.",
        _ => "Nothing changed.",
    };
    cx.auth.session.flash(FlashKind::Success, message);
    Ok(see_other(&format!("/orgs/{}/settings", access.org.slug)))
}
