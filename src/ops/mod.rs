//! Use cases: the one way state changes and permission checks happen, for pages, the API and
//! the CLI alike. Each use case takes a [`Ctx`] (who acts, from which request), opens its own
//! transaction, re-reads the actor's role under the row lock, applies the rules of `authz`,
//! appends audit events, queues emails, and wakes the outbox after commit. A refusal rolls the
//! transaction back and is then recorded on its own, so it is kept (DESIGN §9).

pub mod access;
pub mod accounts;
pub mod assets;
pub mod audit_log;
pub mod invitations;
pub mod members;
pub mod orgs;
pub mod passkeys;
pub mod reauth;
pub mod roles;
pub mod two_factor;

use diesel::Connection;
use diesel::PgConnection;
use diesel::result::Error as DbError;

use crate::audit::{self, Actor, Denied, RequestMeta};

/// Who acts, and the request they act from.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub actor: Actor,
    pub meta: RequestMeta,
    /// The path asked for, named as the target of `permission.denied` events.
    pub path: String,
}

/// The outcome of a transaction that may be refused.
enum Step<R> {
    Db(DbError),
    Refused(R, Denied),
}

impl<R> From<DbError> for Step<R> {
    fn from(e: DbError) -> Self {
        Step::Db(e)
    }
}

/// Runs `f` in one transaction. When `f` refuses, everything it did is rolled back and the
/// refusal is recorded afterwards, on its own, as a `denied` audit event.
pub fn refusable<T, R>(
    conn: &mut PgConnection,
    ctx: &Ctx,
    f: impl FnOnce(&mut PgConnection) -> Result<Result<T, (R, Denied)>, DbError>,
) -> Result<Result<T, R>, DbError> {
    let outcome = conn.transaction(|c| match f(c)? {
        Ok(value) => Ok(value),
        Err((reason, denied)) => Err(Step::Refused(reason, denied)),
    });
    match outcome {
        Ok(value) => Ok(Ok(value)),
        Err(Step::Refused(reason, denied)) => {
            audit::record_denied(conn, &ctx.actor, &ctx.meta, &denied)?;
            Ok(Err(reason))
        }
        Err(Step::Db(e)) => Err(e),
    }
}

/// The refusal recorded when a role read again under the lock no longer allows a change the
/// earlier check allowed.
fn role_changed(
    ctx: &Ctx,
    org: &crate::db::orgs::Organization,
    mut details: serde_json::Value,
) -> Denied {
    details["reason"] = "the role changed before the change was made".into();
    Denied {
        organization: Some((org.id, org.name.clone())),
        action: crate::audit::Action::PermissionDenied,
        target: Some(ctx.path.clone()),
        details,
    }
}

/// Runs `apply` in one transaction after locking the organization's row and reading the actor's
/// role there again: when that role no longer has `permission` (it changed since the page or
/// API call was checked), nothing happens, the refusal is recorded as `permission.denied`, and
/// the answer is 403. The one place organization-level changes re-read the role.
pub async fn with_org_permission<T: Send + 'static>(
    pool: &crate::db::PgPool,
    ctx: &Ctx,
    org: &crate::db::orgs::Organization,
    permission: crate::authz::OrgPermission,
    apply: impl FnOnce(&mut PgConnection) -> diesel::QueryResult<T> + Send + 'static,
) -> Result<T, crate::error::AppError> {
    use crate::db::schema::{memberships, organizations};
    use diesel::prelude::*;
    let (ctx, org) = (ctx.clone(), org.clone());
    let outcome = crate::db::run(pool, move |c| {
        refusable(c, &ctx, |c| {
            organizations::table
                .find(org.id)
                .select(organizations::id)
                .for_update()
                .first::<crate::domain::ids::OrgId>(c)?;
            let role: Option<crate::authz::OrgRole> = match ctx.actor.user_id() {
                Some(user_id) => memberships::table
                    .find((org.id, user_id))
                    .select(memberships::role)
                    .first(c)
                    .optional()?,
                None => None,
            };
            if !role.is_some_and(|role| crate::authz::org_can(role, permission)) {
                let details = serde_json::json!({ "permission": format!("{permission:?}") });
                return Ok(Err(((), role_changed(&ctx, &org, details))));
            }
            apply(c).map(Ok)
        })
    })
    .await?;
    outcome.map_err(|()| crate::error::AppError::Forbidden)
}
