//! Changing roles through the API, with the same role-change function, invariants and audit
//! events as the pages; the audit actor is the API key.

use crate::domain::ids::{EnvId, InvitationId, OrgId, UserId};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::{
    ApiError, Caller, Envelope, ErrorCode, ErrorResponses, envelope, query_id, require_org,
};
use crate::authz::{EnvKind, EnvRole, OrgPermission, OrgRole};
use crate::config::Settings;
use crate::db::invitations::EnvRoles;
use crate::db::members::RemoveOutcome;
use crate::db::orgs::{Access, OrgRef};
use crate::db::roles::{self, Desired, Refusal};
use crate::db::{self, PgPool};
use crate::domain::states::InvitationState;
use crate::email::worker::OutboxSignal;
use crate::ops::{self, reauth::Reauth, roles::ChangeOutcome};

/// A changed organization role.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgRoleChanged {
    user_id: UserId,
    role: OrgRole,
    /// How many roles changed.
    changes: usize,
}

/// A removed member.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberRemoved {
    user_id: UserId,
    removed: bool,
}

/// A changed environment role (`role` null: taken away).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvRoleChanged {
    user_id: UserId,
    environment: EnvKind,
    role: Option<EnvRole>,
    changes: usize,
}

/// An environment's users.
#[derive(Serialize, utoipa::ToSchema)]
pub struct EnvironmentUsers {
    environment: EnvKind,
    items: Vec<EnvironmentUserOut>,
    total: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentUserOut {
    user_id: UserId,
    name: String,
    email: String,
    role: EnvRole,
}

/// Invitations sent: new ones, open ones sent again, and addresses already at the
/// organization limit (they cannot accept until they leave one).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvitationsSent {
    created: Vec<String>,
    resent: Vec<String>,
    at_organization_limit: Vec<String>,
}

/// A revoked invitation.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvitationRevoked {
    invitation_id: InvitationId,
    state: InvitationState,
}

/// Refused role changes, as API errors with stable codes.
fn refused(refusal: Refusal) -> ApiError {
    let (status, code) = match refusal {
        Refusal::NotMember => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
        Refusal::LastOwner => (StatusCode::CONFLICT, ErrorCode::LastOwner),
        Refusal::OnlyOwnersChangeOrgRoles
        | Refusal::AdminsCannotChangeOwnersOrAdmins
        | Refusal::AboveYourRole => (StatusCode::FORBIDDEN, ErrorCode::Forbidden),
        Refusal::FreshPasswordNeeded => (StatusCode::FORBIDDEN, ErrorCode::PasswordRequired),
    };
    ApiError::new(status, code, refusal.message())
}

pub fn json_error(e: actix_web::error::JsonPayloadError) -> ApiError {
    match e {
        actix_web::error::JsonPayloadError::Overflow { .. }
        | actix_web::error::JsonPayloadError::OverflowKnownLength { .. } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::BodyTooLarge,
            "The body is larger than 64 KiB.",
        ),
        other => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidBody,
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
            ErrorCode::PasswordLocked,
            answer.problem(),
        ),
        _ => ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::PasswordRequired,
            "Granting or raising a production role needs your password in the body's 'password'.",
        ),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OrgRoleBody {
    pub user_id: UserId,
    pub role: OrgRoleName,
}

#[derive(Deserialize, Clone, Copy, utoipa::ToSchema)]
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
#[utoipa::path(
    put,
    path = "/api/v1/organizations/{id}/role-assignment",
    operation_id = "setOrganizationRole",
    summary = "Change a member's organization role (owners)",
    params(("id" = i64, Path, description = "Organization id")),
    request_body = OrgRoleBody,
    responses((status = 200, description = "Change a member's organization role (owners)", body = Envelope<OrgRoleChanged>), ErrorResponses)
)]
pub async fn put_org_role(
    pool: web::Data<PgPool>,
    caller: Caller,
    org_id: web::Path<OrgId>,
    body: super::Body<OrgRoleBody>,
) -> Result<HttpResponse, ApiError> {
    let access = require_org(
        &pool,
        &caller,
        OrgRef::Id(org_id.into_inner()),
        OrgPermission::ManageOrgRoles,
    )
    .await?;
    let body = super::body(body)?;
    let target = body.user_id;
    let org = access.org.id;
    let member = db::run(&pool, move |c| db::members::find(c, org, target))
        .await?
        .ok_or_else(|| refused(Refusal::NotMember))?;
    let desired = Desired {
        org_role: body.role.into(),
        ..Desired::of(&member)
    };
    // No password is taken here: a change that would grant or raise production is refused.
    let outcome =
        ops::roles::change(&pool, &caller.ctx(), &access.org, target, desired, false).await?;
    let changes = match outcome {
        ChangeOutcome::Changed(n) => n,
        ChangeOutcome::Refused(refusal) => return Err(refused(refusal)),
    };
    Ok(envelope(OrgRoleChanged {
        user_id: target,
        role: body.role.into(),
        changes,
    }))
}

