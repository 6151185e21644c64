//! Leaving an organization and removing a member from it.

use super::Ctx;
use crate::db::members::{LeaveOutcome, RemoveOutcome};
use crate::db::{self, PgPool};
use crate::domain::ids::{OrgId, UserId};
use crate::email::worker::OutboxSignal;
use crate::error::AppError;

/// Removes `target_id` from the organization under the rules of `authz::may_remove`, with the
/// remover's role read again under the organization's row lock; the removed person is emailed.
#[tracing::instrument(skip(pool, outbox, ctx))]
pub async fn remove(
    pool: &PgPool,
    outbox: &OutboxSignal,
    ctx: &Ctx,
    org_id: OrgId,
    target_id: UserId,
) -> Result<RemoveOutcome, AppError> {
    let ctx = ctx.clone();
    let outcome = db::run(pool, move |c| {
        db::members::remove(c, org_id, &ctx.actor, target_id, &ctx.meta)
    })
    .await?;
    if outcome == RemoveOutcome::Removed {
        outbox.wake();
    }
    Ok(outcome)
}

/// The acting person leaves the organization; the last owner cannot.
#[tracing::instrument(skip(pool, ctx))]
pub async fn leave(pool: &PgPool, ctx: &Ctx, org_id: OrgId) -> Result<LeaveOutcome, AppError> {
    let ctx = ctx.clone();
    let user_id = ctx.actor.user_id().ok_or(AppError::Forbidden)?;
    db::run(pool, move |c| {
        db::members::leave(c, org_id, &ctx.actor, user_id, &ctx.meta)
    })
    .await
}
