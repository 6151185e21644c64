//! `/`: the organization last opened for a signed-in user, a welcome page for visitors.

use crate::routes::page::Page;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;

use crate::error::AppError;
use crate::routes::layout::Layout;
use crate::routes::{render, see_other};

#[derive(Template)]
#[template(path = "home.html")]
struct Welcome {
    layout: Layout,
}

pub async fn get(cx: Page) -> Result<HttpResponse, AppError> {
    let Page { auth, .. } = &cx;
    if auth.user.is_some() {
        return Ok(match auth.session.current_org() {
            Some(slug) => see_other(&format!("/orgs/{slug}")),
            None => see_other("/orgs"),
        });
    }
    let layout = cx.layout("Gatehouse").await?;
    render(StatusCode::OK, &Welcome { layout })
}
