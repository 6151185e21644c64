//! Use cases: the one way state changes and permission checks happen, for pages, the API and
//! the CLI alike. Each use case takes a [`Ctx`] (who acts, from which request), opens its own
//! transaction, re-reads the actor's role under the row lock, applies the rules of `authz`,
//! appends audit events, queues emails, and wakes the outbox after commit. A refusal rolls the
//! transaction back and is then recorded on its own, so it is kept (DESIGN §9).

pub mod access;
pub mod accounts;
pub mod audit_log;
pub mod invitations;
pub mod members;
pub mod orgs;
pub mod reauth;
pub mod roles;

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
