//! The one enforcement path: pages and the API name an organization (by slug, id or one of its
//! environments) and the permission they need; the caller's membership and roles are read from
//! the database on every request, a non-member gets 404 (the organization's existence is not
//! revealed), a member without the permission 403, and every refused owner/admin action is
//! recorded as `permission.denied`.

use crate::audit::Action;
use serde_json::json;

use super::Ctx;
use crate::audit::{self, Denied};
use crate::authz::{self, EnvKind, EnvPermission, OrgPermission};
use crate::db::orgs::{Access, EnvironmentAccess, OrgRef};
use crate::db::{self, PgPool};
use crate::domain::ids::UserId;
use crate::error::AppError;
use diesel::PgConnection;

/// The caller's access to the organization, when their role there has `permission`.
pub async fn require_org(
    pool: &PgPool,
    ctx: &Ctx,
    org: OrgRef,
    permission: OrgPermission,
) -> Result<Access, AppError> {
    with_org(pool, ctx, org, permission, |_, _| Ok(()))
        .await
        .map(|(access, ())| access)
}

/// The caller's access to the organization (decided exactly as `require_org` decides) and what
/// `load` then reads with it, in one trip to the database: a page's permission check and its
/// data cost one hop to the blocking pool, not two.
pub async fn with_org<T, F>(
    pool: &PgPool,
    ctx: &Ctx,
    org: OrgRef,
    permission: OrgPermission,
    load: F,
) -> Result<(Access, T), AppError>
where
    T: Send + 'static,
    F: FnOnce(&mut PgConnection, &Access) -> diesel::QueryResult<T> + Send + 'static,
{
    let Some(user_id) = ctx.actor.user_id() else {
        return Err(AppError::NotFound);
    };
    let ctx = ctx.clone();
    db::run(pool, move |c| {
        decide_and_load(c, &ctx, user_id, &org, None, permission, load)
    })
    .await?
}

/// `with_org` on a connection already taken, for a trip that reads more before it (a page's
/// session, an API key): the decision, then what `load` reads when it allows.
///
/// `read` is the access check as the session's or the key's statement read it, when it read
/// one (`Some(None)`: not a member). It is used only when it is this user's access to this
/// organization; otherwise, or when there is none, the check is read here.
pub fn decide_and_load<T, F>(
    c: &mut PgConnection,
    ctx: &Ctx,
    user_id: UserId,
    org: &OrgRef,
    read: Option<Option<Access>>,
    permission: OrgPermission,
    load: F,
) -> diesel::QueryResult<Result<(Access, T), AppError>>
where
    F: FnOnce(&mut PgConnection, &Access) -> diesel::QueryResult<T>,
{
    let access = match read {
        Some(None) => None,
        Some(Some(access)) if access.is_for(user_id, org) => Some(access),
        Some(Some(_)) | None => db::orgs::access(c, user_id, org)?,
    };
    let access = match decide(c, ctx, access, permission)? {
        Ok(access) => access,
        Err(refused) => return Ok(Err(refused)),
    };
    let loaded = load(c, &access)?;
    Ok(Ok((access, loaded)))
}

/// The one decision, on membership and roles read from the database (None: not a member): the
/// organization's sign-in policy, then the permission; a refused owner/admin action is recorded.
fn decide(
    c: &mut PgConnection,
    ctx: &Ctx,
    access: Option<Access>,
    permission: OrgPermission,
) -> diesel::QueryResult<Result<Access, AppError>> {
    let Some(access) = access else {
        return Ok(Err(AppError::NotFound));
    };
    // The sign-in policy comes before any role: a member without two-factor reaches nothing
    // of the organization until they set it up.
    if access.lacks_two_factor() {
        return Ok(Err(AppError::TwoFactorRequired));
    }
    if authz::org_can(access.role, permission) {
        return Ok(Ok(access));
    }
    if authz::is_privileged(permission) {
        let denied = Denied {
            organization: Some((access.org.id, access.org.name.clone())),
            action: Action::PermissionDenied,
            target: Some(ctx.path.clone()),
            details: json!({ "permission": format!("{permission:?}"), "role": access.role.as_str() }),
        };
        audit::record_denied(c, &ctx.actor, &ctx.meta, &denied)?;
    }
    Ok(Err(AppError::Forbidden))
}

/// The caller's access to the organization and to its environment `kind`, when their role in
/// that environment has `permission`.
pub async fn require_env(
    pool: &PgPool,
    ctx: &Ctx,
    org: OrgRef,
    kind: EnvKind,
    permission: EnvPermission,
) -> Result<(Access, EnvironmentAccess), AppError> {
    let access = require_org(pool, ctx, org, OrgPermission::ViewOrganization).await?;
    let found = environment(&access, kind, permission)?;
    Ok((access, found))
}

/// The environment `kind` of an organization the caller may view, when their role in it allows
/// `permission`.
pub fn environment(
    access: &Access,
    kind: EnvKind,
    permission: EnvPermission,
) -> Result<EnvironmentAccess, AppError> {
    let found = access
        .environments
        .iter()
        .find(|e| e.kind == kind)
        .cloned()
        .ok_or(AppError::NotFound)?;
    if !authz::env_can(found.role, permission) {
        return Err(AppError::Forbidden);
    }
    Ok(found)
}

/// Records a refusal decided before any change was attempted (a pre-check such as "only owners
/// invite admins").
pub async fn deny(pool: &PgPool, ctx: &Ctx, denied: Denied) -> Result<(), AppError> {
    let ctx = ctx.clone();
    // What happened is recorded even if the client leaves meanwhile: never abandoned.
    db::finish(pool, move |c| {
        audit::record_denied(c, &ctx.actor, &ctx.meta, &denied)
    })
    .await
}

/// Records that someone who is not a platform operator tried an operator action.
pub async fn operator_refused(pool: &PgPool, ctx: &Ctx, action: Action) -> Result<(), AppError> {
    deny(
        pool,
        ctx,
        Denied {
            organization: None,
            action,
            target: Some(ctx.path.clone()),
            details: json!({ "reason": "not a platform operator" }),
        },
    )
    .await
}
