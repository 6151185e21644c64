//! Reading the audit log out: an export is itself recorded (who took the history, and which).

use serde_json::json;

use super::Ctx;
use crate::audit::{self, Action};
use crate::db::{self, PgPool};
use crate::domain::ids::OrgId;
use crate::error::AppError;

/// Records that `ctx` exported the audit log of an organization with these filters.
pub async fn exported(
    pool: &PgPool,
    ctx: &Ctx,
    org: (OrgId, String),
    filters: String,
) -> Result<(), AppError> {
    let ctx = ctx.clone();
    db::finish(pool, move |c| {
        audit::record(
            c,
            audit::Event {
                organization: Some((org.0, &org.1)),
                actor: &ctx.actor,
                action: Action::AuditExported,
                target: Some("audit log (CSV)".into()),
                details: json!({ "filters": filters }),
                status: audit::Status::Successful,
                meta: &ctx.meta,
            },
        )
    })
    .await
}
