//! Changing roles through the API, with the same role-change function, invariants and audit
//! events as the pages; the audit actor is the API key.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::{ApiError, Caller, envelope, query_id, require_org};
use crate::authz::{EnvKind, EnvRole, OrgPermission, OrgRole};
use crate::config::Settings;
use crate::db::members::RemoveOutcome;
use crate::db::orgs::{Access, OrgRef};
use crate::db::roles::{self, Desired, Refusal};
use crate::db::{self, PgPool};
use crate::email::worker::OutboxSignal;
use crate::ops::{self, reauth::Reauth, roles::ChangeOutcome};

/// Refused role changes, as API errors with stable codes.
fn refused(refusal: Refusal) -> ApiError {
    let (status, code) = match refusal {
        Refusal::NotMember => (StatusCode::NOT_FOUND, "not_found"),
        Refusal::LastOwner => (StatusCode::CONFLICT, "last_owner"),
        Refusal::OnlyOwnersChangeOrgRoles
        | Refusal::AdminsCannotChangeOwnersOrAdmins
        | Refusal::AboveYourRole => (StatusCode::FORBIDDEN, "forbidden"),
    };
    ApiError::new(status, code, refusal.message())
}

pub fn json_error(e: actix_web::error::JsonPayloadError) -> ApiError {
    match e {
        actix_web::error::JsonPayloadError::Overflow { .. }
        | actix_web::error::JsonPayloadError::OverflowKnownLength { .. } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "The body is larger than 64 KiB.",
        ),
        other => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            other.to_string(),
        ),
    }
}

