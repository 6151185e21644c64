//! Deleting an organization: owners, sandbox organizations only, after typing its exact name.
//! A live organization shows the control disabled: only a platform operator can delete it.

use crate::routes::page::{Page, PageRequest};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::csrf::CsrfForm;
use crate::auth::session::FlashKind;
use crate::authz::OrgPermission;
use crate::db::lifecycle::DeleteOutcome;
use crate::db::orgs::Organization;
use crate::email::worker::OutboxSignal;
use crate::error::AppError;
use crate::routes::layout::{FieldErrors, Layout};
use crate::routes::{render, see_other};

pub const LIVE_MESSAGE: &str = "Live organizations can only be deleted by a platform operator";

#[derive(Template)]
#[template(path = "orgs/delete.html")]
struct DeletePage {
    layout: Layout,
    org: Organization,
    typed: String,
    errors: FieldErrors,
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct DeleteForm {
    pub name: String,
}

pub async fn get(
    page_request: PageRequest,
    slug: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (_, access, layout) = page_request
        .org_frame(&slug, OrgPermission::DeleteOrganization, |access| {
            format!("Delete {}", access.org.name)
        })
        .await?;
    render(
        StatusCode::OK,
        &DeletePage {
            layout,
            org: access.org,
            typed: String::new(),
            errors: FieldErrors::default(),
        },
    )
}

pub async fn post(
    cx: Page,
    outbox: web::Data<OutboxSignal>,
    slug: web::Path<String>,
    CsrfForm(form): CsrfForm<DeleteForm>,
) -> Result<HttpResponse, AppError> {
    let Page { pool, auth, .. } = &cx;
    let (_, access) = cx
        .require_org(&slug, OrgPermission::DeleteOrganization)
        .await?;
    let mut errors = FieldErrors::default();
    if form.name != access.org.name {
        errors.add(
            "name",
            format!("Type the organization's name exactly: {}", access.org.name),
        );
        let layout = cx.layout(format!("Delete {}", access.org.name)).await?;
        return render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &DeletePage {
                layout,
                org: access.org,
                typed: form.name,
                errors,
            },
        );
    }
    let by = crate::ops::orgs::Deleter::Owner;
    match crate::ops::orgs::delete(pool, &outbox, &auth.ctx(), access.org.id, by).await? {
        DeleteOutcome::Deleted { .. } => {
            auth.session.flash(
                FlashKind::Success,
                format!(
                    "{} was deleted. Its members were told by email.",
                    access.org.name
                ),
            );
            Ok(see_other("/orgs"))
        }
        DeleteOutcome::Live => {
            errors.add("name", LIVE_MESSAGE);
            let layout = cx.layout(format!("Delete {}", access.org.name)).await?;
            render(
                StatusCode::FORBIDDEN,
                &DeletePage {
                    layout,
                    org: access.org,
                    typed: form.name,
                    errors,
                },
            )
        }
        DeleteOutcome::NotOwner => Err(AppError::Forbidden),
        DeleteOutcome::NotFound => Err(AppError::NotFound),
    }
}
