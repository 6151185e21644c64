//! The Environments tab: each environment with its number of users, a detailed view of one
//! environment's users, and the members × environments grid where many roles change in one save.

use crate::routes::page::{Page, PageRequest};
use crate::routes::pagination::{PAGE_SIZE, Pagination};
use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::Tabs;
use crate::auth::csrf::CsrfForm;
use crate::auth::session::FlashKind;
use crate::authz::{EnvKind, EnvRole, OrgPermission};
use crate::db::members::{EnvironmentUser, Member};
use crate::db::roles::{self, Desired};
use crate::db::{self};
use crate::error::AppError;
use crate::ops::{self, roles::GridOutcome};
use crate::routes::layout::Layout;
use crate::routes::{reconfirm_password, render, see_other};

#[derive(Template)]
#[template(path = "access/environments.html")]
struct EnvironmentsPage {
    layout: Layout,
    tabs: Tabs,
    org_name: String,
    counts: Vec<(EnvKind, i64)>,
}

pub async fn list(
    page_request: PageRequest,
    slug: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (_, access, counts, layout) = page_request
        .org_page(
            &slug,
            OrgPermission::ManageEnvironmentRoles,
            |c, access| db::members::environment_counts(c, access.org.id),
            |access| format!("Environments · {}", access.org.name),
        )
        .await?;
    render(
        StatusCode::OK,
        &EnvironmentsPage {
            layout,
            tabs: Tabs::new(&access, "environments"),
            org_name: access.org.name.clone(),
            counts,
        },
    )
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct PageQuery {
    pub page: Option<i64>,
}

#[derive(Template)]
#[template(path = "access/environment.html")]
struct EnvironmentPage {
    layout: Layout,
    tabs: Tabs,
    org_name: String,
    kind: EnvKind,
    users: Vec<EnvironmentUser>,
    total: i64,
    pagination: Pagination,
}

pub async fn show(
    page_request: PageRequest,
    path: web::Path<(String, String)>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    let (slug, kind) = path.into_inner();
    let kind: EnvKind = kind.parse().map_err(|_| AppError::NotFound)?;
    let page = Pagination::page_asked(query.page);
    let (_, access, (users, total), layout) = page_request
        .org_page(
            &slug,
            OrgPermission::ManageEnvironmentRoles,
            move |c, access| {
                let offset = Pagination::offset(page);
                db::members::environment_users(c, access.org.id, kind, offset, PAGE_SIZE)
            },
            |access| format!("{} · {}", kind.label(), access.org.name),
        )
        .await?;
    let pagination = Pagination::new(
        page,
        total,
        &format!("/orgs/{}/access/environments/{kind}", access.org.slug),
        "",
    );
    render(
        StatusCode::OK,
        &EnvironmentPage {
            layout,
            tabs: Tabs::new(&access, "environments"),
            org_name: access.org.name.clone(),
            kind,
            users,
            total,
            pagination,
        },
    )
}

#[derive(Template)]
#[template(path = "access/grid.html")]
struct GridPage {
    layout: Layout,
    tabs: Tabs,
    org_name: String,
    members: Vec<Member>,
    env_kinds: [EnvKind; 3],
    env_roles: [EnvRole; 3],
    pagination: Pagination,
    needs_password: bool,
    problem: Option<String>,
}

impl GridPage {
    fn user_ids(&self) -> String {
        self.members
            .iter()
            .map(|m| m.user_id.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }
}

async fn grid_page(
    cx: &Page,
    access: &db::orgs::Access,
    status: StatusCode,
    page: i64,
    problem: Option<String>,
) -> Result<HttpResponse, AppError> {
    let org = access.org.clone();
    let listed = db::run(&cx.pool, move |c| grid_members(c, &org, page)).await?;
    let layout = cx.layout(grid_title(access)).await?;
    show_grid(cx, access, status, page, listed, layout, problem)
}

/// The grid's page of members, with the total.
fn grid_members(
    c: &mut db::PgConn,
    org: &db::orgs::Organization,
    page: i64,
) -> db::QueryResult<(Vec<Member>, i64)> {
    db::members::list(c, org, "", Pagination::offset(page), PAGE_SIZE)
}

fn grid_title(access: &db::orgs::Access) -> String {
    format!("Environment access · {}", access.org.name)
}

fn show_grid(
    cx: &Page,
    access: &db::orgs::Access,
    status: StatusCode,
    page: i64,
    (members, total): (Vec<Member>, i64),
    layout: Layout,
    problem: Option<String>,
) -> Result<HttpResponse, AppError> {
    let Page { settings, auth, .. } = cx;
    let pagination = Pagination::new(
        page,
        total,
        &format!("/orgs/{}/access/grid", access.org.slug),
        "",
    );
    render(
        status,
        &GridPage {
            layout,
            tabs: Tabs::new(access, "environments"),
            org_name: access.org.name.clone(),
            members,
            env_kinds: EnvKind::ALL,
            env_roles: EnvRole::ALL,
            pagination,
            needs_password: !auth.session.sudo_fresh(settings.sudo_minutes),
            problem,
        },
    )
}

pub async fn grid(
    page_request: PageRequest,
    slug: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    let page = Pagination::page_asked(query.page);
    let (cx, access, listed, layout) = page_request
        .org_page(
            &slug,
            OrgPermission::ManageEnvironmentRoles,
            move |c, access| grid_members(c, &access.org, page),
            grid_title,
        )
        .await?;
    show_grid(&cx, &access, StatusCode::OK, page, listed, layout, None)
}

/// The roles the grid form asks for, member by member: only the members whose cells changed,
/// or the cell value that is not an environment role.
fn grid_changes(
    form: &HashMap<String, String>,
    members: Vec<Member>,
) -> Result<Vec<(Member, Desired)>, String> {
    let mut changes = Vec::new();
    for member in members {
        let mut desired = Desired::of(&member);
        for (kind, role) in desired.envs.iter_mut() {
            let Some(value) = form.get(&format!("r-{}-{kind}", member.user_id)) else {
                continue;
            };
            *role = match value.as_str() {
                "" => None,
                v => Some(
                    v.parse::<EnvRole>()
                        .map_err(|_| format!("“{v}” is not an environment role."))?,
                ),
            };
        }
        if desired != Desired::of(&member) {
            changes.push((member, desired));
        }
    }
    Ok(changes)
}

/// Saves every changed cell of the grid in one transaction: all of them or none.
pub async fn save(
    cx: Page,
    slug: web::Path<String>,
    CsrfForm(form): CsrfForm<HashMap<String, String>>,
) -> Result<HttpResponse, AppError> {
    let Page { pool, auth, .. } = &cx;
    let (_, access) = cx
        .require_org(&slug, OrgPermission::ManageEnvironmentRoles)
        .await?;
    let page = Pagination::page_asked(form.get("page").and_then(|p| p.parse().ok()));
    let ids: Vec<i64> = form
        .get("users")
        .map(|u| {
            u.split(',')
                .filter_map(|id| id.trim().parse().ok())
                .take(PAGE_SIZE as usize)
                .collect()
        })
        .unwrap_or_default();
    let org_id = access.org.id;
    let members = db::run(pool, move |c| db::members::find_many(c, org_id, &ids)).await?;
    let changes = match grid_changes(&form, members) {
        Ok(changes) => changes,
        Err(problem) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return grid_page(&cx, &access, status, page, Some(problem)).await;
        }
    };
    if changes.is_empty() {
        auth.session.flash(FlashKind::Info, "Nothing changed.");
        return Ok(see_other(&format!("/orgs/{slug}/access/grid?page={page}")));
    }
    let raises = changes
        .iter()
        .any(|(m, d)| roles::raises_production(&Desired::of(m), d));
    if raises {
        let answer = reconfirm_password(
            &cx,
            form.get("password").map(String::as_str).unwrap_or_default(),
        )
        .await?;
        if !answer.is_ok() {
            return grid_page(
                &cx,
                &access,
                StatusCode::UNPROCESSABLE_ENTITY,
                page,
                Some(format!("{} Nothing was saved.", answer.problem())),
            )
            .await;
        }
    }
    let confirmed = auth.session.sudo_fresh(cx.settings.sudo_minutes);
    let outcome = ops::roles::save_grid(pool, &auth.ctx(), &access.org, changes, confirmed).await?;
    match outcome {
        GridOutcome::Saved(n) => {
            auth.session.flash(
                FlashKind::Success,
                format!(
                    "Saved {n} role change{}. They apply from the next request.",
                    if n == 1 { "" } else { "s" }
                ),
            );
            Ok(see_other(&format!("/orgs/{slug}/access/grid?page={page}")))
        }
        GridOutcome::Refused { name, refusal } => {
            grid_page(
                &cx,
                &access,
                StatusCode::UNPROCESSABLE_ENTITY,
                page,
                Some(format!("Nothing was saved. {name}: {}", refusal.message())),
            )
            .await
        }
    }
}