/// A production grant without a right password: 403 `password_required`, or 429 while the
/// account is locked by the throttle.
fn password_refused(answer: Reauth) -> ApiError {
    match answer {
        Reauth::Locked => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "password_locked",
            answer.problem(),
        ),
        _ => ApiError::new(
            StatusCode::FORBIDDEN,
            "password_required",
            "Granting or raising a production role needs your password in the body's 'password'.",
        ),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OrgRoleBody {
    pub user_id: i64,
    pub role: OrgRoleName,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum OrgRoleName {
    Owner,
    Admin,
    Member,
}

impl From<OrgRoleName> for OrgRole {
    fn from(r: OrgRoleName) -> OrgRole {
        match r {
            OrgRoleName::Owner => OrgRole::Owner,
            OrgRoleName::Admin => OrgRole::Admin,
            OrgRoleName::Member => OrgRole::Member,
        }
    }
}

/// PUT /api/v1/organizations/{id}/role-assignment (owners): a member's organization role.
pub async fn put_org_role(
    pool: web::Data<PgPool>,
    caller: Caller,
    org_id: web::Path<i64>,
    body: web::Json<OrgRoleBody>,
) -> Result<HttpResponse, ApiError> {
    let access = require_org(
        &pool,
        &caller,
        OrgRef::Id(org_id.into_inner()),
        OrgPermission::ManageOrgRoles,
    )
    .await?;
    let body = body.into_inner();
    let target = body.user_id;
    let org = access.org.id;
    let member = db::run(&pool, move |c| db::members::find(c, org, target))
        .await?
        .ok_or_else(|| refused(Refusal::NotMember))?;
    let desired = Desired {
        org_role: body.role.into(),
        ..Desired::of(&member)
    };
    let outcome = ops::roles::change(&pool, &caller.ctx(), &access.org, target, desired).await?;
    let changes = match outcome {
        ChangeOutcome::Changed(n) => n,
        ChangeOutcome::Refused(refusal) => return Err(refused(refusal)),
    };
    Ok(envelope(
        serde_json::json!({ "userId": target, "role": OrgRole::from(body.role).as_str(), "changes": changes }),
    ))
}

/// DELETE /api/v1/organizations/{id}/role-assignment?userId= (owners and admins): removes the
/// person, under the rules of Remove.
pub async fn delete_org_role(
    pool: web::Data<PgPool>,
    outbox: web::Data<OutboxSignal>,
    caller: Caller,
    org_id: web::Path<i64>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let access = require_org(
        &pool,
        &caller,
        OrgRef::Id(org_id.into_inner()),
        OrgPermission::RemoveUsers,
    )
    .await?;
    let target = query_id(&req, "userId")?;
    let outcome =
        ops::members::remove(&pool, &outbox, &caller.ctx(), access.org.id, target).await?;
    match outcome {
        RemoveOutcome::Removed => Ok(envelope(
            serde_json::json!({ "userId": target, "removed": true }),
        )),
        RemoveOutcome::NotMember => Err(ApiError::not_found()),
        RemoveOutcome::NotAllowed => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Admins cannot remove owners or admins.",
        )),
        RemoveOutcome::LastOwner => Err(refused(Refusal::LastOwner)),
        RemoveOutcome::Yourself => Err(ApiError::new(
            StatusCode::CONFLICT,
            "yourself",
            "To remove yourself, leave the organization.",
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EnvRoleBody {
    pub user_id: i64,
    pub role: EnvRoleName,
    /// The caller's password, needed to grant or raise a production role.
    #[serde(default)]
    pub password: Option<String>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum EnvRoleName {
    Viewer,
    Support,
    Engineer,
}

impl From<EnvRoleName> for EnvRole {
    fn from(r: EnvRoleName) -> EnvRole {
        match r {
            EnvRoleName::Viewer => EnvRole::Viewer,
            EnvRoleName::Support => EnvRole::Support,
            EnvRoleName::Engineer => EnvRole::Engineer,
        }
    }
}

/// The environment's organization, through the one enforcement path, and the environment's kind.
async fn environment(
    pool: &PgPool,
    caller: &Caller,
    env_id: i64,
) -> Result<(Access, EnvKind), ApiError> {
    let access = require_org(
        pool,
        caller,
        OrgRef::Environment(env_id),
        OrgPermission::ManageEnvironmentRoles,
    )
    .await?;
    let kind = access
        .environments
        .iter()
        .find(|e| e.id == env_id)
        .map(|e| e.kind)
        .ok_or_else(ApiError::not_found)?;
    Ok((access, kind))
}

#[expect(
    clippy::too_many_arguments,
    reason = "POST, PUT and DELETE share this one path"
)]
/// Sets (Some) or removes (None) a member's role in one environment. `must_exist`: the member
/// must already have a role there (PUT, DELETE); `must_not_exist`: they must not (POST).
async fn change_env_role(
    pool: &PgPool,
    caller: &Caller,
    env_id: i64,
    target: i64,
    role: Option<EnvRole>,
    password_typed: Option<String>,
    expect: Option<bool>,
    settings: &Settings,
) -> Result<HttpResponse, ApiError> {
    let (access, kind) = environment(pool, caller, env_id).await?;
    let org = access.org.id;
    let member = db::run(pool, move |c| db::members::find(c, org, target))
        .await?
        .ok_or_else(ApiError::not_found)?;
    let before = Desired::of(&member);
    let has_role = before.env(kind).is_some();
    match expect {
        Some(true) if !has_role => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_assigned",
                "This member has no role in this environment.",
            ));
        }
        Some(false) if has_role => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "already_assigned",
                "This member already has a role here; change it with PUT.",
            ));
        }
        _ => {}
    }
    let mut desired = before.clone();
    for (k, r) in desired.envs.iter_mut() {
        if *k == kind {
            *r = role;
        }
    }
    if roles::raises_production(&before, &desired) {
        let answer = ops::reauth::confirm_password(
            pool,
            settings,
            &caller.ctx(),
            &caller.user,
            password_typed.as_deref(),
            None,
        )
        .await?;
        if !answer.is_ok() {
            return Err(password_refused(answer));
        }
    }
    let changes =
        match ops::roles::change(pool, &caller.ctx(), &access.org, target, desired).await? {
            ChangeOutcome::Changed(n) => n,
            ChangeOutcome::Refused(refusal) => return Err(refused(refusal)),
        };
    Ok(envelope(
        serde_json::json!({ "userId": target, "environment": kind.as_str(), "role": role.map(EnvRole::as_str), "changes": changes }),
    ))
}

/// GET /api/v1/environments/{id}/role-assignment (owners and admins): the environment's users.
pub async fn get_env_roles(
    pool: web::Data<PgPool>,
    caller: Caller,
    env_id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let (access, kind) = environment(&pool, &caller, env_id.into_inner()).await?;
    let org = access.org.id;
    let (users, total) = db::run(&pool, move |c| {
        db::members::environment_users(c, org, kind, 0, 500)
    })
    .await?;
    let items: Vec<_> = users.into_iter().map(|u| serde_json::json!({ "userId": u.user_id, "name": u.name, "email": u.email, "role": u.role.as_str() })).collect();
    Ok(envelope(
        serde_json::json!({ "environment": kind.as_str(), "items": items, "total": total }),
    ))
}

/// POST: grants a role to a member without one here.
pub async fn post_env_role(
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    caller: Caller,
    env_id: web::Path<i64>,
    body: web::Json<EnvRoleBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    change_env_role(
        &pool,
        &caller,
        env_id.into_inner(),
        body.user_id,
        Some(body.role.into()),
        body.password,
        Some(false),
        &settings,
    )
    .await
}