/// DELETE /api/v1/organizations/{id}/role-assignment?userId= (owners and admins): removes the
/// person, under the rules of Remove.
#[utoipa::path(
    delete,
    path = "/api/v1/organizations/{id}/role-assignment",
    operation_id = "removeMember",
    summary = "Remove a member, under the rules of Remove (owners and admins)",
    params(("id" = i64, Path, description = "Organization id"), ("userId" = i64, Query, description = "The member")),
    responses((status = 200, description = "Remove a member, under the rules of Remove (owners and admins)", body = Envelope<MemberRemoved>), ErrorResponses)
)]
pub async fn delete_org_role(
    pool: web::Data<PgPool>,
    outbox: web::Data<OutboxSignal>,
    caller: Caller,
    org_id: web::Path<OrgId>,
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
        RemoveOutcome::Removed => Ok(envelope(MemberRemoved {
            user_id: target,
            removed: true,
        })),
        RemoveOutcome::NotMember => Err(ApiError::not_found()),
        RemoveOutcome::NotAllowed => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "Admins cannot remove owners or admins.",
        )),
        RemoveOutcome::LastOwner => Err(refused(Refusal::LastOwner)),
        RemoveOutcome::Yourself => Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::Yourself,
            "To remove yourself, leave the organization.",
        )),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EnvRoleBody {
    pub user_id: UserId,
    pub role: EnvRoleName,
    /// The caller's password, needed to grant or raise a production role.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String)]
    pub password: Option<String>,
}

#[derive(Deserialize, Clone, Copy, utoipa::ToSchema)]
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
    env_id: EnvId,
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

/// One environment role change asked through the API (POST, PUT and DELETE share it).
struct EnvRoleChange {
    env_id: EnvId,
    target: UserId,
    /// The role to set, or `None` to take the role away.
    role: Option<EnvRole>,
    password_typed: Option<String>,
    /// `Some(true)`: the member must already have a role there (PUT, DELETE); `Some(false)`:
    /// they must not (POST).
    expect: Option<bool>,
}

impl EnvRoleChange {
    /// Gives the body's member the body's role; `exists`: they must already have one here (PUT),
    /// or must not (POST).
    fn set(env_id: EnvId, body: EnvRoleBody, exists: bool) -> EnvRoleChange {
        EnvRoleChange {
            env_id,
            target: body.user_id,
            role: Some(body.role.into()),
            password_typed: body.password,
            expect: Some(exists),
        }
    }
}

/// Sets or removes a member's role in one environment.
async fn change_env_role(
    pool: &PgPool,
    settings: &Settings,
    caller: &Caller,
    change: EnvRoleChange,
) -> Result<HttpResponse, ApiError> {
    let EnvRoleChange {
        env_id,
        target,
        role,
        password_typed,
        expect,
    } = change;
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
                ErrorCode::NotAssigned,
                "This member has no role in this environment.",
            ));
        }
        Some(false) if has_role => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::AlreadyAssigned,
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
    let confirmed = roles::raises_production(&before, &desired);
    if confirmed {
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
        match ops::roles::change(pool, &caller.ctx(), &access.org, target, desired, confirmed)
            .await?
        {
            ChangeOutcome::Changed(n) => n,
            ChangeOutcome::Refused(refusal) => return Err(refused(refusal)),
        };
    Ok(envelope(EnvRoleChanged {
        user_id: target,
        environment: kind,
        role,
        changes,
    }))
}

/// GET /api/v1/environments/{id}/role-assignment (owners and admins): the environment's users.
#[utoipa::path(
    get,
    path = "/api/v1/environments/{id}/role-assignment",
    operation_id = "listEnvironmentRoles",
    summary = "The environment's users and roles (owners and admins)",
    params(("id" = i64, Path, description = "Environment id")),
    responses((status = 200, description = "The environment's users and roles (owners and admins)", body = Envelope<EnvironmentUsers>), ErrorResponses)
)]
pub async fn get_env_roles(
    pool: web::Data<PgPool>,
    caller: Caller,
    env_id: web::Path<EnvId>,
) -> Result<HttpResponse, ApiError> {
    let (access, kind) = environment(&pool, &caller, env_id.into_inner()).await?;
    let org = access.org.id;
    let (users, total) = db::run(&pool, move |c| {
        db::members::environment_users(c, org, kind, 0, 500)
    })
    .await?;
    let items = users
        .into_iter()
        .map(|u| EnvironmentUserOut {
            user_id: u.user_id,
            name: u.name,
            email: u.email,
            role: u.role,
        })
        .collect();
    Ok(envelope(EnvironmentUsers {
        environment: kind,
        items,
        total,
    }))
}

