//! An organization's home: my role, my access in each environment, and the environment selector,
//! whose links enter the environments I can enter (a message when there is none). An old
//! `?env=KIND` link enters that environment too.

use crate::routes::page::{Page, PageRequest};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::authz::{self, EnvKind, OrgPermission};
use crate::db::orgs::{Access, EnvironmentAccess};
use crate::error::AppError;
use crate::routes::layout::Layout;
use crate::routes::{render, see_other};

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct EnvQuery {
    pub env: Option<String>,
}

#[derive(Template)]
#[template(path = "orgs/show.html")]
struct OrgPage {
    layout: Layout,
    access: Access,
    reachable: Vec<EnvironmentAccess>,
    can_manage_profile: bool,
    can_view_access: bool,
    can_review_audit: bool,
}

pub async fn get(
    page_request: PageRequest,
    slug: web::Path<String>,
    query: web::Query<EnvQuery>,
) -> Result<HttpResponse, AppError> {
    let (cx, access, mut layout) = page_request
        .org_frame(&slug, OrgPermission::ViewOrganization, |access| {
            access.org.name.clone()
        })
        .await?;
    let reachable: Vec<EnvironmentAccess> = access
        .environments
        .iter()
        .filter(|e| e.role.is_some())
        .cloned()
        .collect();
    let wanted = query.env.as_deref().and_then(|e| e.parse::<EnvKind>().ok());
    if let Some(env) = wanted.and_then(|kind| reachable.iter().find(|e| e.kind == kind)) {
        return Ok(see_other(&format!(
            "/orgs/{}/env/{}",
            access.org.slug, env.kind
        )));
    }
    let Page { auth, .. } = &cx;
    auth.session.set_current_org(&access.org.slug);
    layout.current_org = Some(access.org.slug.clone());
    let can_manage_profile = authz::org_can(access.role, OrgPermission::ManageProfile);
    let can_view_access = authz::org_can(access.role, OrgPermission::ViewOrgRoles);
    let can_review_audit = authz::org_can(access.role, OrgPermission::ReviewAudit);
    render(
        StatusCode::OK,
        &OrgPage {
            layout,
            access,
            reachable,
            can_manage_profile,
            can_view_access,
            can_review_audit,
        },
    )
}
