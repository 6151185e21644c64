//! The account's sessions: every signed-in session with its device, IP, start and last activity
//! (this one marked); end one, or every other (DESIGN §14).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::signin::NoFields;
use crate::auth::csrf::CsrfForm;
use crate::auth::session::FlashKind;
use crate::db::{self, sessions::SessionRow};
use crate::error::AppError;
use crate::ops;
use crate::routes::layout::Layout;
use crate::routes::page::{Page, PageRequest};
use crate::routes::time::Shown as _;
use crate::routes::{render, see_other};

const PLACE: &str = "/account/sessions";

/// A session as listed.
struct Listed {
    row: SessionRow,
    device: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "auth/sessions.html")]
struct SessionsPage {
    layout: Layout,
    sessions: Vec<Listed>,
}

/// "Firefox on Linux", from a user agent, or what is known of it.
pub fn device(agent: Option<&str>) -> String {
    let Some(agent) = agent.filter(|a| !a.is_empty()) else {
        return "Unknown device".into();
    };
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .into_iter()
    .find(|(marker, _)| agent.contains(marker))
    .map_or("A browser", |(_, name)| name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(marker, _)| agent.contains(marker))
    .map(|(_, name)| name);
    match system {
        Some(system) => format!("{browser} on {system}"),
        None => browser.to_string(),
    }
}

pub async fn list(page_request: PageRequest) -> Result<HttpResponse, AppError> {
    let (cx, rows) = page_request
        .signed_in_page(|c, who| db::sessions::list_for_user(c, who.user.id))
        .await?;
    let current = cx.auth.session.sid();
    let sessions = rows
        .into_iter()
        .map(|row| Listed {
            device: device(row.user_agent.as_deref()),
            current: row.sid.is_some() && row.sid == current,
            row,
        })
        .collect();
    let layout = cx.layout("Sessions").await?;
    render(StatusCode::OK, &SessionsPage { layout, sessions })
}

pub async fn revoke(
    cx: Page,
    sid: web::Path<String>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let user = cx.auth.require_user()?.clone();
    let sid = sid.into_inner();
    if Some(&sid) == cx.auth.session.sid().as_ref() {
        cx.auth
            .session
            .flash(FlashKind::Error, "To end this session, sign out.");
        return Ok(see_other(PLACE));
    }
    if !ops::accounts::revoke_session(&cx.pool, &cx.auth.ctx(), user, sid).await? {
        return Err(AppError::NotFound);
    }
    cx.auth.session.flash(
        FlashKind::Success,
        "The session was ended; that device is signed out at its next request.",
    );
    Ok(see_other(PLACE))
}

pub async fn revoke_others(cx: Page, _form: CsrfForm<NoFields>) -> Result<HttpResponse, AppError> {
    let user = cx.auth.require_user()?.clone();
    let current = cx.auth.session.sid().unwrap_or_default();
    let ended =
        ops::accounts::revoke_other_sessions(&cx.pool, &cx.auth.ctx(), user, current).await?;
    cx.auth.session.flash(
        FlashKind::Success,
        format!(
            "{ended} other session{} ended; only this one is still signed in.",
            if ended == 1 { " was" } else { "s were" }
        ),
    );
    Ok(see_other(PLACE))
}
