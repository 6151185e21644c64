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

/// Served in local mode without SMTP, and only to this machine's names: a web page elsewhere
/// whose name is made to point at 127.0.0.1 (DNS rebinding) would send its own `Host`, and the
/// mailbox holds every reset and invitation link. (A request without `Host`, HTTP/1.0, is not a
/// browser's.)
fn enabled(cx: &Page) -> Result<(), AppError> {
    let settings: &Settings = &cx.settings;
    let host = cx
        .request
        .headers()
        .get(actix_web::http::header::HOST)
        .map(|h| h.to_str().unwrap_or_default());
    let local = settings.is_local() && settings.smtp_url.is_none();
    if local && host.is_none_or(|h| is_this_machine(h, &settings.base_url)) {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

/// Whether `host` (a `Host` header, port included) names this machine or `BASE_URL`'s host.
fn is_this_machine(host: &str, base_url: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    let base = url::Url::parse(base_url).ok();
    let base = base
        .as_ref()
        .and_then(|u| u.host_str())
        .map(|h| h.trim_matches(['[', ']']));
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
        || base.is_some_and(|b| b.eq_ignore_ascii_case(name))
}

pub async fn list(cx: Page) -> Result<HttpResponse, AppError> {
    enabled(&cx)?;
    let Page { pool, .. } = &cx;
    let messages = db::run(pool, |c| db::outbox::recent(c, 100)).await?;
    let layout = cx.layout("Local mailbox").await?;
    render(StatusCode::OK, &ListPage { layout, messages })
}

pub async fn show(cx: Page, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    enabled(&cx)?;
    let Page { pool, settings, .. } = &cx;
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

#[cfg(test)]
mod tests {
    use super::is_this_machine;

    #[test]
    fn only_this_machines_names_reach_the_mailbox() {
        let base = "http://localhost:8080";
        for host in [
            "localhost:8080",
            "LOCALHOST",
            "127.0.0.1:8080",
            "127.1.2.3",
            "[::1]:8080",
        ] {
            assert!(is_this_machine(host, base), "{host}");
        }
        assert!(is_this_machine(
            "dev.internal:8080",
            "http://dev.internal:8080"
        ));
        for host in [
            "rebound.example:8080",
            "rebound.example",
            "10.0.0.1:8080",
            "[2001:db8::1]:80",
        ] {
            assert!(!is_this_machine(host, base), "{host}");
        }
    }
}
