//! Read endpoints for owners and admins: role assignments, invitations and audit events, paged
//! with `_page` and `_count` (at most 50).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{ApiError, Caller, envelope, require_org};
use crate::authz::OrgPermission;
use crate::db::audit::Filter;
use crate::db::orgs::OrgRef;
use crate::db::{self, PgPool};

pub const MAX_COUNT: i64 = 50;

/// The query's key/value pairs, repeated keys kept.
fn pairs(req: &HttpRequest) -> Vec<(String, String)> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect()
}

fn invalid(field: &str, message: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_parameter",
        format!("{field}: {message}"),
    )
}

/// `_page` (from 1) and `_count` (1 to 50, default 50) → (offset, limit, page).
fn paging(pairs: &[(String, String)]) -> Result<(i64, i64, i64), ApiError> {
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let page = match get("_page") {
        None => 1,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|p| (1..=1_000_000).contains(p))
            .ok_or_else(|| invalid("_page", "a whole number from 1"))?,
    };
    let count = match get("_count") {
        None => MAX_COUNT,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|c| (1..=MAX_COUNT).contains(c))
            .ok_or_else(|| invalid("_count", "a whole number from 1 to 50"))?,
    };
    Ok(((page - 1) * count, count, page))
}

#[derive(Serialize)]
struct Page<T> {
    items: Vec<T>,
    page: i64,
    count: i64,
    total: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Assignment {
    user_id: i64,
    name: String,
    email: String,
    role: &'static str,
    environments: serde_json::Map<String, serde_json::Value>,
}

/// GET /api/v1/organizations/{id}/role-assignment (owners and admins).
pub async fn role_assignments(
    pool: web::Data<PgPool>,
    caller: Caller,
    org_id: web::Path<i64>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let access = require_org(
        &pool,
        &caller,
        OrgRef::Id(org_id.into_inner()),
        OrgPermission::ViewOrgRoles,
    )
    .await?;
    let (offset, count, page) = paging(&pairs(&req))?;
    let org = access.org.id;
    let (members, total) =
        db::run(&pool, move |c| db::members::list(c, org, "", offset, count)).await?;
    let items = members
        .into_iter()
        .map(|m| Assignment {
            user_id: m.user_id,
            name: m.name,
            email: m.email,
            role: m.role.as_str(),
            environments: m
                .environments
                .iter()
                .map(|(k, r)| {
                    (
                        k.as_str().to_string(),
                        serde_json::json!(r.map(|r| r.as_str())),
                    )
                })
                .collect(),
        })
        .collect();
    Ok(envelope(Page {
        items,
        page,
        count,
        total,
    }))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InvitationOut {
    id: i64,
    email: String,
    role: String,
    state: String,
    delivery: String,
    environments: serde_json::Value,
    expires_at: DateTime<Utc>,
}

/// GET /api/v1/organizations/{id}/invitations (owners and admins).
pub async fn invitations(
    pool: web::Data<PgPool>,
    caller: Caller,
    org_id: web::Path<i64>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let access = require_org(
        &pool,
        &caller,
        OrgRef::Id(org_id.into_inner()),
        OrgPermission::ManageInvitations,
    )
    .await?;
    let (offset, count, page) = paging(&pairs(&req))?;
    let org = access.org.id;
    let (rows, total) =
        db::run(&pool, move |c| db::invitations::list(c, org, offset, count)).await?;
    let items = rows
        .into_iter()
        .map(|row| InvitationOut {
            id: row.invitation.id,
            state: row.invitation.state().to_string(),
            email: row.invitation.email,
            role: row.invitation.role,
            delivery: row.delivery,
            environments: row.invitation.environment_roles,
            expires_at: row.invitation.expires_at,
        })
        .collect();
    Ok(envelope(Page {
        items,
        page,
        count,
        total,
    }))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EventOut {
    id: i64,
    time: DateTime<Utc>,
    organization_id: Option<i64>,
    organization_name: Option<String>,
    actor_kind: String,
    actor: String,
    actor_user_id: Option<i64>,
    action: String,
    target: Option<String>,
    status: String,
    ip: Option<String>,
    user_agent: Option<String>,
    details: serde_json::Value,
}

fn date_time(pairs: &[(String, String)], name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    match pairs.iter().find(|(k, _)| k == name) {
        None => Ok(None),
        Some((_, v)) => DateTime::parse_from_rfc3339(v)
            .map(|d| Some(d.with_timezone(&Utc)))
            .map_err(|_| invalid(name, "an RFC 3339 date-time, e.g. 2026-11-29T00:00:00Z")),
    }
}

/// GET /api/v1/organizations/{id}/audit-events (owners): filters `userId`, `startDateTime`,
/// `stopDateTime`, `status`, `actionType[]`, paged by `_page` and `_count`.
pub async fn audit_events(
    pool: web::Data<PgPool>,
    caller: Caller,
    org_id: web::Path<i64>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let access = require_org(
        &pool,
        &caller,
        OrgRef::Id(org_id.into_inner()),
        OrgPermission::ReviewAudit,
    )
    .await?;
    let pairs = pairs(&req);
    let (offset, count, page) = paging(&pairs)?;
    let actor_user_id = match pairs.iter().find(|(k, _)| k == "userId") {
        None => None,
        Some((_, v)) => Some(
            v.parse::<i64>()
                .map_err(|_| invalid("userId", "a user id"))?,
        ),
    };
    let status = match pairs.iter().find(|(k, _)| k == "status") {
        None => None,
        Some((_, v)) if ["attempted", "successful", "denied"].contains(&v.as_str()) => {
            Some(v.clone())
        }
        Some(_) => return Err(invalid("status", "one of attempted, successful, denied")),
    };
    let filter = Filter {
        organization_id: access.org.id,
        from: date_time(&pairs, "startDateTime")?,
        until: date_time(&pairs, "stopDateTime")?,
        status,
        actor_user_id,
        actions: pairs
            .iter()
            .filter(|(k, _)| k == "actionType[]" || k == "actionType")
            .map(|(_, v)| v.clone())
            .collect(),
        ..Filter::default()
    };
    let (events, total) =
        db::run(&pool, move |c| db::audit::page(c, &filter, offset, count)).await?;
    let items = events
        .into_iter()
        .map(|e| EventOut {
            id: e.id,
            time: e.created_at,
            organization_id: e.organization_id,
            organization_name: e.organization_name,
            actor_kind: e.actor_kind,
            actor: e.actor_label,
            actor_user_id: e.actor_user_id,
            action: e.action,
            target: e.target,
            status: e.status,
            ip: e.ip,
            user_agent: e.user_agent,
            details: e.details,
        })
        .collect();
    Ok(envelope(Page {
        items,
        page,
        count,
        total,
    }))
}
