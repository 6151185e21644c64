//! Organizations, their memberships and environments, and the invariants that guard them (the
//! per-user organization limit), each inside one transaction with a row lock.

use crate::audit::Action;
use crate::domain::ids::{EnvId, OrgId, UserId};
use chrono::{DateTime, Utc};
use diesel::dsl::count_star;
use diesel::prelude::*;
use std::sync::Arc;

use super::schema::{environment_roles, environments, memberships, organizations, users};
use crate::audit::{self, Actor, RequestMeta};
use crate::authz::{EnvKind, EnvRole, OrgRole};
use crate::domain::OrgName;
use crate::domain::states::OrgStatus;

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = organizations)]
pub struct Organization {
    pub id: OrgId,
    pub name: String,
    pub slug: String,
    pub status: OrgStatus,
    pub created_at: DateTime<Utc>,
    /// The sign-in policy: members must have two-factor sign-in (DESIGN §14).
    pub require_two_factor: bool,
    /// Kept by triggers on `memberships`, in the transaction that changes them.
    pub member_count: i32,
}

impl Organization {
    /// Live organizations can be deleted only by platform operators.
    pub fn is_live(&self) -> bool {
        self.status == OrgStatus::Live
    }
}

/// One organization as its member sees it: the organization, their role, and their role in each
/// environment (in the fixed order development, staging, production).
#[derive(Debug, Clone)]
pub struct Access {
    /// Whose access this is.
    pub user_id: UserId,
    pub org: Organization,
    pub role: OrgRole,
    pub environments: Vec<EnvironmentAccess>,
    /// Whether the member has two-factor sign-in on.
    pub two_factor: bool,
    /// The organization's data version (`org_data_versions`), moved by triggers in the
    /// transaction of every change a member list shows: the key under which an instance keeps
    /// the lists it has read (`db::members::ListCache`).
    pub data_version: i64,
}

impl Access {
    /// Whether this is `user_id`'s access to the organization `org` names.
    pub fn is_for(&self, user_id: UserId, org: &OrgRef) -> bool {
        self.user_id == user_id
            && match org {
                OrgRef::Slug(slug) => self.org.slug == *slug,
                OrgRef::Id(id) => self.org.id == *id,
                OrgRef::Environment(env) => self.environments.iter().any(|e| e.id == *env),
            }
    }

    /// The organization requires two-factor sign-in and this member has not set it up.
    pub fn lacks_two_factor(&self) -> bool {
        self.org.require_two_factor && !self.two_factor
    }
}

#[derive(Debug, Clone)]
pub struct EnvironmentAccess {
    pub id: EnvId,
    pub kind: EnvKind,
    pub role: Option<EnvRole>,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("organization limit reached")]
    LimitReached,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// Creates an organization with its three environments; the creator becomes owner and engineer
/// in development and staging. The creator's user row is locked while their memberships are
/// counted, so concurrent creations cannot pass the limit.
pub fn create(
    conn: &mut PgConnection,
    actor: &Actor,
    user_id: UserId,
    name: &OrgName,
    max_orgs: i64,
    meta: &RequestMeta,
) -> Result<Organization, CreateError> {
    // The refusal is committed too (its audit event), so the transaction's own result carries
    // the outcome.
    conn.transaction(|conn| -> QueryResult<Result<Organization, CreateError>> {
        users::table.find(user_id).select(users::id).for_update().first::<i64>(conn)?;
        let count: i64 = memberships::table
            .filter(memberships::user_id.eq(user_id))
            .select(count_star())
            .first(conn)?;
        if count >= max_orgs {
            audit::record(conn, audit::Event {
                organization: None,
                actor,
                action: Action::OrganizationCreated,
                target: Some(name.as_str().to_string()),
                details: serde_json::json!({ "reason": "organization limit reached", "limit": max_orgs }),
                status: audit::Status::Denied,
                meta,
            })?;
            return Ok(Err(CreateError::LimitReached));
        }
        let org = insert_with_unique_slug(conn, name)?;
        let env_ids: Vec<(i64, String)> = diesel::insert_into(environments::table)
            .values(
                EnvKind::ALL
                    .iter()
                    .map(|k| (environments::organization_id.eq(org.id), environments::kind.eq(k.as_str())))
                    .collect::<Vec<_>>(),
            )
            .returning((environments::id, environments::kind))
            .get_results(conn)?;
        diesel::insert_into(memberships::table)
            .values((
                memberships::organization_id.eq(org.id),
                memberships::user_id.eq(user_id),
                memberships::role.eq(OrgRole::Owner.as_str()),
            ))
            .execute(conn)?;
        let creator_roles: Vec<_> = env_ids
            .iter()
            .filter(|(_, kind)| kind != EnvKind::Production.as_str())
            .map(|(id, _)| {
                (
                    environment_roles::environment_id.eq(*id),
                    environment_roles::organization_id.eq(org.id),
                    environment_roles::user_id.eq(user_id),
                    environment_roles::role.eq(EnvRole::Engineer.as_str()),
                )
            })
            .collect();
        diesel::insert_into(environment_roles::table).values(creator_roles).execute(conn)?;
        audit::record(conn, audit::Event {
            organization: Some((org.id, &org.name)),
            actor,
            action: Action::OrganizationCreated,
            target: Some(org.slug.clone()),
            details: serde_json::json!({ "after": { "name": org.name, "slug": org.slug } }),
            status: audit::Status::Successful,
            meta,
        })?;
        Ok(Ok(org))
    })?
}