/// POST: grants a role to a member without one here.
#[utoipa::path(
    post,
    path = "/api/v1/environments/{id}/role-assignment",
    operation_id = "grantEnvironmentRole",
    summary = "Grant a role in the environment to a member without one",
    params(("id" = i64, Path, description = "Environment id")),
    request_body = EnvRoleBody,
    responses((status = 200, description = "Grant a role in the environment to a member without one", body = Envelope<EnvRoleChanged>), ErrorResponses)
)]
pub async fn post_env_role(
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    caller: Caller,
    env_id: web::Path<EnvId>,
    body: super::Body<EnvRoleBody>,
) -> Result<HttpResponse, ApiError> {
    let change = EnvRoleChange::set(env_id.into_inner(), super::body(body)?, false);
    change_env_role(&pool, &settings, &caller, change).await
}

/// PUT: changes a member's role here.
#[utoipa::path(
    put,
    path = "/api/v1/environments/{id}/role-assignment",
    operation_id = "changeEnvironmentRole",
    summary = "Change a member's role in the environment",
    params(("id" = i64, Path, description = "Environment id")),
    request_body = EnvRoleBody,
    responses((status = 200, description = "Change a member's role in the environment", body = Envelope<EnvRoleChanged>), ErrorResponses)
)]
pub async fn put_env_role(
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    caller: Caller,
    env_id: web::Path<EnvId>,
    body: super::Body<EnvRoleBody>,
) -> Result<HttpResponse, ApiError> {
    let change = EnvRoleChange::set(env_id.into_inner(), super::body(body)?, true);
    change_env_role(&pool, &settings, &caller, change).await
}

/// DELETE ?userId=: takes a member's role here away.
#[utoipa::path(
    delete,
    path = "/api/v1/environments/{id}/role-assignment",
    operation_id = "revokeEnvironmentRole",
    summary = "Take a member's role in the environment away",
    params(("id" = i64, Path, description = "Environment id"), ("userId" = i64, Query, description = "The member")),
    responses((status = 200, description = "Take a member's role in the environment away", body = Envelope<EnvRoleChanged>), ErrorResponses)
)]
pub async fn delete_env_role(
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    caller: Caller,
    env_id: web::Path<EnvId>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let target = query_id(&req, "userId")?;
    let change = EnvRoleChange {
        env_id: env_id.into_inner(),
        target,
        role: None,
        password_typed: None,
        expect: Some(true),
    };
    change_env_role(&pool, &settings, &caller, change).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InviteBody {
    /// One to 50 addresses.
    #[schema(min_items = 1, max_items = 50)]
    pub emails: Vec<InviteEmail>,
    #[serde(default = "member_role")]
    #[schema(default = "member")]
    pub role: OrgRoleName,
    /// Environment roles granted on acceptance: {"staging": "viewer"}.
    #[serde(default)]
    pub environments: InviteEnvironments,
    /// The caller's password, needed when a production role is granted.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String)]
    pub password: Option<String>,
}

/// An address as the API takes it: exactly the documented pattern, no spaces around it.
#[derive(Deserialize)]
#[serde(transparent)]
pub struct InviteEmail(String);

impl utoipa::PartialSchema for InviteEmail {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(
                "^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)+$",
            ))
            .max_length(Some(254))
            .into()
    }
}

impl utoipa::ToSchema for InviteEmail {}

impl InviteEmail {
    /// Whether the address matches the documented pattern and length.
    fn is_documented(&self) -> bool {
        let local_char = |c: char| c.is_ascii_alphanumeric() || ".!#$%&'*+/=?^_`{|}~-".contains(c);
        let label =
            |l: &str| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        let Some((local, domain)) = self.0.split_once('@') else {
            return false;
        };
        self.0.len() <= 254
            && (1..=64).contains(&local.len())
            && local.chars().all(local_char)
            && domain.split('.').count() >= 2
            && domain.split('.').all(label)
    }
}

/// The role granted in each environment on acceptance; an environment left out grants none.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteEnvironments {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = EnvRoleName)]
    pub development: Option<EnvRoleName>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = EnvRoleName)]
    pub staging: Option<EnvRoleName>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = EnvRoleName)]
    pub production: Option<EnvRoleName>,
}

/// An optional field that, when sent, holds a value: `null` is refused, as the document says.
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

fn member_role() -> OrgRoleName {
    OrgRoleName::Member
}

