//! Changing members' roles: one member (the Edit roles page, the API) or many at once (the
//! members × environments grid, all or nothing).

use super::{Ctx, refusable};
use crate::authz::RoleRefusal;
use crate::db::members::Member;
use crate::db::orgs::Organization;
use crate::db::roles::{self, Desired, Wanted};
use crate::db::{self, PgPool};
use crate::domain::ids::UserId;
use crate::error::AppError;

/// What a role change did.
#[derive(Debug)]
pub enum ChangeOutcome {
    /// How many roles changed.
    Changed(usize),
    Refused(RoleRefusal),
}

/// Gives the member `target_id` the roles `desired`, under the rules of `authz`.
#[tracing::instrument(skip(pool, ctx, org, desired), fields(org_id = %org.id))]
pub async fn change(
    pool: &PgPool,
    ctx: &Ctx,
    org: &Organization,
    target_id: UserId,
    desired: Desired,
    password_confirmed: bool,
) -> Result<ChangeOutcome, AppError> {
    let (ctx, org) = (ctx.clone(), org.clone());
    let granter = ctx.actor.user_id().ok_or(AppError::Forbidden)?;
    let outcome = db::run(pool, move |c| {
        refusable(c, &ctx, |c| {
            let wanted = Wanted {
                roles: &desired,
                password_confirmed,
            };
            roles::apply(c, &org, granter, &ctx.actor, target_id, wanted, &ctx.meta)
        })
    })
    .await?;
    Ok(match outcome {
        Ok(n) => ChangeOutcome::Changed(n),
        Err(refusal) => ChangeOutcome::Refused(refusal),
    })
}

/// What a grid save did.
#[derive(Debug)]
pub enum GridOutcome {
    /// Every change was made; how many roles changed.
    Saved(usize),
    /// Nothing was made: this member's change was refused.
    Refused { name: String, refusal: RoleRefusal },
}

/// Saves many members' roles in one transaction: all of them or none. A refusal rolls back the
/// whole save and is then recorded.
#[tracing::instrument(skip(pool, ctx, org, changes), fields(org_id = %org.id, changes = changes.len()))]
pub async fn save_grid(
    pool: &PgPool,
    ctx: &Ctx,
    org: &Organization,
    changes: Vec<(Member, Desired)>,
    password_confirmed: bool,
) -> Result<GridOutcome, AppError> {
    let (ctx, org) = (ctx.clone(), org.clone());
    let granter = ctx.actor.user_id().ok_or(AppError::Forbidden)?;
    let outcome = db::run(pool, move |c| {
        refusable(c, &ctx, |c| {
            let mut total = 0;
            for (member, desired) in &changes {
                match roles::apply(
                    c,
                    &org,
                    granter,
                    &ctx.actor,
                    member.user_id,
                    Wanted {
                        roles: desired,
                        password_confirmed,
                    },
                    &ctx.meta,
                )? {
                    Ok(n) => total += n,
                    Err((refusal, denied)) => {
                        return Ok(Err(((member.name.clone(), refusal), denied)));
                    }
                }
            }
            Ok(Ok(total))
        })
    })
    .await?;
    Ok(match outcome {
        Ok(n) => GridOutcome::Saved(n),
        Err((name, refusal)) => GridOutcome::Refused { name, refusal },
    })
}