fn insert_with_unique_slug(conn: &mut PgConnection, name: &OrgName) -> QueryResult<Organization> {
    let base = name.slug();
    for attempt in 1.. {
        let slug = if attempt == 1 {
            base.clone()
        } else {
            format!("{base}-{attempt}")
        };
        let inserted = diesel::insert_into(organizations::table)
            .values((
                organizations::name.eq(name.as_str()),
                organizations::slug.eq(&slug),
            ))
            .on_conflict(organizations::slug)
            .do_nothing()
            .returning(Organization::as_returning())
            .get_result(conn)
            .optional()?;
        if let Some(org) = inserted {
            return Ok(org);
        }
        if attempt > 20 {
            // Very crowded base name: jump to a random suffix instead of counting on.
            let slug = format!(
                "{base}-{}",
                crate::db::tokens::new_token()[..8]
                    .to_lowercase()
                    .replace(['-', '_'], "x")
            );
            return diesel::insert_into(organizations::table)
                .values((
                    organizations::name.eq(name.as_str()),
                    organizations::slug.eq(&slug),
                ))
                .returning(Organization::as_returning())
                .get_result(conn);
        }
    }
    unreachable!("the loop above returns")
}

/// How a request names an organization: pages by slug, the API by id or by one of its
/// environments' ids.
#[derive(Debug, Clone)]
pub enum OrgRef {
    Slug(String),
    Id(OrgId),
    Environment(EnvId),
}

/// The access check reads two records, in one statement, each `NULL` when there is none:
///
/// - the organization's own (`org_record_sql`): its row and its data version
///   (`org_data_versions`), read on every request that names the organization;
/// - the member's (`member_record_sql`): their role, whether they have two-factor on, and the
///   organization's environments with their role in each (an array of records).
///
/// Every change to what the member's record holds (a membership added, removed or changed in
/// role, an environment role, a member's two-factor) moves the organization's data version in
/// its own transaction (migrations `2026-12-02-000002_org_data_version` and
/// `2026-12-03-000001_access_version`), and environments never change. So an instance keeps
/// the member records it has read under the version (`KeptAccess`), and a request that reads
/// the organization's record with the session or the key uses the member's record kept at the
/// version it read: what the database holds at that moment, whichever instance made a change.
///
/// `org_record_sql!()` ends with `WHERE `: the caller names the organization (`o`) after it and
/// closes the parenthesis. The records' fields are positional: `OrgRecord` and `MemberRecord`
/// read them in this order (a test checks each).
macro_rules! org_record_sql {
    () => {
        "(SELECT ROW(o.id, o.name, o.slug, o.status, o.created_at, o.require_two_factor,
                     o.member_count, coalesce(v.version, 0))
          FROM organizations o LEFT JOIN org_data_versions v ON v.organization_id = o.id
          WHERE "
    };
}
pub(crate) use org_record_sql;

/// The member's record (see `org_record_sql`) of the user `$user` (an SQL expression) in the
/// organization `o`.
macro_rules! member_record_sql {
    ($user:literal) => {
        concat!(
            "(SELECT ROW(m.role, ",
            $crate::db::users::has_two_factor_sql!(),
            ", ARRAY(SELECT ROW(e.id, e.kind, er.role)
                     FROM environments e
                     LEFT JOIN environment_roles er
                            ON er.environment_id = e.id AND er.user_id = m.user_id
                     WHERE e.organization_id = m.organization_id))
              FROM memberships m JOIN users u ON u.id = m.user_id
              WHERE m.organization_id = o.id AND m.user_id = ",
            $user,
            ")"
        )
    };
}