/// The addresses (deduplicated), organization role and environment roles of an invitation
/// body, or a 422 naming the field.
fn parse_invite(
    body: &InviteBody,
) -> Result<(Vec<crate::domain::EmailAddress>, OrgRole, EnvRoles), ApiError> {
    let invalid = |field: String, message: &str| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidBody,
            format!("{field}: {message}"),
        )
    };
    if body.emails.is_empty() || body.emails.len() > crate::domain::MAX_INVITES_PER_FORM {
        return Err(invalid("emails".into(), "one to 50 addresses"));
    }
    let mut emails = Vec::new();
    for (i, raw) in body.emails.iter().enumerate() {
        if !raw.is_documented() {
            return Err(invalid(
                format!("emails[{i}]"),
                "Enter an email address like name@example.com.",
            ));
        }
        let email = crate::domain::EmailAddress::parse(&raw.0)
            .map_err(|m| invalid(format!("emails[{i}]"), m))?;
        if !emails.contains(&email) {
            emails.push(email);
        }
    }
    let role = OrgRole::from(body.role);
    if !crate::authz::may_invite_as(OrgRole::Owner, role) {
        return Err(invalid("role".into(), "member or admin"));
    }
    let mut env_roles = EnvRoles::default();
    let environments = &body.environments;
    for (kind, r) in [
        (EnvKind::Development, environments.development),
        (EnvKind::Staging, environments.staging),
        (EnvKind::Production, environments.production),
    ] {
        if let Some(r) = r {
            env_roles.0.insert(kind, r.into());
        }
    }
    Ok((emails, role, env_roles))
}

/// POST /api/v1/organizations/{id}/invitations (owners and admins): the invite form's rules.
#[utoipa::path(
    post,
    path = "/api/v1/organizations/{id}/invitations",
    operation_id = "invite",
    summary = "Invite one to 50 addresses (owners and admins; the admin role by owners)",
    params(("id" = i64, Path, description = "Organization id")),
    request_body = InviteBody,
    responses((status = 200, description = "Invite one to 50 addresses (owners and admins; the admin role by owners)", body = Envelope<InvitationsSent>), ErrorResponses)
)]
pub async fn post_invitations(
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    outbox: web::Data<OutboxSignal>,
    caller: Caller,
    org_id: web::Path<OrgId>,
    body: super::Body<InviteBody>,
) -> Result<HttpResponse, ApiError> {
    let access = require_org(
        &pool,
        &caller,
        OrgRef::Id(org_id.into_inner()),
        OrgPermission::ManageInvitations,
    )
    .await?;
    let body = super::body(body)?;
    let (emails, role, env_roles) = parse_invite(&body)?;
    let addresses = emails
        .iter()
        .map(crate::domain::EmailAddress::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if !ops::invitations::may_invite_as(&pool, &caller.ctx(), &access, role, &addresses).await? {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "Only owners can invite admins.",
        ));
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
    invite_answer(outcome, &settings)
}

/// The API's answer to an invitation's outcome.
fn invite_answer(
    outcome: crate::db::invitations::InviteOutcome,
    settings: &Settings,
) -> Result<HttpResponse, ApiError> {
    use crate::db::invitations::InviteOutcome;
    match outcome {
        InviteOutcome::Sent {
            created,
            resent,
            at_limit,
        } => Ok(envelope(InvitationsSent {
            created,
            resent,
            at_organization_limit: at_limit,
        })),
        InviteOutcome::AlreadyMembers(members) => Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::AlreadyMember,
            format!("Already members: {}", members.join(", ")),
        )),
        InviteOutcome::SentTooRecently(recent) => Err(ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: ErrorCode::RateLimited,
            message: format!(
                "Sent less than a minute ago, not sent again: {}",
                recent.join(", ")
            ),
            retry_after: Some(crate::db::invitations::RESEND_INTERVAL_SECONDS),
        }),
        InviteOutcome::DailyLimit(limit) => Err(ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: ErrorCode::DailyInvitationLimit,
            message: limit.message(settings.invites_per_org_per_day),
            retry_after: Some(3600),
        }),
        InviteOutcome::NotAllowed => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "Your role does not allow inviting as this role.",
        )),
    }
}

/// DELETE /api/v1/organizations/{id}/invitations?invitationId= (owners and admins): revokes.
#[utoipa::path(
    delete,
    path = "/api/v1/organizations/{id}/invitations",
    operation_id = "revokeInvitation",
    summary = "Revoke an open invitation",
    params(("id" = i64, Path, description = "Organization id"), ("invitationId" = i64, Query, description = "The invitation")),
    responses((status = 200, description = "Revoke an open invitation", body = Envelope<InvitationRevoked>), ErrorResponses)
)]
pub async fn delete_invitation(
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
    let id = query_id(&req, "invitationId")?;
    if ops::invitations::revoke(&pool, &caller.ctx(), &access.org, id)
        .await?
        .is_some()
    {
        Ok(envelope(InvitationRevoked {
            invitation_id: id,
            state: InvitationState::Revoked,
        }))
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotPending,
            "No open invitation with this id.",
        ))
    }
}
