//! An organization's members: the Active users list, Quick view, removal and leaving, with the
//! last-owner and admin rules enforced under a lock on the organization row.

use crate::audit::Action;
use crate::domain::ids::{OrgId, UserId};
use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel::dsl::{count_star, sql};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz};

use super::schema::{environment_roles, environments, memberships, organizations, users};
use super::types::parse_stored;
use crate::audit::{self, Actor, RequestMeta};
use crate::authz::{self, EnvKind, EnvRole, OrgRole};
use crate::db::orgs::{Access, Organization};
use crate::email::messages::{self, QueueError};

#[derive(Debug, Clone)]
pub struct Member {
    pub user_id: UserId,
    pub name: String,
    pub email: String,
    pub role: OrgRole,
    pub joined_at: DateTime<Utc>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
    /// Whether they have two-factor sign-in on.
    pub two_factor: bool,
    /// Role per environment, in environment order (None: no access).
    pub environments: Vec<(EnvKind, Option<EnvRole>)>,
}

type MemberRow = (
    UserId,
    String,
    String,
    OrgRole,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    bool,
);

#[derive(QueryableByName)]
struct ListedRow {
    #[diesel(sql_type = BigInt)]
    id: UserId,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = Text)]
    role: OrgRole,
    #[diesel(sql_type = Timestamptz)]
    joined_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    last_sign_in_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    two_factor: bool,
    #[diesel(sql_type = BigInt)]
    total: i64,
    /// "staging:viewer,production:support"
    #[diesel(sql_type = Text)]
    env_roles: String,
}

/// One primary-key lookup in users per row of the page (OFFSET 0 keeps the planner from turning
/// it into a hash join over every user).
const USER_COLUMNS: &str =
    "CROSS JOIN LATERAL (SELECT name, email, last_sign_in_at, totp_enabled_at, passkey_count
                                            FROM users WHERE id = p.user_id OFFSET 0) u";

/// Organizations of at least this many members are searched from the trigram indexes when the
/// pattern matches few people (`SEARCH_BY_NAME_MATCHES`); smaller ones member by member.
const SEARCH_BY_NAME_FROM_MEMBERS: i32 = 1000;
/// The most people (platform-wide) a pattern may match for a search to start from them.
const SEARCH_BY_NAME_MATCHES: i64 = 2000;

/// A page of members as the lists show it, with the total (see `list`).
pub type Listed = (Arc<Vec<Member>>, i64);

/// The pages of member lists an instance has read (`db::kept`), under the organization's data
/// version, which the access check reads.
#[derive(Default)]
pub struct ListCache(super::kept::Kept<OrgId, (String, i64, i64), Listed>);

impl ListCache {
    /// A page of the members of the organization `access` is to (`list`): the one kept for the
    /// data version the access check read, or read now and kept. `access` must come from this
    /// request's access check, after its decision.
    pub fn list(
        &self,
        conn: &mut PgConnection,
        access: &Access,
        search: &str,
        offset: i64,
        limit: i64,
    ) -> QueryResult<Listed> {
        let org = &access.org;
        let page = (search.to_string(), offset, limit);
        self.0.get_or_read(org.id, access.data_version, page, || {
            let (members, total) = list(conn, org, search, offset, limit)?;
            Ok((Arc::new(members), total))
        })
    }
}

