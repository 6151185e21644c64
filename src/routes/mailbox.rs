//! The local mailbox: in local mode without SMTP, sent emails are shown here so that links can be
//! followed with no mail server. Not found in production mode.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::layout::Layout;
use super::render;
use crate::auth::Auth;
use crate::config::Settings;
use crate::db::{self, PgPool, outbox::Message};
use crate::error::AppError;

#[derive(Template)]
#[template(path = "mailbox/list.html")]
struct ListPage {
    layout: Layout,
    messages: Vec<Message>,
}

#[derive(Template)]
#[template(path = "mailbox/show.html")]
struct ShowPage {
    layout: Layout,
    message: Message,
    links: Vec<String>,
}

fn enabled(settings: &Settings) -> Result<(), AppError> {
    if settings.is_local() && settings.smtp_url.is_none() {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

pub async fn list(
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    auth: Auth,
) -> Result<HttpResponse, AppError> {
    enabled(&settings)?;
    let messages = db::run(&pool, |c| db::outbox::recent(c, 100)).await?;
    let layout = Layout::load(&pool, &settings, &auth, "Local mailbox").await?;
    render(StatusCode::OK, &ListPage { layout, messages })
}

pub async fn show(
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    auth: Auth,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    enabled(&settings)?;
    let id = id.into_inner();
    let message = db::run(&pool, move |c| db::outbox::find(c, id))
        .await?
        .ok_or(AppError::NotFound)?;
    let links = message
        .text_body
        .split_whitespace()
        .filter(|w| w.starts_with(settings.base_url.as_str()))
        .map(str::to_string)
        .collect();
    let layout = Layout::load(&pool, &settings, &auth, message.subject.clone()).await?;
    render(
        StatusCode::OK,
        &ShowPage {
            layout,
            message,
            links,
        },
    )
}
