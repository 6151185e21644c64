//! An organization's lifecycle: creation, renaming, going live (platform operators), and
//! deletion by an owner (sandbox only) or by a platform operator.

use super::Ctx;
use crate::authz::OrgPermission;
use crate::db::lifecycle::DeleteOutcome;
use crate::db::orgs::{CreateError, Organization};
use crate::db::{self, PgPool};
use crate::domain::OrgName;
use crate::domain::ids::{OrgId, UserId};
use crate::email::worker::OutboxSignal;
use crate::error::AppError;

/// Who deletes: an owner may delete only a sandbox organization; an operator any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleter {
    Owner,
    Operator,
}

/// Deletes the organization in one transaction (members are emailed, the audit log stays) and
/// wakes the outbox.
#[tracing::instrument(skip(pool, outbox, ctx), fields(org_id = %org_id))]
pub async fn delete(
    pool: &PgPool,
    outbox: &OutboxSignal,
    ctx: &Ctx,
    org_id: OrgId,
    by: Deleter,
) -> Result<DeleteOutcome, AppError> {
    let ctx = ctx.clone();
    let owner_rules = by == Deleter::Owner;
    let outcome = db::run(pool, move |c| {
        db::lifecycle::delete(c, org_id, owner_rules, &ctx.actor, &ctx.meta)
    })
    .await?;
    if matches!(outcome, DeleteOutcome::Deleted { .. }) {
        outbox.wake();
    }
    Ok(outcome)
}

/// Creates an organization with its three environments, the creator its owner; None when the
/// creator is at the organization limit (the refusal is audited).
#[tracing::instrument(skip(pool, ctx, name))]
pub async fn create(
    pool: &PgPool,
    ctx: &Ctx,
    user_id: UserId,
    name: OrgName,
    max_orgs: i64,
) -> Result<Option<Organization>, AppError> {
    let ctx = ctx.clone();
    db::run(pool, move |c| {
        match db::orgs::create(c, &ctx.actor, user_id, &name, max_orgs, &ctx.meta) {
            Ok(org) => Ok(Some(org)),
            Err(CreateError::LimitReached) => Ok(None),
            Err(CreateError::Db(e)) => Err(e),
        }
    })
    .await
}

/// Renames the organization, with the renamer's role read again under the row lock.
#[tracing::instrument(skip(pool, ctx, org, name), fields(org_id = %org.id))]
pub async fn rename(
    pool: &PgPool,
    ctx: &Ctx,
    org: &Organization,
    name: OrgName,
) -> Result<Organization, AppError> {
    let (actor, meta, org_id) = (ctx.actor.clone(), ctx.meta.clone(), org.id);
    super::with_org_permission(pool, ctx, org, OrgPermission::ManageProfile, move |c| {
        db::orgs::rename(c, &actor, org_id, &name, &meta)
    })
    .await
}

/// How a change of the sign-in policy ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyChange {
    Changed,
    Unchanged,
    /// Turning it on needs the owner's own two-factor first (or they would lock themselves out).
    OwnTwoFactorFirst,
}

/// An owner turns "require two-factor sign-in" on or off.
#[tracing::instrument(skip(pool, ctx, org), fields(org_id = %org.id))]
pub async fn set_require_two_factor(
    pool: &PgPool,
    ctx: &Ctx,
    org: &Organization,
    actor_has_two_factor: bool,
    required: bool,
) -> Result<PolicyChange, AppError> {
    if required && !actor_has_two_factor {
        return Ok(PolicyChange::OwnTwoFactorFirst);
    }
    let (actor, meta, org_id) = (ctx.actor.clone(), ctx.meta.clone(), org.id);
    let changed =
        super::with_org_permission(pool, ctx, org, OrgPermission::ManageProfile, move |c| {
            db::orgs::set_require_two_factor(c, &actor, org_id, required, &meta)
        })
        .await?;
    Ok(if changed {
        PolicyChange::Changed
    } else {
        PolicyChange::Unchanged
    })
}

/// A platform operator marks the organization live; false when it already was.
#[tracing::instrument(skip(pool, ctx))]
pub async fn go_live(pool: &PgPool, ctx: &Ctx, org_id: OrgId) -> Result<bool, AppError> {
    let ctx = ctx.clone();
    db::run(pool, move |c| {
        db::lifecycle::mark_live(c, org_id, &ctx.actor, &ctx.meta)
    })
    .await
}