/// A page of members in name order, optionally searched by name or email, with their
/// environment roles and the total — one statement whatever the organization's size. The page
/// comes from the `(organization_id, sort_name, user_id)` index, from its nearer end (the last
/// page of 10,000 members would otherwise walk 10,000 entries to skip them); the environment
/// roles are read from the membership row, where triggers on `environment_roles` keep them.
/// Without a search the total is the organization's `member_count`, read with the access check.
pub fn list(
    conn: &mut PgConnection,
    org: &Organization,
    search: &str,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<Member>, i64)> {
    let (has_two_factor, user_columns) = (super::users::HAS_TWO_FACTOR_SQL, USER_COLUMNS);
    let rows: Vec<ListedRow> = if search.trim().is_empty() {
        let total = i64::from(org.member_count);
        let (order, limit, offset) = if offset > total / 2 {
            (
                "DESC",
                (total - offset).clamp(0, limit),
                (total - offset - limit).max(0),
            )
        } else {
            ("", limit, offset)
        };
        if limit == 0 {
            return Ok((Vec::new(), total));
        }
        // Prepared: two fixed texts, and their generic plan walks the index whatever the size.
        super::Prepared::new(
            diesel::sql_query(format!(
                "SELECT p.user_id AS id, u.name, u.email, p.role, p.created_at AS joined_at, u.last_sign_in_at,
                        {has_two_factor} AS two_factor, $4 AS total, p.env_roles
                 FROM (SELECT m.user_id, m.role, m.created_at, m.sort_name, m.env_roles
                       FROM memberships m WHERE m.organization_id = $1
                       ORDER BY m.sort_name {order}, m.user_id {order} LIMIT $2 OFFSET $3) p
                 {user_columns}
                 ORDER BY p.sort_name, p.user_id"
            ))
            .bind::<BigInt, _>(org.id)
            .bind::<BigInt, _>(limit)
            .bind::<BigInt, _>(offset)
            .bind::<BigInt, _>(total),
        )
        .load(conn)?
    } else {
        searched(conn, org, search, offset, limit)?
    };
    let total = match rows.first() {
        Some(row) => row.total,
        None if offset == 0 => 0,
        None => return list(conn, org, search, 0, 1).map(|(_, total)| (Vec::new(), total)),
    };
    let members = rows
        .into_iter()
        .map(member_of)
        .collect::<QueryResult<Vec<_>>>()?;
    Ok((members, total))
}

/// The rows of a page of the members matching `search`, with their total (see `list`).
fn searched(
    conn: &mut PgConnection,
    org: &Organization,
    search: &str,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<ListedRow>> {
    let (has_two_factor, user_columns) = (super::users::HAS_TWO_FACTOR_SQL, USER_COLUMNS);
    // With a search the filter needs the users' names and emails. Which end to start from
    // depends on the pattern: a rare one is found fastest in the trigram indexes (ten
    // matches: 0.4 ms), a common one by walking the organization's members. A statement
    // planned for its pattern each time chose well but spent 2 ms planning; a generic plan
    // of a plain join chose the organization's end for every pattern (20 ms for ten
    // matches). So the statement holds both ends and picks one as it runs: the indexes
    // when the organization is large, the pattern has a trigram and it matches few people
    // in all; otherwise the members. The pattern and the choice are read through `(SELECT …$n)`
    // so that no plan is made for their values (one folding a branch away would look cheaper
    // than the generic plan): PostgreSQL then keeps one generic plan. The matches are found
    // once, for the page and the total. Names are matched folded (`fold_case`): the indexes hold
    // the folded name, and the walk reads the membership's copy of it (`sort_name`, kept by
    // triggers), so no name is folded as the members are walked.
    // pg_trgm makes trigrams of runs of letters and digits only: a pattern without such a run of
    // three ("___", "a.b") would read the whole index. Which letters beyond ASCII count depends
    // on the database's locale, so only ASCII runs are counted on.
    let has_trigram = search
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|run| run.len() >= 3);
    let by_name = org.member_count >= SEARCH_BY_NAME_FROM_MEMBERS && has_trigram;
    super::Prepared::new(
        diesel::sql_query(format!(
            "WITH candidates AS MATERIALIZED (
                 SELECT u.id FROM users u
                 WHERE (SELECT $5) AND (fold_case(u.name) LIKE (SELECT fold_case($4)) ESCAPE '\\'
                               OR u.email LIKE (SELECT fold_case($4)) ESCAPE '\\')
                 LIMIT {limit_plus_one}),
             by_name AS (SELECT (SELECT $5) AND (SELECT count(*) FROM candidates) <= {most} AS yes),
             matched AS MATERIALIZED (
                 SELECT m.user_id, m.role, m.created_at, m.sort_name, m.env_roles
                 FROM candidates c
                 CROSS JOIN LATERAL (SELECT * FROM memberships x
                                     WHERE x.organization_id = $1 AND x.user_id = c.id
                                     OFFSET 0) m
                 WHERE (SELECT yes FROM by_name)
                 UNION ALL
                 SELECT m.user_id, m.role, m.created_at, m.sort_name, m.env_roles
                 FROM memberships m JOIN users u ON u.id = m.user_id
                 WHERE NOT (SELECT yes FROM by_name) AND m.organization_id = $1
                   AND (m.sort_name LIKE (SELECT fold_case($4)) ESCAPE '\\'
                        OR u.email LIKE (SELECT fold_case($4)) ESCAPE '\\'))
             SELECT p.user_id AS id, u.name, u.email, p.role, p.created_at AS joined_at, u.last_sign_in_at,
                    {has_two_factor} AS two_factor, (SELECT count(*) FROM matched) AS total, p.env_roles
             FROM (SELECT * FROM matched ORDER BY sort_name, user_id LIMIT $2 OFFSET $3) p
             {user_columns}
             ORDER BY p.sort_name, p.user_id",
            most = SEARCH_BY_NAME_MATCHES,
            limit_plus_one = SEARCH_BY_NAME_MATCHES + 1,
        ))
        .bind::<BigInt, _>(org.id)
        .bind::<BigInt, _>(limit)
        .bind::<BigInt, _>(offset)
        .bind::<Text, _>(super::contains_pattern(search))
        .bind::<diesel::sql_types::Bool, _>(by_name),
    )
    .load(conn)
}

