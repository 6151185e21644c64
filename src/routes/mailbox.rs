//! The local mailbox: in local mode without SMTP, sent emails are shown here so that links can be
//! followed with no mail server. Not found in production mode.

use crate::routes::page::Page;
use crate::routes::time::Shown as _;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::layout::Layout;
use super::render;
use crate::config::Settings;
use crate::db::{self, outbox::Message};
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

pub async fn list(cx: Page) -> Result<HttpResponse, AppError> {
    let Page { pool, settings, .. } = &cx;
    enabled(settings)?;
    let messages = db::run(pool, |c| db::outbox::recent(c, 100)).await?;
    let layout = cx.layout("Local mailbox").await?;
    render(StatusCode::OK, &ListPage { layout, messages })
}

pub async fn show(cx: Page, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    let Page { pool, settings, .. } = &cx;
    enabled(settings)?;
    let id = id.into_inner();
    let message = db::run(pool, move |c| db::outbox::find(c, id))
        .await?
        .ok_or(AppError::NotFound)?;
    let links = message
        .text_body
        .split_whitespace()
        .filter(|w| w.starts_with(settings.base_url.as_str()))
        .map(str::to_string)
        .collect();
    let layout = cx.layout(message.subject.clone()).await?;
    render(
        StatusCode::OK,
        &ShowPage {
            layout,
            message,
            links,
        },
    )
}
