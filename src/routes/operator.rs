//! The platform operator console at /operator: search every organization, open one, mark it
//! live, delete it (typed name), and export the audit log of any organization, deleted ones
//! included. Anyone who is not an operator gets 404; their attempts at an operator action are
//! audited as denied.

use crate::audit::Action;
use crate::domain::ids::OrgId;
use crate::routes::page::Page;
use crate::routes::pagination::{PAGE_SIZE, Pagination};
use crate::routes::time::Shown as _;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::audit_log::{AuditQuery, csv_response};
use crate::audit::Actor;
use crate::auth::Auth;
use crate::auth::csrf::CsrfForm;
use crate::auth::session::FlashKind;
use crate::config::Settings;
use crate::db::lifecycle::{DeleteOutcome, OrgSummary};
use crate::db::users::User;
use crate::db::{self, PgPool};
use crate::email::worker::OutboxSignal;
use crate::error::AppError;
use crate::routes::layout::{FieldErrors, Layout};
use crate::routes::{render, see_other};

/// The operator, as an audit actor; anyone else gets 404 (and a denied event when acting).
async fn require_operator(
    pool: &PgPool,
    settings: &Settings,
    auth: &Auth,
    acting: Option<Action>,
) -> Result<(User, Actor), AppError> {
    let user = auth.require_user()?.clone();
    // Granted only to verified accounts (`db::users::set_operator`); checked again here.
    if user.is_operator && user.is_verified() {
        // Production requires two-factor of operators (OPERATORS_REQUIRE_2FA).
        if settings.operators_need_two_factor() && !user.has_two_factor() {
            return Err(AppError::TwoFactorRequired);
        }
        let actor = Actor::Operator {
            id: user.id,
            email: user.email.clone(),
        };
        return Ok((user, actor));
    }
    if let Some(action) = acting {
        crate::ops::access::operator_refused(pool, &auth.ctx(), action).await?;
    }
    Err(AppError::NotFound)
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct SearchQuery {
    pub q: String,
    pub page: Option<i64>,
}

#[derive(Template)]
#[template(path = "operator/list.html")]
struct ListPage {
    layout: Layout,
    q: String,
    orgs: Vec<OrgSummary>,
    total: i64,
    pagination: Pagination,
}

pub async fn list(cx: Page, query: web::Query<SearchQuery>) -> Result<HttpResponse, AppError> {
    let Page { pool, auth, .. } = &cx;
    require_operator(pool, &cx.settings, auth, None).await?;
    let SearchQuery { q, page } = query.into_inner();
    let q: String = q.trim().chars().take(100).collect();
    let page = Pagination::page_asked(page);
    let search = q.clone();
    let (orgs, total) = db::run(pool, move |c| {
        db::lifecycle::search(c, &search, Pagination::offset(page), PAGE_SIZE)
    })
    .await?;
    let pagination = Pagination::new(
        page,
        total,
        "/operator",
        &format!(
            "q={}",
            url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
        ),
    );
    let layout = cx.layout("Operator console").await?;
    render(
        StatusCode::OK,
        &ListPage {
            layout,
            q,
            orgs,
            total,
            pagination,
        },
    )
}

#[derive(Template)]
#[template(path = "operator/show.html")]
struct ShowPage {
    layout: Layout,
    org: OrgSummary,
    typed_live: String,
    typed_delete: String,
    errors: FieldErrors,
}

async fn find(pool: &PgPool, id: OrgId) -> Result<OrgSummary, AppError> {
    db::run(pool, move |c| db::lifecycle::find(c, id))
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn show(cx: Page, id: web::Path<OrgId>) -> Result<HttpResponse, AppError> {
    let Page { pool, auth, .. } = &cx;
    require_operator(pool, &cx.settings, auth, None).await?;
    let org = find(pool, id.into_inner()).await?;
    let layout = cx
        .layout(format!("{} · Operator console", org.name))
        .await?;
    render(
        StatusCode::OK,
        &ShowPage {
            layout,
            org,
            typed_live: String::new(),
            typed_delete: String::new(),
            errors: FieldErrors::default(),
        },
    )
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct ConfirmForm {
    pub name: String,
}

async fn show_again(
    cx: &Page,
    org: OrgSummary,
    field: &'static str,
    typed: String,
) -> Result<HttpResponse, AppError> {
    let mut errors = FieldErrors::default();
    errors.add(
        field,
        format!("Type the organization's name exactly: {}", org.name),
    );
    let layout = cx
        .layout(format!("{} · Operator console", org.name))
        .await?;
    let (typed_live, typed_delete) = if field == "live_name" {
        (typed, String::new())
    } else {
        (String::new(), typed)
    };
    render(
        StatusCode::UNPROCESSABLE_ENTITY,
        &ShowPage {
            layout,
            org,
            typed_live,
            typed_delete,
            errors,
        },
    )
}

pub async fn mark_live(
    cx: Page,
    id: web::Path<OrgId>,
    CsrfForm(form): CsrfForm<ConfirmForm>,
) -> Result<HttpResponse, AppError> {
    let Page {
        pool,
        auth,
        settings,
        ..
    } = &cx;
    let (_, actor) =
        require_operator(pool, settings, auth, Some(Action::OrganizationWentLive)).await?;
    let org = find(pool, id.into_inner()).await?;
    if form.name != org.name {
        return show_again(&cx, org, "live_name", form.name).await;
    }
    let ctx = crate::ops::Ctx {
        actor,
        ..auth.ctx()
    };
    let changed = crate::ops::orgs::go_live(pool, &ctx, org.id).await?;
    auth.session.flash(
        if changed {
            FlashKind::Success
        } else {
            FlashKind::Info
        },
        if changed {
            format!("{} is live.", org.name)
        } else {
            format!("{} was already live.", org.name)
        },
    );
    Ok(see_other(&format!("/operator/orgs/{}", org.id)))
}

pub async fn delete(
    cx: Page,
    outbox: web::Data<OutboxSignal>,
    id: web::Path<OrgId>,
    CsrfForm(form): CsrfForm<ConfirmForm>,
) -> Result<HttpResponse, AppError> {
    let Page {
        pool,
        auth,
        settings,
        ..
    } = &cx;
    let (_, actor) =
        require_operator(pool, settings, auth, Some(Action::OrganizationDeleted)).await?;
    let org = find(pool, id.into_inner()).await?;
    if form.name != org.name {
        return show_again(&cx, org, "delete_name", form.name).await;
    }
    let ctx = crate::ops::Ctx {
        actor,
        ..auth.ctx()
    };
    let by = crate::ops::orgs::Deleter::Operator;
    match crate::ops::orgs::delete(pool, &outbox, &ctx, org.id, by).await? {
        DeleteOutcome::Deleted { .. } => {
            auth.session.flash(
                FlashKind::Success,
                format!(
                    "{} was deleted. Its audit log stays: /operator/audit.csv?organization={}",
                    org.name, org.id
                ),
            );
            Ok(see_other("/operator"))
        }
        DeleteOutcome::Live | DeleteOutcome::NotOwner | DeleteOutcome::NotFound => {
            Err(AppError::NotFound)
        }
    }
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct OperatorAuditQuery {
    pub organization: OrgId,
    #[serde(flatten)]
    pub filter: AuditQuery,
}

/// Any organization's audit log as CSV, also after the organization was deleted.
pub async fn audit_csv(
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    auth: Auth,
    query: web::Query<OperatorAuditQuery>,
) -> Result<HttpResponse, AppError> {
    let (_, actor) = require_operator(&pool, &settings, &auth, Some(Action::AuditExported)).await?;
    let query = query.into_inner();
    let filter = query
        .filter
        .filter(query.organization)
        .map_err(AppError::BadRequest)?;
    let id = query.organization;
    let name = db::run(&pool, move |c| db::lifecycle::find(c, id))
        .await?
        .map_or_else(|| "(deleted organization)".to_string(), |o| o.name);
    let ctx = crate::ops::Ctx {
        actor,
        ..auth.ctx()
    };
    let filters = query.filter.query_string();
    crate::ops::audit_log::exported(&pool, &ctx, (id, name), filters).await?;
    Ok(csv_response(
        pool.get_ref().clone(),
        filter,
        &format!("audit-organization-{}.csv", query.organization),
    ))
}