/// A member as a listing statement reads it (environment roles as "kind:role,…").
fn member_of(row: ListedRow) -> QueryResult<Member> {
    let mut roles: HashMap<EnvKind, EnvRole> = HashMap::new();
    for pair in row.env_roles.split(',').filter(|p| !p.is_empty()) {
        let (kind, role) = pair.split_once(':').unwrap_or((pair, ""));
        roles.insert(parse_stored(kind)?, parse_stored(role)?);
    }
    Ok(Member {
        user_id: row.id,
        name: row.name,
        email: row.email,
        role: row.role,
        joined_at: row.joined_at,
        last_sign_in_at: row.last_sign_in_at,
        two_factor: row.two_factor,
        environments: EnvKind::ALL
            .iter()
            .map(|k| (*k, roles.get(k).copied()))
            .collect(),
    })
}

fn with_environment_roles(
    conn: &mut PgConnection,
    org_id: OrgId,
    rows: Vec<MemberRow>,
) -> QueryResult<Vec<Member>> {
    let ids: Vec<UserId> = rows.iter().map(|r| r.0).collect();
    let roles: Vec<(UserId, EnvKind, EnvRole)> = if ids.is_empty() {
        Vec::new()
    } else {
        environment_roles::table
            .inner_join(
                environments::table.on(environments::id.eq(environment_roles::environment_id)),
            )
            .filter(environment_roles::organization_id.eq(org_id))
            .filter(environment_roles::user_id.eq_any(&ids))
            .select((
                environment_roles::user_id,
                environments::kind,
                environment_roles::role,
            ))
            .load(conn)?
    };
    let mut by_user: HashMap<UserId, HashMap<EnvKind, EnvRole>> = HashMap::new();
    for (user, kind, role) in roles {
        by_user.entry(user).or_default().insert(kind, role);
    }
    Ok(rows
        .into_iter()
        .map(
            |(user_id, name, email, role, joined_at, last_sign_in_at, two_factor)| {
                let envs = by_user.get(&user_id);
                Member {
                    user_id,
                    name,
                    email,
                    role,
                    joined_at,
                    last_sign_in_at,
                    two_factor,
                    environments: EnvKind::ALL
                        .iter()
                        .map(|k| (*k, envs.and_then(|e| e.get(k).copied())))
                        .collect(),
                }
            },
        )
        .collect())
}

/// One member, for Quick view and the removal confirmation: one statement.
pub fn find(
    conn: &mut PgConnection,
    org_id: OrgId,
    user_id: UserId,
) -> QueryResult<Option<Member>> {
    let query = format!(
        "SELECT m.user_id AS id, u.name, u.email, m.role, m.created_at AS joined_at, u.last_sign_in_at,
                {} AS two_factor, 1::bigint AS total,
                m.env_roles
         FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.organization_id = $1 AND m.user_id = $2",
        super::users::HAS_TWO_FACTOR_SQL
    );
    let row: Option<ListedRow> = diesel::sql_query(query)
        .bind::<BigInt, _>(org_id)
        .bind::<BigInt, _>(user_id)
        .get_result(conn)
        .optional()?;
    row.map(member_of).transpose()
}

