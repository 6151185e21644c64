//! The platform operator console at /operator: search every organization, open one, mark it
//! live, delete it (typed name), and export the audit log of any organization, deleted ones
//! included. Anyone who is not an operator gets 404; their attempts at an operator action are
//! audited as denied.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::audit_log::{AuditQuery, csv_response};
use crate::audit::{self, Actor, RequestMeta};
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

const PAGE_SIZE: i64 = 50;

/// The operator, as an audit actor; anyone else gets 404 (and a denied event when acting).
async fn require_operator(
    pool: &PgPool,
    auth: &Auth,
    acting: Option<&str>,
) -> Result<(User, Actor), AppError> {
    let user = auth.require_user()?.clone();
    if user.is_operator {
        let actor = Actor::Operator {
            id: user.id,
            email: user.email.clone(),
        };
        return Ok((user, actor));
    }
    if let Some(action) = acting {
        let (actor, meta, action, path) = (
            auth.actor(),
            auth.meta.clone(),
            action.to_string(),
            auth.path.clone(),
        );
        db::run(pool, move |c| {
            audit::record(
                c,
                audit::Event {
                    organization: None,
                    actor: &actor,
                    action: &action,
                    target: Some(path),
                    details: serde_json::json!({ "reason": "not a platform operator" }),
                    status: audit::Status::Denied,
                    meta: &meta,
                },
            )
        })
        .await?;
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
    q_encoded: String,
    orgs: Vec<OrgSummary>,
    total: i64,
    page: i64,
    pages: i64,
}

pub async fn list(
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    auth: Auth,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, AppError> {
    require_operator(&pool, &auth, None).await?;
    let SearchQuery { q, page } = query.into_inner();
    let q: String = q.trim().chars().take(100).collect();
    let page = page.unwrap_or(1).clamp(1, 1_000_000);
    let search = q.clone();
    let (orgs, total) = db::run(&pool, move |c| {
        db::lifecycle::search(c, &search, (page - 1) * PAGE_SIZE, PAGE_SIZE)
    })
    .await?;
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let layout = Layout::load(&pool, &settings, &auth, "Operator console").await?;
    render(
        StatusCode::OK,
        &ListPage {
            layout,
            q_encoded: url::form_urlencoded::byte_serialize(q.as_bytes()).collect(),
            q,
            orgs,
            total,
            page,
            pages,
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

async fn find(pool: &PgPool, id: i64) -> Result<OrgSummary, AppError> {
    db::run(pool, move |c| db::lifecycle::find(c, id))
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn show(
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    auth: Auth,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    require_operator(&pool, &auth, None).await?;
    let org = find(&pool, id.into_inner()).await?;
    let layout = Layout::load(
        &pool,
        &settings,
        &auth,
        format!("{} · Operator console", org.name),
    )
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
    pool: &PgPool,
    settings: &Settings,
    auth: &Auth,
    org: OrgSummary,
    field: &'static str,
    typed: String,
) -> Result<HttpResponse, AppError> {
    let mut errors = FieldErrors::default();
    errors.add(
        field,
        format!("Type the organization's name exactly: {}", org.name),
    );
    let layout = Layout::load(
        pool,
        settings,
        auth,
        format!("{} · Operator console", org.name),
    )
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
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    auth: Auth,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<ConfirmForm>,
) -> Result<HttpResponse, AppError> {
    let (_, actor) = require_operator(&pool, &auth, Some("organization.went_live")).await?;
    let org = find(&pool, id.into_inner()).await?;
    if form.name != org.name {
        return show_again(&pool, &settings, &auth, org, "live_name", form.name).await;
    }
    let (org_id, meta): (i64, RequestMeta) = (org.id, auth.meta.clone());
    let changed = db::run(&pool, move |c| {
        db::lifecycle::mark_live(c, org_id, &actor, &meta)
    })
    .await?;
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
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    outbox: web::Data<OutboxSignal>,
    auth: Auth,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<ConfirmForm>,
) -> Result<HttpResponse, AppError> {
    let (_, actor) = require_operator(&pool, &auth, Some("organization.deleted")).await?;
    let org = find(&pool, id.into_inner()).await?;
    if form.name != org.name {
        return show_again(&pool, &settings, &auth, org, "delete_name", form.name).await;
    }
    let (org_id, meta) = (org.id, auth.meta.clone());
    match db::run(&pool, move |c| {
        db::lifecycle::delete(c, org_id, false, &actor, &meta)
    })
    .await?
    {
        DeleteOutcome::Deleted { .. } => {
            outbox.wake();
            auth.session.flash(
                FlashKind::Success,
                format!(
                    "{} was deleted. Its audit log stays: /operator/audit.csv?organization={}",
                    org.name, org.id
                ),
            );
            Ok(see_other("/operator"))
        }
        DeleteOutcome::Live | DeleteOutcome::NotFound => Err(AppError::NotFound),
    }
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct OperatorAuditQuery {
    pub organization: i64,
    #[serde(flatten)]
    pub filter: AuditQuery,
}

/// Any organization's audit log as CSV, also after the organization was deleted.
pub async fn audit_csv(
    pool: web::Data<PgPool>,
    auth: Auth,
    query: web::Query<OperatorAuditQuery>,
) -> Result<HttpResponse, AppError> {
    require_operator(&pool, &auth, None).await?;
    let query = query.into_inner();
    let filter = query
        .filter
        .filter(query.organization)
        .map_err(AppError::BadRequest)?;
    Ok(csv_response(
        pool.get_ref().clone(),
        filter,
        &format!("audit-organization-{}.csv", query.organization),
    ))
}
