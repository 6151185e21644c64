//! An organization's lifecycle: sandbox until a platform operator marks it live; deleted by an
//! owner while in sandbox, or by an operator at any time. Deleting removes its environments,
//! assets, memberships and invitations in one transaction; its audit events stay.

use crate::audit::Action;
use crate::authz::OrgRole;
use crate::domain::ids::OrgId;
use crate::domain::states::OrgStatus;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamptz};

use super::schema::{memberships, organizations, users};
use crate::audit::{self, Actor, RequestMeta};
use crate::db::orgs::Organization;
use crate::email::messages::{self, QueueError};

#[derive(Debug, PartialEq, Eq)]
pub enum DeleteOutcome {
    Deleted {
        members_told: usize,
    },
    /// Owners cannot delete a live organization.
    Live,
    /// The actor is no longer an owner, judged again under the organization's lock: a request
    /// that passed the check before its sender was removed or demoted does not delete after it.
    NotOwner,
    NotFound,
}

/// Deletes the organization; `owner_rules` refuses a live one (operators pass false).
pub fn delete(
    conn: &mut PgConnection,
    org_id: OrgId,
    owner_rules: bool,
    actor: &Actor,
    meta: &RequestMeta,
) -> Result<DeleteOutcome, QueueError> {
    conn.transaction(|conn| {
        let Some(org) = organizations::table.find(org_id).select(Organization::as_select()).for_update().first(conn).optional()? else {
            return Ok(DeleteOutcome::NotFound);
        };
        // Owners' rules, judged under the lock: still an owner, and the organization still a
        // sandbox. A refusal is audited.
        let refused = if !owner_rules {
            None
        } else if super::members::actor_role(conn, org.id, actor)? != Some(OrgRole::Owner) {
            Some((DeleteOutcome::NotOwner, "only an owner can delete the organization"))
        } else if org.is_live() {
            Some((DeleteOutcome::Live, "live organizations can only be deleted by a platform operator"))
        } else {
            None
        };
        if let Some((outcome, reason)) = refused {
            audit::record(conn, audit::Event {
                organization: Some((org.id, &org.name)),
                actor,
                action: Action::OrganizationDeleted,
                target: Some(org.slug.clone()),
                details: serde_json::json!({ "reason": reason }),
                status: audit::Status::Denied,
                meta,
            })?;
            return Ok(outcome);
        }
        let members: Vec<(String, String)> = memberships::table
            .inner_join(users::table)
            .filter(memberships::organization_id.eq(org.id))
            .select((users::name, users::email))
            .load(conn)?;
        for (name, email) in &members {
            messages::organization_deleted(conn, email, name, &org.name)?;
        }
        audit::record(conn, audit::Event {
            organization: Some((org.id, &org.name)),
            actor,
            action: Action::OrganizationDeleted,
            target: Some(org.slug.clone()),
            details: serde_json::json!({ "before": { "name": org.name, "slug": org.slug, "status": org.status, "members": members.len() } }),
            status: audit::Status::Successful,
            meta,
        })?;
        diesel::delete(organizations::table.find(org.id)).execute(conn)?;
        Ok(DeleteOutcome::Deleted { members_told: members.len() })
    })
}

/// Marks a sandbox organization live; false when it already was.
pub fn mark_live(
    conn: &mut PgConnection,
    org_id: OrgId,
    actor: &Actor,
    meta: &RequestMeta,
) -> QueryResult<bool> {
    conn.transaction(|conn| {
        let updated: Option<Organization> = diesel::update(organizations::table.find(org_id).filter(organizations::status.eq(OrgStatus::Sandbox)))
            .set(organizations::status.eq(OrgStatus::Live))
            .returning(Organization::as_returning())
            .get_result(conn)
            .optional()?;
        let Some(org) = updated else { return Ok(false) };
        audit::record(conn, audit::Event {
            organization: Some((org.id, &org.name)),
            actor,
            action: Action::OrganizationWentLive,
            target: Some(org.slug.clone()),
            details: serde_json::json!({ "before": { "status": "sandbox" }, "after": { "status": "live" } }),
            status: audit::Status::Successful,
            meta,
        })?;
        Ok(true)
    })
}

#[derive(Debug, Clone, QueryableByName)]
pub struct OrgSummary {
    #[diesel(sql_type = BigInt)]
    pub id: OrgId,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Text)]
    pub slug: String,
    #[diesel(sql_type = Text)]
    pub status: OrgStatus,
    #[diesel(sql_type = BigInt)]
    pub members: i64,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = BigInt)]
    pub total: i64,
}

impl OrgSummary {
    pub fn is_live(&self) -> bool {
        self.status == OrgStatus::Live
    }
}

/// Every organization of the platform, by name, optionally searched by name: one statement.
pub fn search(
    conn: &mut PgConnection,
    q: &str,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<OrgSummary>, i64)> {
    let pattern = super::contains_pattern(q);
    let rows: Vec<OrgSummary> = diesel::sql_query(
        "SELECT o.id, o.name, o.slug, o.status, o.created_at,
                (SELECT count(*) FROM memberships m WHERE m.organization_id = o.id) AS members,
                count(*) OVER () AS total
         FROM organizations o
         WHERE fold_case(o.name) LIKE fold_case($1) ESCAPE '\\'
         ORDER BY fold_case(o.name), o.id
         LIMIT $2 OFFSET $3",
    )
    .bind::<Text, _>(pattern)
    .bind::<BigInt, _>(limit)
    .bind::<BigInt, _>(offset)
    .load(conn)?;
    let total = rows.first().map(|r| r.total).unwrap_or(0);
    Ok((rows, total))
}

pub fn find(conn: &mut PgConnection, id: OrgId) -> QueryResult<Option<OrgSummary>> {
    diesel::sql_query(
        "SELECT o.id, o.name, o.slug, o.status, o.created_at,
                (SELECT count(*) FROM memberships m WHERE m.organization_id = o.id) AS members, 1::bigint AS total
         FROM organizations o WHERE o.id = $1",
    )
    .bind::<BigInt, _>(id)
    .get_result(conn)
    .optional()
}
