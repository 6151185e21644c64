//! The audit log of an organization for its owners: filters (user, action, date range, status),
//! 50 per page, and a CSV export of the filtered set, streamed in batches.

use crate::domain::ids::OrgId;
use crate::routes::page::PageRequest;
use crate::routes::pagination::{PAGE_SIZE, Pagination};
use crate::routes::time::Shown as _;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use serde::Deserialize;

use crate::auth::Auth;
use crate::authz::OrgPermission;
use crate::db::audit::{self, AuditEvent, Filter};
use crate::db::{self, PgPool};
use crate::error::AppError;
use crate::routes::layout::Layout;
use crate::routes::{render, require_org};

const CSV_BATCH: i64 = 500;

#[derive(Default, Deserialize, Clone)]
#[serde(default)]
pub struct AuditQuery {
    pub user: String,
    pub action: String,
    pub from: String,
    pub to: String,
    pub status: String,
    pub page: Option<i64>,
}

impl AuditQuery {
    /// The filter, or the message for a date that does not parse.
    pub fn filter(&self, organization_id: OrgId) -> Result<Filter, String> {
        let day = |s: &str, label: &str| -> Result<Option<chrono::DateTime<Utc>>, String> {
            if s.trim().is_empty() {
                return Ok(None);
            }
            // Years 1 to 9999: chrono reads "+262142-12-31" too, whose next day it cannot hold,
            // and PostgreSQL's timestamps end long before chrono's dates do.
            let date = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                .ok()
                .filter(|d| (1..=9999).contains(&d.year()))
                .ok_or_else(|| format!("{label}: use a date like 2026-11-29."))?;
            Ok(date.and_hms_opt(0, 0, 0).map(|d| Utc.from_utc_datetime(&d)))
        };
        let nonempty = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
        Ok(Filter {
            organization_id,
            actor: nonempty(&self.user),
            action: nonempty(&self.action),
            from: day(&self.from, "From")?,
            // "To" is inclusive: events before the next day.
            until: day(&self.to, "To")?.map(|d| d + chrono::Duration::days(1)),
            status: self.status.parse().ok(),
            ..Filter::default()
        })
    }

    pub fn query_string(&self) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("user", &self.user)
            .append_pair("action", &self.action)
            .append_pair("from", &self.from)
            .append_pair("to", &self.to)
            .append_pair("status", &self.status)
            .finish()
    }
}

#[derive(Template)]
#[template(path = "audit/list.html")]
struct AuditPage {
    layout: Layout,
    org_name: String,
    slug: String,
    query: AuditQuery,
    query_string: String,
    actions: &'static [crate::audit::Action],
    events: Vec<AuditEvent>,
    total: i64,
    pagination: Pagination,
    problem: Option<String>,
}

pub async fn list(
    page_request: PageRequest,
    slug: web::Path<String>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let page = Pagination::page_asked(query.page);
    let asked = query.clone();
    let (_, access, ((events, total), problem), layout) = page_request
        .org_page(
            &slug,
            OrgPermission::ReviewAudit,
            move |c, access| {
                let org_id = access.org.id;
                let (filter, problem) = match asked.filter(org_id) {
                    Ok(f) => (f, None),
                    Err(message) => (
                        Filter {
                            organization_id: org_id,
                            ..Filter::default()
                        },
                        Some(message),
                    ),
                };
                // The action filter offers the fixed list of actions rather than scanning the
                // log for them.
                let found = audit::page(c, &filter, Pagination::offset(page), PAGE_SIZE)?;
                Ok((found, problem))
            },
            |access| format!("Audit log · {}", access.org.name),
        )
        .await?;
    let actions = crate::audit::Action::ALL;
    let pagination = Pagination::new(
        page,
        total,
        &format!("/orgs/{}/audit", access.org.slug),
        &query.query_string(),
    );
    let status = if problem.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(
        status,
        &AuditPage {
            layout,
            org_name: access.org.name.clone(),
            slug: access.org.slug.clone(),
            query_string: query.query_string(),
            query,
            actions,
            events,
            total,
            pagination,
            problem,
        },
    )
}

/// Streams the filtered events as CSV, oldest first, a batch at a time.
pub fn csv_response(pool: PgPool, filter: Filter, file_name: &str) -> HttpResponse {
    let batches = futures_util::stream::unfold(Some(0i64), move |after| {
        let (pool, filter) = (pool.clone(), filter.clone());
        async move {
            let after = after?;
            let chunk: Result<(String, Option<i64>), AppError> = if after == 0 {
                Ok((audit::CSV_HEADER.to_string(), Some(-1)))
            } else {
                let from = after.max(0);
                db::run(&pool, move |c| {
                    audit::batch_after(c, &filter, from, CSV_BATCH)
                })
                .await
                .map(|events| {
                    let next = (events.len() as i64 == CSV_BATCH)
                        .then(|| events.last().map(|e| e.id).unwrap_or(from));
                    (events.iter().map(audit::csv_row).collect(), next)
                })
            };
            match chunk {
                Ok((text, next)) => Some((Ok::<_, actix_web::Error>(Bytes::from(text)), next)),
                Err(e) => Some((Err(e.into()), None)),
            }
        }
    });
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file_name}\""),
        ))
        .streaming(batches)
}

pub async fn csv(
    pool: web::Data<PgPool>,
    auth: Auth,
    slug: web::Path<String>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, AppError> {
    let (_, access) = require_org(&pool, &auth, &slug, OrgPermission::ReviewAudit).await?;
    let filter = query.filter(access.org.id).map_err(AppError::BadRequest)?;
    let org = (access.org.id, access.org.name.clone());
    crate::ops::audit_log::exported(&pool, &auth.ctx(), org, query.query_string()).await?;
    Ok(csv_response(
        pool.get_ref().clone(),
        filter,
        &format!("audit-{}.csv", access.org.slug),
    ))
}
