//! Changing a member's organization role and environment roles, with the invariants of DESIGN
//! §2 checked inside the transaction that makes the change, under a lock on the organization
//! row (so concurrent changes see each other): at least one owner; only owners grant or revoke
//! owner and admin; admins cannot touch owners or admins; nobody is raised above the granter.

use crate::audit::Action;
use crate::domain::ids::UserId;
use diesel::dsl::count_star;
use diesel::prelude::*;

use super::members::{self, Member};
use super::schema::{environment_roles, environments, memberships, organizations};
use crate::audit::{self, Actor, Denied, RequestMeta};
use crate::authz::{self, EnvKind, EnvRole, OrgRole};
use crate::db::orgs::Organization;

/// The roles a member should have after the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    pub org_role: OrgRole,
    pub envs: Vec<(EnvKind, Option<EnvRole>)>,
}

impl Desired {
    pub fn of(member: &Member) -> Desired {
        Desired {
            org_role: member.role,
            envs: member.environments.clone(),
        }
    }

    pub fn env(&self, kind: EnvKind) -> Option<EnvRole> {
        self.envs
            .iter()
            .find(|(k, _)| *k == kind)
            .and_then(|(_, r)| *r)
    }
}

/// True when going from `before` to `after` grants or raises a production role, which needs a
/// freshly re-entered password.
pub fn raises_production(before: &Desired, after: &Desired) -> bool {
    EnvKind::ALL
        .into_iter()
        .any(|kind| authz::needs_fresh_password(kind, before.env(kind), after.env(kind)))
}

pub use crate::authz::RoleRefusal as Refusal;

/// Checks a change against the rules, given the granter's and the target's current roles.
pub fn check(
    granter: OrgRole,
    target: &Member,
    desired: &Desired,
    owners: i64,
) -> Result<(), Refusal> {
    authz::check_role_change(granter, target.role, desired.org_role, owners)
}

/// The roles wanted for a member, and whether the granter re-entered the password for this
/// change (needed when, under the lock, it grants or raises a production role).
#[derive(Debug, Clone, Copy)]
pub struct Wanted<'a> {
    pub roles: &'a Desired,
    pub password_confirmed: bool,
}

/// Applies the change inside the caller's transaction, with the organization row locked and the
/// granter's role re-read under that lock; returns how many roles changed, or the refusal, which
/// the caller records after rolling back (`ops::Denied`).
pub fn apply(
    conn: &mut PgConnection,
    org: &Organization,
    granter_id: UserId,
    actor: &Actor,
    target_id: UserId,
    wanted: Wanted<'_>,
    meta: &RequestMeta,
) -> QueryResult<Result<usize, (Refusal, Denied)>> {
    let desired = wanted.roles;
    organizations::table
        .find(org.id)
        .select(organizations::id)
        .for_update()
        .first::<i64>(conn)?;
    let granter = members::role(conn, org.id, granter_id)?;
    let denied = |target: Option<&Member>, reason: Refusal| Denied {
        organization: Some((org.id, org.name.clone())),
        action: Action::MemberRoleChanged,
        target: target.map(|t| t.email.clone()),
        details: serde_json::json!({ "reason": format!("{reason:?}"), "before": target.map(|t| roles_json(&Desired::of(t))), "after": roles_json(desired) }),
    };
    let Some(granter) = granter else {
        return Ok(Err((Refusal::NotMember, denied(None, Refusal::NotMember))));
    };
    let Some(target) = members::find(conn, org.id, target_id)? else {
        return Ok(Err((Refusal::NotMember, denied(None, Refusal::NotMember))));
    };
    let owners: i64 = memberships::table
        .filter(memberships::organization_id.eq(org.id))
        .filter(memberships::role.eq(OrgRole::Owner))
        .select(count_star())
        .first(conn)?;
    if let Err(refusal) = check(granter, &target, desired, owners) {
        return Ok(Err((refusal, denied(Some(&target), refusal))));
    }
    // Judged against the roles read under the lock: a change read before a concurrent revoke
    // cannot re-grant production without the password.
    if !wanted.password_confirmed && raises_production(&Desired::of(&target), desired) {
        let refusal = Refusal::FreshPasswordNeeded;
        return Ok(Err((refusal, denied(Some(&target), refusal))));
    }
    let by = By { org, actor, meta };
    let mut changes = set_org_role(conn, &by, &target, desired.org_role)?;
    changes += set_env_roles(conn, &by, &target, desired)?;
    Ok(Ok(changes))
}

