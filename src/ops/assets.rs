//! Configuration values and environment API keys. Each change runs in one transaction that
//! first re-reads the actor's role in the environment under a lock on its row: a role taken away
//! a moment after the page was checked cannot still change anything. Such a late refusal is a
//! 403, recorded as `permission.denied` like any other.

use diesel::prelude::*;
use serde_json::json;

use super::{Ctx, refusable};
use crate::authz::{EnvPermission, EnvRole, env_can};
use crate::db::assets::{self, Scope};
use crate::db::orgs::{Access, EnvironmentAccess};
use crate::db::schema::environment_roles;
use crate::db::{self, PgPool};
use crate::domain::ids::UserId;
use crate::error::AppError;

/// Where a change happens and who makes it, as checked by `ops::access::require_env`.
#[derive(Clone)]
pub struct EnvTarget {
    pub access: Access,
    pub env: EnvironmentAccess,
    pub user_id: UserId,
}

/// Runs `apply` when the actor's role in the environment, read under its row lock, still has
/// `permission`; otherwise records the refusal and answers 403.
async fn change<T: Send + 'static>(
    pool: &PgPool,
    ctx: &Ctx,
    target: EnvTarget,
    permission: EnvPermission,
    apply: impl FnOnce(&mut PgConnection, &Scope<'_>) -> QueryResult<T> + Send + 'static,
) -> Result<T, AppError> {
    let ctx = ctx.clone();
    let outcome = db::run(pool, move |c| {
        refusable(c, &ctx, |c| {
            let role: Option<EnvRole> = environment_roles::table
                .find((target.env.id, target.user_id))
                .select(environment_roles::role)
                .for_share()
                .first(c)
                .optional()?;
            if !env_can(role, permission) {
                let details = json!({
                    "permission": format!("{permission:?}"),
                    "environment": target.env.kind,
                });
                let denied = super::role_changed(&ctx, &target.access.org, details);
                return Ok(Err(((), denied)));
            }
            let scope = Scope {
                org: &target.access.org,
                env_id: target.env.id,
                kind: target.env.kind,
                actor: &ctx.actor,
                actor_id: target.user_id,
                meta: &ctx.meta,
            };
            apply(c, &scope).map(Ok)
        })
    })
    .await?;
    outcome.map_err(|()| AppError::Forbidden)
}

/// Adds a value; false when the key exists already in the environment.
#[tracing::instrument(skip(pool, ctx, target, value), fields(env_id = %target.env.id))]
pub async fn create_config(
    pool: &PgPool,
    ctx: &Ctx,
    target: EnvTarget,
    key: String,
    value: String,
    secret: bool,
) -> Result<bool, AppError> {
    change(pool, ctx, target, EnvPermission::EditConfig, move |c, s| {
        assets::create_config(c, s, &key, &value, secret)
    })
    .await
}

/// Changes a value; its key, or None when there is no such value in the environment.
#[tracing::instrument(skip(pool, ctx, target, value), fields(env_id = %target.env.id))]
pub async fn update_config(
    pool: &PgPool,
    ctx: &Ctx,
    target: EnvTarget,
    id: i64,
    value: String,
    secret: bool,
) -> Result<Option<String>, AppError> {
    change(pool, ctx, target, EnvPermission::EditConfig, move |c, s| {
        assets::update_config(c, s, id, &value, secret)
    })
    .await
}

/// Deletes a value; its key, or None when there is no such value in the environment.
#[tracing::instrument(skip(pool, ctx, target), fields(env_id = %target.env.id))]
pub async fn delete_config(
    pool: &PgPool,
    ctx: &Ctx,
    target: EnvTarget,
    id: i64,
) -> Result<Option<String>, AppError> {
    change(pool, ctx, target, EnvPermission::EditConfig, move |c, s| {
        assets::delete_config(c, s, id)
    })
    .await
}

/// Shows a secret value (audited); None when there is no such value.
#[tracing::instrument(skip(pool, ctx, target), fields(env_id = %target.env.id))]
pub async fn reveal_config(
    pool: &PgPool,
    ctx: &Ctx,
    target: EnvTarget,
    id: i64,
) -> Result<Option<(i64, String)>, AppError> {
    change(
        pool,
        ctx,
        target,
        EnvPermission::RevealSecrets,
        move |c, s| assets::reveal_config(c, s, id),
    )
    .await
}

/// Creates an environment API key and returns it in clear, the only time it is shown.
#[tracing::instrument(skip(pool, ctx, target, name), fields(env_id = %target.env.id))]
pub async fn create_key(
    pool: &PgPool,
    ctx: &Ctx,
    target: EnvTarget,
    name: String,
) -> Result<String, AppError> {
    change(
        pool,
        ctx,
        target,
        EnvPermission::ManageApiKeys,
        move |c, s| assets::create_key(c, s, &name),
    )
    .await
}

/// Revokes an environment API key; its name, or None when it was revoked already.
#[tracing::instrument(skip(pool, ctx, target), fields(env_id = %target.env.id))]
pub async fn revoke_key(
    pool: &PgPool,
    ctx: &Ctx,
    target: EnvTarget,
    id: i64,
) -> Result<Option<String>, AppError> {
    change(
        pool,
        ctx,
        target,
        EnvPermission::ManageApiKeys,
        move |c, s| assets::revoke_key(c, s, id),
    )
    .await
}
