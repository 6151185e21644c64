//! The organizations I belong to, with my role in each, 50 per page.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::Auth;
use crate::config::Settings;
use crate::db::{self, PgPool, orgs::MyOrganization};
use crate::error::AppError;
use crate::routes::layout::Layout;
use crate::routes::render;

pub const PAGE_SIZE: i64 = 50;

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct PageQuery {
    pub page: Option<i64>,
}

#[derive(Template)]
#[template(path = "orgs/list.html")]
struct ListPage {
    layout: Layout,
    orgs: Vec<MyOrganization>,
    total: i64,
    page: i64,
    pages: i64,
    verified: bool,
    email: String,
}

pub async fn get(
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    auth: Auth,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    let user = auth.require_user()?.clone();
    let page = query.page.unwrap_or(1).clamp(1, 1_000_000);
    let (orgs, total) = db::run(&pool, move |c| {
        db::orgs::list_for_user(c, user.id, (page - 1) * PAGE_SIZE, PAGE_SIZE)
    })
    .await?;
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let layout = Layout::load(&pool, &settings, &auth, "Your organizations").await?;
    render(
        StatusCode::OK,
        &ListPage {
            layout,
            orgs,
            total,
            page,
            pages,
            verified: user.is_verified(),
            email: user.email,
        },
    )
}