/// Several members at once (the environments grid), in no particular order.
pub fn find_many(
    conn: &mut PgConnection,
    org_id: OrgId,
    user_ids: &[i64],
) -> QueryResult<Vec<Member>> {
    let rows: Vec<MemberRow> = memberships::table
        .inner_join(users::table)
        .filter(memberships::organization_id.eq(org_id))
        .filter(memberships::user_id.eq_any(user_ids))
        .select((
            users::id,
            users::name,
            users::email,
            memberships::role,
            memberships::created_at,
            users::last_sign_in_at,
            super::users::has_two_factor(),
        ))
        .load(conn)?;
    with_environment_roles(conn, org_id, rows)
}

/// Each environment with its number of users, in environment order.
pub fn environment_counts(
    conn: &mut PgConnection,
    org_id: OrgId,
) -> QueryResult<Vec<(EnvKind, i64)>> {
    let mut counts: Vec<(EnvKind, i64)> = environments::table
        .left_join(
            environment_roles::table.on(environment_roles::environment_id.eq(environments::id)),
        )
        .filter(environments::organization_id.eq(org_id))
        .group_by(environments::kind)
        .select((
            environments::kind,
            diesel::dsl::count(environment_roles::user_id.nullable()),
        ))
        .load(conn)?;
    counts.sort_by_key(|(k, _)| *k);
    Ok(counts)
}

#[derive(Debug, Clone)]
pub struct EnvironmentUser {
    pub user_id: UserId,
    pub name: String,
    pub email: String,
    pub role: EnvRole,
}

/// A page of one environment's users in name order, with the total.
pub fn environment_users(
    conn: &mut PgConnection,
    org_id: OrgId,
    kind: EnvKind,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<EnvironmentUser>, i64)> {
    let rows: Vec<(UserId, String, String, EnvRole, i64)> = environment_roles::table
        .inner_join(environments::table.on(environments::id.eq(environment_roles::environment_id)))
        .inner_join(
            memberships::table.on(memberships::organization_id
                .eq(environment_roles::organization_id)
                .and(memberships::user_id.eq(environment_roles::user_id))),
        )
        .inner_join(users::table.on(users::id.eq(environment_roles::user_id)))
        .filter(environments::organization_id.eq(org_id))
        .filter(environments::kind.eq(kind.as_str()))
        .order((memberships::sort_name, users::id))
        .offset(offset)
        .limit(limit)
        .select((
            users::id,
            users::name,
            users::email,
            environment_roles::role,
            sql::<BigInt>("count(*) OVER ()"),
        ))
        .load(conn)?;
    let total = rows.first().map(|r| r.4).unwrap_or(0);
    let users = rows
        .into_iter()
        .map(|(user_id, name, email, role, _)| EnvironmentUser {
            user_id,
            name,
            email,
            role,
        })
        .collect();
    Ok((users, total))
}

#[derive(Debug, PartialEq, Eq)]
pub enum RemoveOutcome {
    Removed,
    NotMember,
    /// An admin tried to remove an owner or admin.
    NotAllowed,
    LastOwner,
    /// Removing yourself is leaving.
    Yourself,
}

fn owners(conn: &mut PgConnection, org_id: OrgId) -> QueryResult<i64> {
    memberships::table
        .filter(memberships::organization_id.eq(org_id))
        .filter(memberships::role.eq(OrgRole::Owner.as_str()))
        .select(count_star())
        .first(conn)
}

fn lock_org(conn: &mut PgConnection, org_id: OrgId) -> QueryResult<Organization> {
    organizations::table
        .find(org_id)
        .select(Organization::as_select())
        .for_update()
        .first(conn)
}

/// A person's role in the organization (None: not a member), read in the caller's
/// transaction: under the organization's lock, the role every change is judged against.
pub fn role(
    conn: &mut PgConnection,
    org_id: OrgId,
    user_id: UserId,
) -> QueryResult<Option<OrgRole>> {
    memberships::table
        .find((org_id, user_id))
        .select(memberships::role)
        .first(conn)
        .optional()
}

/// [`role`] of the acting person (None for an actor that is no user).
pub fn actor_role(
    conn: &mut PgConnection,
    org_id: OrgId,
    actor: &Actor,
) -> QueryResult<Option<OrgRole>> {
    match actor.user_id() {
        Some(user_id) => role(conn, org_id, user_id),
        None => Ok(None),
    }
}

