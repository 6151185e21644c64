//! Leaving an organization: any member but the last owner.

use crate::routes::page::{Page, PageRequest};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use crate::auth::csrf::CsrfForm;
use crate::auth::session::FlashKind;
use crate::authz::OrgPermission;
use crate::db::members::LeaveOutcome;
use crate::db::orgs::Organization;
use crate::error::AppError;
use crate::routes::accounts::signin::NoFields;
use crate::routes::layout::Layout;
use crate::routes::{render, see_other};

#[derive(Template)]
#[template(path = "orgs/leave.html")]
struct LeavePage {
    layout: Layout,
    org: Organization,
    problem: Option<&'static str>,
}

pub const LAST_OWNER: &str = "You are the last owner of this organization, so you cannot leave it. Make another member an owner first.";

pub async fn get(
    page_request: PageRequest,
    slug: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (_, access, layout) = page_request
        .org_frame(&slug, OrgPermission::ViewOrganization, |access| {
            format!("Leave {}", access.org.name)
        })
        .await?;
    render(
        StatusCode::OK,
        &LeavePage {
            layout,
            org: access.org,
            problem: None,
        },
    )
}

pub async fn post(
    cx: Page,
    slug: web::Path<String>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let Page { pool, auth, .. } = &cx;
    let (_, access) = cx
        .require_org(&slug, OrgPermission::ViewOrganization)
        .await?;
    match crate::ops::members::leave(pool, &auth.ctx(), access.org.id).await? {
        LeaveOutcome::Left => {
            auth.session
                .flash(FlashKind::Success, format!("You left {}.", access.org.name));
            Ok(see_other("/orgs"))
        }
        LeaveOutcome::NotMember => Err(AppError::NotFound),
        LeaveOutcome::LastOwner => {
            let layout = cx.layout(format!("Leave {}", access.org.name)).await?;
            render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &LeavePage {
                    layout,
                    org: access.org,
                    problem: Some(LAST_OWNER),
                },
            )
        }
    }
}
