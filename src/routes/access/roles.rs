//! The Roles tab: the two permission tables, rendered from the data the checks use.

use crate::routes::page::PageRequest;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::Tabs;
use crate::authz::{self, EnvRole, OrgPermission, OrgRole};
use crate::error::AppError;
use crate::routes::layout::Layout;
use crate::routes::render;

#[derive(Template)]
#[template(path = "access/roles.html")]
struct RolesPage {
    layout: Layout,
    tabs: Tabs,
    org_name: String,
    org_roles: [OrgRole; 3],
    env_roles: [EnvRole; 3],
    org_rows: Vec<(&'static str, Vec<bool>)>,
    env_rows: Vec<(&'static str, Vec<bool>)>,
}

pub async fn get(
    page_request: PageRequest,
    slug: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (_, access, layout) = page_request
        .org_frame(&slug, OrgPermission::ViewOrgRoles, |access| {
            format!("Roles · {}", access.org.name)
        })
        .await?;
    let org_rows = authz::ORG_PERMISSIONS
        .iter()
        .map(|(_, label, roles)| {
            (
                *label,
                OrgRole::ALL.iter().map(|r| roles.contains(r)).collect(),
            )
        })
        .collect();
    let env_rows = authz::ENV_PERMISSIONS
        .iter()
        .map(|(_, label, roles)| {
            (
                *label,
                EnvRole::ALL.iter().map(|r| roles.contains(r)).collect(),
            )
        })
        .collect();
    render(
        StatusCode::OK,
        &RolesPage {
            layout,
            tabs: Tabs::new(&access, "roles"),
            org_name: access.org.name.clone(),
            org_roles: OrgRole::ALL,
            env_roles: EnvRole::ALL,
            org_rows,
            env_rows,
        },
    )
}