/// The SQL type of the organization's record (`org_record_sql`).
pub type OrgRecordSql = diesel::sql_types::Nullable<
    diesel::pg::sql_types::Record<(
        diesel::sql_types::BigInt,
        diesel::sql_types::Text,
        diesel::sql_types::Text,
        diesel::sql_types::Text,
        diesel::sql_types::Timestamptz,
        diesel::sql_types::Bool,
        diesel::sql_types::Integer,
        diesel::sql_types::BigInt,
    )>,
>;

/// The organization's record as read (see `OrgRecordSql`).
pub type OrgRecord = (
    OrgId,
    String,
    String,
    OrgStatus,
    DateTime<Utc>,
    bool,
    i32,
    i64,
);

/// The SQL type of the member's record (`member_record_sql`).
type MemberRecordSql = diesel::sql_types::Nullable<
    diesel::pg::sql_types::Record<(
        diesel::sql_types::Text,
        diesel::sql_types::Bool,
        diesel::sql_types::Array<
            diesel::pg::sql_types::Record<(
                diesel::sql_types::BigInt,
                diesel::sql_types::Text,
                diesel::sql_types::Nullable<diesel::sql_types::Text>,
            )>,
        >,
    )>,
>;

/// The member's record as read (see `MemberRecordSql`).
type MemberRecord = (OrgRole, bool, Vec<(EnvId, EnvKind, Option<EnvRole>)>);

/// What a member's record says: the part of their access kept under the organization's data
/// version.
#[derive(Debug)]
struct Member {
    role: OrgRole,
    two_factor: bool,
    environments: Vec<EnvironmentAccess>,
}

impl Member {
    fn from_record((role, two_factor, environments): MemberRecord) -> Member {
        let mut environments: Vec<EnvironmentAccess> = environments
            .into_iter()
            .map(|(id, kind, role)| EnvironmentAccess { id, kind, role })
            .collect();
        environments.sort_by_key(|e| e.kind);
        Member {
            role,
            two_factor,
            environments,
        }
    }
}

/// An organization and its data version.
type Versioned = (Organization, i64);

/// The organization and its data version a record describes.
fn organization_of(record: OrgRecord) -> Versioned {
    let (id, name, slug, status, created_at, require_two_factor, member_count, version) = record;
    let org = Organization {
        id,
        name,
        slug,
        status,
        created_at,
        require_two_factor,
        member_count,
    };
    (org, version)
}

impl Access {
    fn of(user_id: UserId, (org, data_version): Versioned, member: &Member) -> Access {
        Access {
            user_id,
            org,
            role: member.role,
            environments: member.environments.clone(),
            two_factor: member.two_factor,
            data_version,
        }
    }
}

#[derive(QueryableByName)]
struct AccessRow {
    #[diesel(sql_type = OrgRecordSql)]
    org: Option<OrgRecord>,
    #[diesel(sql_type = MemberRecordSql)]
    member: Option<MemberRecord>,
}

/// The access check on its own (both records, see `org_record_sql`), once per way of naming
/// the organization.
macro_rules! access_sql {
    ($org:literal) => {
        concat!(
            "SELECT ",
            org_record_sql!(),
            $org,
            ") AS org, (SELECT ",
            member_record_sql!("$1"),
            " FROM organizations o WHERE ",
            $org,
            ") AS member"
        )
    };
}

/// Both records of the access check (see `org_record_sql`), read in one statement.
fn read_access(
    conn: &mut PgConnection,
    user_id: UserId,
    org: &OrgRef,
) -> QueryResult<(Option<Versioned>, Option<Member>)> {
    use diesel::sql_types::{BigInt, Text};
    let row: AccessRow = match org {
        OrgRef::Slug(slug) => super::Prepared::new(
            diesel::sql_query(access_sql!("o.slug = $2"))
                .bind::<BigInt, _>(user_id)
                .bind::<Text, _>(slug),
        )
        .get_result(conn)?,
        OrgRef::Id(id) => super::Prepared::new(
            diesel::sql_query(access_sql!("o.id = $2"))
                .bind::<BigInt, _>(user_id)
                .bind::<BigInt, _>(*id),
        )
        .get_result(conn)?,
        OrgRef::Environment(env_id) => super::Prepared::new(
            diesel::sql_query(access_sql!(
                "o.id = (SELECT organization_id FROM environments WHERE id = $2)"
            ))
            .bind::<BigInt, _>(user_id)
            .bind::<BigInt, _>(*env_id),
        )
        .get_result(conn)?,
    };
    Ok((
        row.org.map(organization_of),
        row.member.map(Member::from_record),
    ))
}