/// PUT: changes a member's role here.
pub async fn put_env_role(
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    caller: Caller,
    env_id: web::Path<i64>,
    body: web::Json<EnvRoleBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    change_env_role(
        &pool,
        &caller,
        env_id.into_inner(),
        body.user_id,
        Some(body.role.into()),
        body.password,
        Some(true),
        &settings,
    )
    .await
}

/// DELETE ?userId=: takes a member's role here away.
pub async fn delete_env_role(
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    caller: Caller,
    env_id: web::Path<i64>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let target = query_id(&req, "userId")?;
    change_env_role(
        &pool,
        &caller,
        env_id.into_inner(),
        target,
        None,
        None,
        Some(true),
        &settings,
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InviteBody {
    pub emails: Vec<String>,
    #[serde(default = "member_role")]
    pub role: OrgRoleName,
    /// Environment roles granted on acceptance: {"staging": "viewer"}.
    #[serde(default)]
    pub environments: std::collections::BTreeMap<String, EnvRoleName>,
    /// The caller's password, needed when a production role is granted.
    #[serde(default)]
    pub password: Option<String>,
}

fn member_role() -> OrgRoleName {
    OrgRoleName::Member
}

/// POST /api/v1/organizations/{id}/invitations (owners and admins): the invite form's rules.
pub async fn post_invitations(
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    outbox: web::Data<OutboxSignal>,
    caller: Caller,
    org_id: web::Path<i64>,
    body: web::Json<InviteBody>,
) -> Result<HttpResponse, ApiError> {
    use crate::db::invitations::{EnvRoles, InviteOutcome};
    let access = require_org(
        &pool,
        &caller,
        OrgRef::Id(org_id.into_inner()),
        OrgPermission::ManageInvitations,
    )
    .await?;
    let body = body.into_inner();
    let invalid = |field: String, message: &str| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            format!("{field}: {message}"),
        )
    };
    if body.emails.is_empty() || body.emails.len() > crate::domain::MAX_INVITES_PER_FORM {
        return Err(invalid("emails".into(), "one to 50 addresses"));
    }
    let mut emails = Vec::new();
    for (i, raw) in body.emails.iter().enumerate() {
        let email = crate::domain::EmailAddress::parse(raw)
            .map_err(|m| invalid(format!("emails[{i}]"), m))?;
        if !emails.contains(&email) {
            emails.push(email);
        }
    }
    let role = OrgRole::from(body.role);
    if !crate::authz::may_invite_as(OrgRole::Owner, role) {
        return Err(invalid("role".into(), "member or admin"));
    }
    let addresses = body.emails.join(", ");
    if !ops::invitations::may_invite_as(&pool, &caller.ctx(), &access, role, &addresses).await? {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Only owners can invite admins.",
        ));
    }
    let mut env_roles = EnvRoles::default();
    for (kind, r) in &body.environments {
        let kind: EnvKind = kind.parse().map_err(|_| {
            invalid(
                format!("environments.{kind}"),
                "development, staging or production",
            )
        })?;
        env_roles.0.insert(kind, (*r).into());
    }
    if env_roles.get(&EnvKind::Production).is_some() {
        let answer = ops::reauth::confirm_password(
            &pool,
            &settings,
            &caller.ctx(),
            &caller.user,
            body.password.as_deref(),
            None,
        )
        .await?;
        if !answer.is_ok() {
            return Err(password_refused(answer));
        }
    }
    let invite = ops::invitations::Invite {
        org: access.org.clone(),
        inviter: caller.user.clone(),
        role,
        env_roles,
        emails,
    };
    let outcome =
        ops::invitations::invite(&pool, &settings, &outbox, &caller.ctx(), invite).await?;
    match outcome {
        InviteOutcome::Sent {
            created,
            resent,
            at_limit,
        } => Ok(envelope(
            serde_json::json!({ "created": created, "resent": resent, "atOrganizationLimit": at_limit }),
        )),
        InviteOutcome::AlreadyMembers(members) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_member",
            format!("Already members: {}", members.join(", ")),
        )),
        InviteOutcome::DailyLimit { .. } => Err(ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "daily_invitation_limit",
            message: format!(
                "At most {} invitations a day per organization.",
                settings.invites_per_org_per_day
            ),
            retry_after: Some(3600),
        }),
    }
}

/// DELETE /api/v1/organizations/{id}/invitations?invitationId= (owners and admins): revokes.
pub async fn delete_invitation(
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
    let id = query_id(&req, "invitationId")?;
    let (org, actor, meta) = (access.org.clone(), caller.actor(), caller.meta.clone());
    if db::run(&pool, move |c| {
        db::invitations::revoke(c, &org, id, &actor, &meta)
    })
    .await?
    {
        Ok(envelope(
            serde_json::json!({ "invitationId": id, "state": "revoked" }),
        ))
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_pending",
            "No open invitation with this id.",
        ))
    }
}
