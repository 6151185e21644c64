//! An organization's lifecycle: deletion by an owner (sandbox only) or by a platform operator.

use super::Ctx;
use crate::db::lifecycle::DeleteOutcome;
use crate::db::{self, PgPool};
use crate::domain::ids::OrgId;
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