/// The caller's access to an organization, or `None` when they are not a member (so the
/// organization's existence is not revealed). One prepared statement.
pub fn access(
    conn: &mut PgConnection,
    user_id: UserId,
    org: &OrgRef,
) -> QueryResult<Option<Access>> {
    let (org, member) = read_access(conn, user_id, org)?;
    Ok(org
        .zip(member)
        .map(|(org, member)| Access::of(user_id, org, &member)))
}

/// The member records an instance has read (see `org_record_sql`), per organization under its
/// data version, per member: at most 4,096 (a few hundred bytes each), 1,024 of one
/// organization's. A person who is not a member is kept too (`None`): asking again about an
/// organization one is not in costs one statement, as asking about one that does not exist.
///
/// That a kept record is what the database holds rests on the triggers that move the version,
/// which find a person's organizations at READ COMMITTED (the only level Gatehouse's
/// transactions run at), and on memberships never moving to another person or organization
/// (a trigger refuses it).
#[derive(Default)]
pub struct KeptAccess(super::kept::Kept<OrgId, UserId, Option<Arc<Member>>, 4096, 1024>);

impl KeptAccess {
    /// `user_id`'s access to the organization whose record (`org_record_sql`) was read on this
    /// request (None: no such organization): with the member's record kept at the version read,
    /// or else both records read again now (one more statement) and the member's kept.
    pub fn access(
        &self,
        conn: &mut PgConnection,
        user_id: UserId,
        org: Option<OrgRecord>,
    ) -> QueryResult<Option<Access>> {
        let Some((org, version)) = org.map(organization_of) else {
            return Ok(None);
        };
        if let Some(member) = self.0.get(org.id, version, &user_id) {
            return Ok(member.map(|member| Access::of(user_id, (org, version), &member)));
        }
        // Read in one statement, the two records agree with each other whatever changed since
        // the organization's record above was read: the member's is kept under the version
        // read with it, and this request uses them both.
        let (org, member) = read_access(conn, user_id, &OrgRef::Id(org.id))?;
        let Some((org, version)) = org else {
            return Ok(None);
        };
        let member = member.map(Arc::new);
        self.0.keep(org.id, version, user_id, member.clone());
        Ok(member.map(|member| Access::of(user_id, (org, version), &member)))
    }
}

/// Organizations listed in the top bar's switcher before "All organizations" (read with the
/// session: `db::sessions`).
pub const SWITCHER_SIZE: i64 = 8;

/// The top bar's switcher: the first organizations of the signed-in user, and how many they
/// belong to in all.
#[derive(Debug, Clone, Default)]
pub struct Switcher {
    pub first: Vec<MyOrganization>,
    pub total: i64,
    /// The person's data version (`user_data_versions`), moved by triggers in the transaction
    /// of every change their organization list shows: the key under which an instance keeps
    /// the pages of it (`OrgListCache`).
    pub version: i64,
}

/// The pages of people's organization lists an instance has read (`db::kept`), under the
/// person's data version, read with the session.
#[derive(Default)]
pub struct OrgListCache(super::kept::Kept<UserId, (i64, i64), Arc<Vec<MyOrganization>>>);

impl OrgListCache {
    /// A page of the organizations of the person `who` signs in (`list_for_user`): the one kept
    /// for the version read with the session, or read now and kept.
    pub fn list(
        &self,
        conn: &mut PgConnection,
        who: &super::sessions::SignedIn,
        offset: i64,
        limit: i64,
    ) -> QueryResult<(Arc<Vec<MyOrganization>>, i64)> {
        let (id, total, version) = (who.user.id, who.switcher.total, who.switcher.version);
        let page = self.0.get_or_read(id, version, (offset, limit), || {
            list_for_user(conn, id, total, offset, limit).map(|(page, _)| Arc::new(page))
        })?;
        Ok((page, total))
    }
}

#[derive(Debug, Clone)]
pub struct MyOrganization {
    pub name: String,
    pub slug: String,
    pub status: String,
    pub role: String,
}

