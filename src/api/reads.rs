//! Read endpoints for owners and admins: role assignments, invitations and audit events, paged
//! with `_page` and `_count` (at most 50).

use crate::domain::ids::{InvitationId, OrgId, UserId};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;

use std::collections::BTreeMap;

use super::{
    ApiError, Caller, CallerRequest, Envelope, ErrorCode, ErrorResponses, envelope, require_org,
};
use crate::audit::{Action, Status};
use crate::authz::OrgPermission;
use crate::authz::{EnvKind, EnvRole, OrgRole};
use crate::db::audit::Filter;
use crate::db::orgs::OrgRef;
use crate::db::{self, PgPool};
use crate::domain::states::InvitationState;

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
        ErrorCode::InvalidParameter,
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

/// One page of a list.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    items: Vec<T>,
    page: i64,
    count: i64,
    total: i64,
}

/// A member with their organization role and their role in each environment (null: none).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Assignment {
    user_id: UserId,
    name: String,
    email: String,
    role: OrgRole,
    environments: EnvironmentRoles,
}

/// A member's role in each environment (null: no access).
#[derive(Serialize, utoipa::ToSchema)]
pub struct EnvironmentRoles {
    development: Option<EnvRole>,
    staging: Option<EnvRole>,
    production: Option<EnvRole>,
}

impl EnvironmentRoles {
    fn of(roles: &[(EnvKind, Option<EnvRole>)]) -> EnvironmentRoles {
        let role = |kind| roles.iter().find(|(k, _)| *k == kind).and_then(|(_, r)| *r);
        EnvironmentRoles {
            development: role(EnvKind::Development),
            staging: role(EnvKind::Staging),
            production: role(EnvKind::Production),
        }
    }
}

/// GET /api/v1/organizations/{id}/role-assignment (owners and admins).
#[utoipa::path(
    get,
    path = "/api/v1/organizations/{id}/role-assignment",
    operation_id = "listRoleAssignments",
    summary = "Members with their organization and environment roles (owners and admins)",
    params(("id" = i64, Path, description = "Organization id"), ("_page" = Option<i64>, Query, minimum = 1, maximum = 1000000, description = "Page, from 1"), ("_count" = Option<i64>, Query, minimum = 1, maximum = 50, description = "Items per page, at most 50")),
    responses((status = 200, description = "Members with their organization and environment roles (owners and admins)", body = Envelope<Page<Assignment>>), ErrorResponses)
)]
pub async fn role_assignments(
    caller: CallerRequest,
    org_id: web::Path<OrgId>,
    req: HttpRequest,
    lists: web::Data<db::members::ListCache>,
) -> Result<HttpResponse, ApiError> {
    let (offset, count, page) = match paging(&pairs(&req)) {
        Ok(asked) => asked,
        Err(bad) => {
            // The key first, as for every endpoint: a caller without a valid key learns
            // nothing, and a bad request still counts against the key's rate.
            caller.authenticated(|_, _| Ok(())).await?;
            return Err(bad);
        }
    };
    let (_, _, (members, total)) = caller
        .with_org(
            OrgRef::Id(org_id.into_inner()),
            OrgPermission::ViewOrgRoles,
            move |c, access| lists.list(c, access, "", offset, count),
        )
        .await?;
    let items = members
        .iter()
        .map(|m| Assignment {
            user_id: m.user_id,
            name: m.name.clone(),
            email: m.email.clone(),
            role: m.role,
            environments: EnvironmentRoles::of(&m.environments),
        })
        .collect();
    Ok(envelope(Page {
        items,
        page,
        count,
        total,
    }))
}

/// An invitation with the delivery state of its latest email (`queued`, `sent`, `failed`)
/// and the environment roles it grants.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvitationOut {
    id: InvitationId,
    email: String,
    role: OrgRole,
    state: InvitationState,
    delivery: String,
    environments: BTreeMap<String, EnvRole>,
    expires_at: DateTime<Utc>,
}

/// GET /api/v1/organizations/{id}/invitations (owners and admins).
#[utoipa::path(
    get,
    path = "/api/v1/organizations/{id}/invitations",
    operation_id = "listInvitations",
    summary = "Invitations, newest first (owners and admins)",
    params(("id" = i64, Path, description = "Organization id"), ("_page" = Option<i64>, Query, minimum = 1, maximum = 1000000, description = "Page, from 1"), ("_count" = Option<i64>, Query, minimum = 1, maximum = 50, description = "Items per page, at most 50")),
    responses((status = 200, description = "Invitations, newest first (owners and admins)", body = Envelope<Page<InvitationOut>>), ErrorResponses)
)]
pub async fn invitations(
    pool: web::Data<PgPool>,
    caller: Caller,
    org_id: web::Path<OrgId>,
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
            state: row.invitation.state(),
            email: row.invitation.email,
            role: row.invitation.role,
            delivery: row.delivery,
            environments: row
                .invitation
                .environment_roles
                .0
                .iter()
                .map(|(k, r)| (k.as_str().to_string(), *r))
                .collect(),
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

/// One audit event.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventOut {
    id: i64,
    time: DateTime<Utc>,
    organization_id: Option<i64>,
    organization_name: Option<String>,
    actor_kind: String,
    actor: String,
    actor_user_id: Option<i64>,
    action: Action,
    target: Option<String>,
    status: Status,
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
#[utoipa::path(
    get,
    path = "/api/v1/organizations/{id}/audit-events",
    operation_id = "listAuditEvents",
    summary = "Audit events, newest first (owners)",
    params(("id" = i64, Path, description = "Organization id"), ("_page" = Option<i64>, Query, minimum = 1, maximum = 1000000, description = "Page, from 1"), ("_count" = Option<i64>, Query, minimum = 1, maximum = 50, description = "Items per page, at most 50"), ("userId" = Option<i64>, Query, description = "Only events by this user"), ("startDateTime" = Option<String>, Query, format = DateTime, description = "From (RFC 3339)"), ("stopDateTime" = Option<String>, Query, format = DateTime, description = "Until (RFC 3339)"), ("status" = Option<Status>, Query, description = "Only events with this status"), ("actionType[]" = Option<Vec<Action>>, Query, explode, description = "Only these actions")),
    responses((status = 200, description = "Audit events, newest first (owners)", body = Envelope<Page<EventOut>>), ErrorResponses)
)]
pub async fn audit_events(
    pool: web::Data<PgPool>,
    caller: Caller,
    org_id: web::Path<OrgId>,
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
        Some((_, v)) => Some(
            v.parse::<Status>()
                .map_err(|_| invalid("status", "one of attempted, successful, denied"))?,
        ),
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
