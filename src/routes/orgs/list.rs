//! The organizations I belong to, with my role in each, 50 per page.

use crate::routes::page::Page;
use crate::routes::pagination::{PAGE_SIZE, Pagination};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db::{self, orgs::MyOrganization};
use crate::error::AppError;
use crate::routes::layout::Layout;
use crate::routes::render;

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
    pagination: Pagination,
    verified: bool,
    email: String,
}

pub async fn get(cx: Page, query: web::Query<PageQuery>) -> Result<HttpResponse, AppError> {
    let Page { pool, auth, .. } = &cx;
    let user = auth.require_user()?.clone();
    let page = Pagination::page_asked(query.page);
    let (id, total) = (user.id, auth.switcher.total);
    let (orgs, total) = db::run(pool, move |c| {
        db::orgs::list_for_user(c, id, total, Pagination::offset(page), PAGE_SIZE)
    })
    .await?;
    let pagination = Pagination::new(page, total, "/orgs", "");
    let layout = Layout::new(&cx, "Your organizations")?;
    render(
        StatusCode::OK,
        &ListPage {
            layout,
            orgs,
            total,
            pagination,
            verified: user.is_verified(),
            email: user.email,
        },
    )
}
