//! `/`: the organization last opened for a signed-in user, a welcome page for visitors.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use crate::auth::Auth;
use crate::config::Settings;
use crate::db::PgPool;
use crate::error::AppError;
use crate::routes::layout::Layout;
use crate::routes::{render, see_other};

#[derive(Template)]
#[template(path = "home.html")]
struct Welcome {
    layout: Layout,
}

pub async fn get(
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    auth: Auth,
) -> Result<HttpResponse, AppError> {
    if auth.user.is_some() {
        return Ok(match auth.session.current_org() {
            Some(slug) => see_other(&format!("/orgs/{slug}")),
            None => see_other("/orgs"),
        });
    }
    let layout = Layout::load(&pool, &settings, &auth, "Gatehouse").await?;
    render(StatusCode::OK, &Welcome { layout })
}
