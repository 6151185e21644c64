//! The organizations I belong to, with my role in each, 50 per page.

use crate::routes::page::PageRequest;
use crate::routes::pagination::{PAGE_SIZE, Pagination};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db::orgs::{MyOrganization, OrgListCache};
use crate::error::AppError;
use crate::routes::layout::Layout;
use crate::routes::render;
use std::sync::Arc;

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct PageQuery {
    pub page: Option<i64>,
}

#[derive(Template)]
#[template(path = "orgs/list.html")]
struct ListPage {
    layout: Layout,
    orgs: Arc<Vec<MyOrganization>>,
    total: i64,
    pagination: Pagination,
    verified: bool,
    email: String,
}

pub async fn get(
    page_request: PageRequest,
    query: web::Query<PageQuery>,
    lists: web::Data<OrgListCache>,
) -> Result<HttpResponse, AppError> {
    let page = Pagination::page_asked(query.page);
    let (cx, (orgs, total)) = page_request
        .signed_in_page(move |c, who| lists.list(c, who, Pagination::offset(page), PAGE_SIZE))
        .await?;
    let user = cx.auth.require_user()?.clone();
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
