//! The Environments tab: each environment with its number of users, a detailed view of one
//! environment's users, and the members × environments grid where many roles change in one save.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::Tabs;
use crate::auth::Auth;
use crate::auth::csrf::CsrfForm;
use crate::auth::session::FlashKind;
use crate::authz::{EnvKind, EnvRole, OrgPermission};
use crate::config::Settings;
use crate::db::members::{EnvironmentUser, Member};
use crate::db::roles::{self, Desired};
use crate::db::{self, PgPool};
use crate::error::AppError;
use crate::ops::{self, roles::GridOutcome};
use crate::routes::layout::Layout;
use crate::routes::{render, require_org, see_other};

const PAGE_SIZE: i64 = 50;

#[derive(Template)]
#[template(path = "access/environments.html")]
struct EnvironmentsPage {
    layout: Layout,
    tabs: Tabs,
    org_name: String,
    counts: Vec<(EnvKind, i64)>,
}

pub async fn list(
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    auth: Auth,
    slug: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (_, access) =
        require_org(&pool, &auth, &slug, OrgPermission::ManageEnvironmentRoles).await?;
    let org_id = access.org.id;
    let counts = db::run(&pool, move |c| db::members::environment_counts(c, org_id)).await?;
    let layout = Layout::load(
        &pool,
        &settings,
        &auth,
        format!("Environments · {}", access.org.name),
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
    page: i64,
    pages: i64,
}

pub async fn show(
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    auth: Auth,
    path: web::Path<(String, String)>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    let (slug, kind) = path.into_inner();
    let kind: EnvKind = kind.parse().map_err(|_| AppError::NotFound)?;
    let (_, access) =
        require_org(&pool, &auth, &slug, OrgPermission::ManageEnvironmentRoles).await?;
    let page = query.page.unwrap_or(1).clamp(1, 1_000_000);
    let org_id = access.org.id;
    let (users, total) = db::run(&pool, move |c| {
        db::members::environment_users(c, org_id, kind, (page - 1) * PAGE_SIZE, PAGE_SIZE)
    })
    .await?;
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let layout = Layout::load(
        &pool,
        &settings,
        &auth,
        format!("{} · {}", kind.label(), access.org.name),
    )
    .await?;
    render(
        StatusCode::OK,
        &EnvironmentPage {
            layout,
            tabs: Tabs::new(&access, "environments"),
            org_name: access.org.name.clone(),
            kind,
            users,
            total,
            page,
            pages,
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
    page: i64,
    pages: i64,
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
    pool: &PgPool,
    settings: &Settings,
    auth: &Auth,
    access: &db::orgs::Access,
    status: StatusCode,
    page: i64,
    problem: Option<String>,
) -> Result<HttpResponse, AppError> {
    let org_id = access.org.id;
    let (members, total) = db::run(pool, move |c| {
        db::members::list(c, org_id, "", (page - 1) * PAGE_SIZE, PAGE_SIZE)
    })
    .await?;
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let layout = Layout::load(
        pool,
        settings,
        auth,
        format!("Environment access · {}", access.org.name),
    )
    .await?;
    render(
        status,
        &GridPage {
            layout,
            tabs: Tabs::new(access, "environments"),
            org_name: access.org.name.clone(),
            members,
            env_kinds: EnvKind::ALL,
            env_roles: EnvRole::ALL,
            page,
            pages,
            needs_password: !auth.session.sudo_fresh(settings.sudo_minutes),
            problem,
        },
    )
}

pub async fn grid(
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    auth: Auth,
    slug: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    let (_, access) =
        require_org(&pool, &auth, &slug, OrgPermission::ManageEnvironmentRoles).await?;
    let page = query.page.unwrap_or(1).clamp(1, 1_000_000);
    grid_page(&pool, &settings, &auth, &access, StatusCode::OK, page, None).await
}

/// Saves every changed cell of the grid in one transaction: all of them or none.
pub async fn save(
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    auth: Auth,
    slug: web::Path<String>,
    CsrfForm(form): CsrfForm<HashMap<String, String>>,
) -> Result<HttpResponse, AppError> {
    let (granter, access) =
        require_org(&pool, &auth, &slug, OrgPermission::ManageEnvironmentRoles).await?;
    let page: i64 = form
        .get("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .clamp(1, 1_000_000);
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
    let lookup = ids.clone();
    let members = db::run(&pool, move |c| db::members::find_many(c, org_id, &lookup)).await?;

    let mut changes: Vec<(Member, Desired)> = Vec::new();
    for member in members {
        let mut desired = Desired::of(&member);
        for (kind, role) in desired.envs.iter_mut() {
            let Some(value) = form.get(&format!("r-{}-{kind}", member.user_id)) else {
                continue;
            };
            *role = match value.as_str() {
                "" => None,
                v => match v.parse::<EnvRole>() {
                    Ok(r) => Some(r),
                    Err(_) => {
                        return grid_page(
                            &pool,
                            &settings,
                            &auth,
                            &access,
                            StatusCode::UNPROCESSABLE_ENTITY,
                            page,
                            Some(format!("“{v}” is not an environment role.")),
                        )
                        .await;
                    }
                },
            };
        }
        if desired != Desired::of(&member) {
            changes.push((member, desired));
        }
    }
    if changes.is_empty() {
        auth.session.flash(FlashKind::Info, "Nothing changed.");
        return Ok(see_other(&format!("/orgs/{slug}/access/grid?page={page}")));
    }
    let raises = changes
        .iter()
        .any(|(m, d)| roles::raises_production(&Desired::of(m), d));
    if raises {
        let answer = ops::reauth::confirm_password(
            &pool,
            &settings,
            &auth.ctx(),
            &granter,
            form.get("password").map(String::as_str),
            Some(&auth.session),
        )
        .await?;
        if !answer.is_ok() {
            return grid_page(
                &pool,
                &settings,
                &auth,
                &access,
                StatusCode::UNPROCESSABLE_ENTITY,
                page,
                Some(format!("{} Nothing was saved.", answer.problem())),
            )
            .await;
        }
    }
    let outcome = ops::roles::save_grid(&pool, &auth.ctx(), &access.org, changes).await?;
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
                &pool,
                &settings,
                &auth,
                &access,
                StatusCode::UNPROCESSABLE_ENTITY,
                page,
                Some(format!("Nothing was saved. {name}: {}", refusal.message())),
            )
            .await
        }
    }
}