/// A page of the user's organizations, by name, of `total` (their count, read with the
/// session). One statement, or none for a page past the end.
pub fn list_for_user(
    conn: &mut PgConnection,
    user_id: UserId,
    total: i64,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<MyOrganization>, i64)> {
    use diesel::sql_types::BigInt;
    if offset >= total {
        return Ok((Vec::new(), total));
    }
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        slug: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        status: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        role: String,
    }
    // The page is cut from the (user_id, org_name, organization_id) index, then each of its
    // organizations is looked up by key (OFFSET 0 keeps that a lookup per row): the same plan
    // for one organization or 400, so the statement stays prepared.
    let rows: Vec<Row> = super::Prepared::new(
        diesel::sql_query(
            "SELECT o.name, o.slug, o.status, m.role
             FROM (SELECT organization_id, role, org_name FROM memberships
                   WHERE user_id = $1 ORDER BY org_name, organization_id LIMIT $2 OFFSET $3) m
             CROSS JOIN LATERAL (SELECT name, slug, status FROM organizations
                                 WHERE id = m.organization_id OFFSET 0) o
             ORDER BY m.org_name, m.organization_id",
        )
        .bind::<BigInt, _>(user_id)
        .bind::<BigInt, _>(limit)
        .bind::<BigInt, _>(offset),
    )
    .load(conn)?;
    let page = rows
        .into_iter()
        .map(|r| MyOrganization {
            name: r.name,
            slug: r.slug,
            status: r.status,
            role: r.role,
        })
        .collect();
    Ok((page, total))
}

/// Renames an organization, recording before and after.
pub fn rename(
    conn: &mut PgConnection,
    actor: &Actor,
    org_id: OrgId,
    name: &OrgName,
    meta: &RequestMeta,
) -> QueryResult<Organization> {
    conn.transaction(|conn| {
        let before: Organization = organizations::table.find(org_id).select(Organization::as_select()).for_update().first(conn)?;
        let after: Organization = diesel::update(organizations::table.find(org_id))
            .set(organizations::name.eq(name.as_str()))
            .returning(Organization::as_returning())
            .get_result(conn)?;
        audit::record(conn, audit::Event {
            organization: Some((after.id, &after.name)),
            actor,
            action: Action::OrganizationRenamed,
            target: Some(after.slug.clone()),
            details: serde_json::json!({ "before": { "name": before.name }, "after": { "name": after.name } }),
            status: audit::Status::Successful,
            meta,
        })?;
        Ok(after)
    })
}

/// Sets the sign-in policy "require two-factor"; false when it already was so. Audited as
/// `organization.policy_changed`.
pub fn set_require_two_factor(
    conn: &mut PgConnection,
    actor: &Actor,
    org_id: OrgId,
    required: bool,
    meta: &RequestMeta,
) -> QueryResult<bool> {
    conn.transaction(|conn| {
        let changed: Option<Organization> = diesel::update(
            organizations::table
                .find(org_id)
                .filter(organizations::require_two_factor.ne(required)),
        )
        .set(organizations::require_two_factor.eq(required))
        .returning(Organization::as_returning())
        .get_result(conn)
        .optional()?;
        let Some(after) = changed else {
            return Ok(false);
        };
        let lacking = members_without_two_factor(conn, org_id)?;
        audit::record(
            conn,
            audit::Event {
                organization: Some((after.id, &after.name)),
                actor,
                action: Action::OrganizationPolicyChanged,
                target: Some(after.slug.clone()),
                details: serde_json::json!({
                    "before": { "require_two_factor": !required },
                    "after": { "require_two_factor": required },
                    "members_without_two_factor": lacking,
                }),
                status: audit::Status::Successful,
                meta,
            },
        )?;
        Ok(true)
    })
}

/// How many members of the organization have not set up two-factor sign-in: its member count
/// less its members with two-factor, found from the partial index of people who have it (usually
/// few) or from the members, whichever the planner finds smaller for these values (the
/// statement is planned each time).
pub fn members_without_two_factor(conn: &mut PgConnection, org_id: OrgId) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Lacking {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        lacking: i64,
    }
    let row: Lacking = diesel::sql_query(format!(
        "SELECT o.member_count - (SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id
                                  WHERE m.organization_id = o.id AND {}) AS lacking
         FROM organizations o WHERE o.id = $1",
        super::users::HAS_TWO_FACTOR_SQL
    ))
    .bind::<diesel::sql_types::BigInt, _>(org_id)
    .get_result(conn)?;
    Ok(row.lacking)
}

/// One of a user's organizations with their role in it.
#[derive(Debug, Queryable, serde::Serialize, utoipa::ToSchema)]
pub struct OrgWithRole {
    pub id: OrgId,
    pub name: String,
    pub slug: String,
    pub status: OrgStatus,
    pub role: OrgRole,
}

/// Every organization of a user with their role in it, by name (the API's organization list).
pub fn with_roles(conn: &mut PgConnection, user_id: UserId) -> QueryResult<Vec<OrgWithRole>> {
    organizations::table
        .inner_join(memberships::table)
        .filter(memberships::user_id.eq(user_id))
        .order((organizations::name.asc(), organizations::id.asc()))
        .select((
            organizations::id,
            organizations::name,
            organizations::slug,
            organizations::status,
            memberships::role,
        ))
        .load(conn)
}