/// Who changes roles in which organization, for the audit events.
struct By<'a> {
    org: &'a Organization,
    actor: &'a Actor,
    meta: &'a RequestMeta,
}

impl By<'_> {
    fn record(
        &self,
        conn: &mut PgConnection,
        action: Action,
        target: String,
        details: serde_json::Value,
    ) -> QueryResult<()> {
        let event = audit::Event::successful(self.actor, self.meta, action, target, details);
        audit::record(conn, event.in_org(self.org.id, &self.org.name))
    }
}

/// Changes the organization role when it differs; returns 1 when it changed.
fn set_org_role(
    conn: &mut PgConnection,
    by: &By<'_>,
    target: &Member,
    wanted: OrgRole,
) -> QueryResult<usize> {
    if wanted == target.role {
        return Ok(0);
    }
    diesel::update(memberships::table.find((by.org.id, target.user_id)))
        .set(memberships::role.eq(wanted))
        .execute(conn)?;
    // Below admin, nobody may invite: what they sent and is still open is revoked.
    let invites = |role| authz::org_can(role, authz::OrgPermission::ManageInvitations);
    if !invites(wanted) && invites(target.role) {
        let org = (by.org.id, by.org.name.as_str());
        super::invitations::revoke_sent_by(conn, org, target.user_id, "sender demoted", by.meta)?;
    }
    let details =
        serde_json::json!({ "before": { "role": target.role }, "after": { "role": wanted } });
    by.record(
        conn,
        Action::MemberRoleChanged,
        target.email.clone(),
        details,
    )?;
    Ok(1)
}

/// Grants, changes and revokes environment roles to match `desired`; returns how many changed.
fn set_env_roles(
    conn: &mut PgConnection,
    by: &By<'_>,
    target: &Member,
    desired: &Desired,
) -> QueryResult<usize> {
    let (org_id, target_id) = (by.org.id, target.user_id);
    let env_ids: Vec<(i64, EnvKind)> = environments::table
        .filter(environments::organization_id.eq(org_id))
        .select((environments::id, environments::kind))
        .load(conn)?;
    let mut changes = 0;
    for (env_id, kind) in env_ids {
        let before = Desired::of(target).env(kind);
        let after = desired.env(kind);
        let action = match (before, after) {
            (None, None) => continue,
            (Some(b), Some(a)) if a == b => continue,
            (None, Some(role)) => {
                diesel::insert_into(environment_roles::table)
                    .values((
                        environment_roles::environment_id.eq(env_id),
                        environment_roles::organization_id.eq(org_id),
                        environment_roles::user_id.eq(target_id),
                        environment_roles::role.eq(role),
                    ))
                    .execute(conn)?;
                Action::EnvironmentRoleGranted
            }
            (Some(_), Some(role)) => {
                diesel::update(environment_roles::table.find((env_id, target_id)))
                    .set(environment_roles::role.eq(role))
                    .execute(conn)?;
                Action::EnvironmentRoleChanged
            }
            (Some(_), None) => {
                diesel::delete(environment_roles::table.find((env_id, target_id))).execute(conn)?;
                Action::EnvironmentRoleRevoked
            }
        };
        let details = serde_json::json!({ "environment": kind, "before": before, "after": after });
        by.record(conn, action, format!("{} in {kind}", target.email), details)?;
        changes += 1;
    }
    Ok(changes)
}

fn roles_json(d: &Desired) -> serde_json::Value {
    serde_json::json!({
        "role": d.org_role.as_str(),
        "environments": d.envs.iter().map(|(k, r)| (k.as_str().to_string(), serde_json::json!(r.map(EnvRole::as_str)))).collect::<serde_json::Map<_, _>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired(role: OrgRole) -> Desired {
        Desired {
            org_role: role,
            envs: EnvKind::ALL.iter().map(|k| (*k, None)).collect(),
        }
    }

    #[test]
    fn production_grants_and_raises_need_a_fresh_password() {
        let mut before = desired(OrgRole::Member);
        let mut after = before.clone();
        assert!(!raises_production(&before, &after));
        after.envs[2].1 = Some(EnvRole::Viewer);
        assert!(raises_production(&before, &after));
        before.envs[2].1 = Some(EnvRole::Support);
        assert!(
            !raises_production(&before, &after),
            "lowering needs nothing"
        );
        after.envs[2].1 = Some(EnvRole::Engineer);
        assert!(raises_production(&before, &after));
    }
}