/// Removes a member: their environment roles go with the membership, open invitations to their
/// address are revoked, and they are told by email. Refusals are audited as denied.
pub fn remove(
    conn: &mut PgConnection,
    org_id: OrgId,
    remover: &Actor,
    target_id: UserId,
    meta: &RequestMeta,
) -> Result<RemoveOutcome, QueueError> {
    conn.transaction(|conn| {
        let org = lock_org(conn, org_id)?;
        // The remover's role is read again under the lock: a demotion that committed a moment
        // ago counts.
        let Some(remover_role) = actor_role(conn, org_id, remover)? else { return Ok(RemoveOutcome::NotAllowed) };
        let Some(target) = find(conn, org_id, target_id)? else { return Ok(RemoveOutcome::NotMember) };
        let outcome = if remover.user_id() == Some(target_id) {
            RemoveOutcome::Yourself
        } else if !authz::may_remove(remover_role, target.role) {
            RemoveOutcome::NotAllowed
        } else if authz::takes_last_owner(target.role, None, owners(conn, org_id)?) {
            RemoveOutcome::LastOwner
        } else {
            RemoveOutcome::Removed
        };
        let before = serde_json::json!({
            "role": target.role.as_str(),
            "environment_roles": target.environments.iter().filter_map(|(k, r)| Some((k.as_str(), r.as_ref()?.as_str()))).collect::<HashMap<_, _>>(),
        });
        if outcome != RemoveOutcome::Removed {
            audit::record(conn, audit::Event {
                organization: Some((org.id, &org.name)),
                actor: remover,
                action: Action::MemberRemoved,
                target: Some(target.email.clone()),
                details: serde_json::json!({ "reason": format!("{outcome:?}"), "before": before }),
                status: audit::Status::Denied,
                meta,
            })?;
            return Ok(outcome);
        }
        diesel::delete(memberships::table.find((org_id, target_id))).execute(conn)?;
        let revoked = super::invitations::revoke_for_email(conn, org_id, &target.email)?;
        super::invitations::revoke_sent_by(conn, (org.id, &org.name), target_id, "sender removed", meta)?;
        messages::member_removed(conn, &target.email, &target.name, &org.name)?;
        audit::record(conn, audit::Event {
            organization: Some((org.id, &org.name)),
            actor: remover,
            action: Action::MemberRemoved,
            target: Some(target.email.clone()),
            details: serde_json::json!({ "before": before, "invitations_revoked": revoked }),
            status: audit::Status::Successful,
            meta,
        })?;
        Ok(RemoveOutcome::Removed)
    })
}

#[derive(Debug, PartialEq, Eq)]
pub enum LeaveOutcome {
    Left,
    LastOwner,
    NotMember,
}

/// Leaves an organization; the last owner cannot.
pub fn leave(
    conn: &mut PgConnection,
    org_id: OrgId,
    actor: &Actor,
    user_id: UserId,
    meta: &RequestMeta,
) -> QueryResult<LeaveOutcome> {
    conn.transaction(|conn| {
        let org = lock_org(conn, org_id)?;
        let Some(me) = find(conn, org_id, user_id)? else {
            return Ok(LeaveOutcome::NotMember);
        };
        if authz::takes_last_owner(me.role, None, owners(conn, org_id)?) {
            audit::record(
                conn,
                audit::Event {
                    organization: Some((org.id, &org.name)),
                    actor,
                    action: Action::MemberLeft,
                    target: Some(me.email.clone()),
                    details: serde_json::json!({ "reason": "last owner" }),
                    status: audit::Status::Denied,
                    meta,
                },
            )?;
            return Ok(LeaveOutcome::LastOwner);
        }
        diesel::delete(memberships::table.find((org_id, user_id))).execute(conn)?;
        super::invitations::revoke_sent_by(
            conn,
            (org.id, &org.name),
            user_id,
            "sender left",
            meta,
        )?;
        audit::record(
            conn,
            audit::Event {
                organization: Some((org.id, &org.name)),
                actor,
                action: Action::MemberLeft,
                target: Some(me.email.clone()),
                details: serde_json::json!({ "before": { "role": me.role.as_str() } }),
                status: audit::Status::Successful,
                meta,
            },
        )?;
        Ok(LeaveOutcome::Left)
    })
}
