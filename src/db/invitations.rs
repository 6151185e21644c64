//! Invitations: created and resent in batches from the invite form, revoked, and answered from
//! the emailed link. The token only travels in the email; the database keeps its SHA-256.
//! Every change is one transaction with row locks, together with its email and audit event.

use crate::audit::Action;
use crate::domain::ids::{InvitationId, OrgId, UserId};
use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use diesel::dsl::count_star;
use diesel::prelude::*;

use super::schema::{
    audit_events, environment_roles, environments, invitations, memberships, organizations, users,
};
use super::tokens;
use super::types::parse_stored;
use crate::audit::{self, Actor, RequestMeta};
use crate::authz::{self, EnvKind, EnvRole, OrgRole};
use crate::config::Settings;
use crate::db::orgs::Organization;
use crate::db::users::User;
use crate::domain::EmailAddress;
use crate::domain::states::{InvitationState, InvitationStatus};
use crate::email::messages::{self, QueueError};

/// Resends of one invitation are at least this far apart.
pub const RESEND_INTERVAL_SECONDS: i64 = 60;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = invitations)]
pub struct Invitation {
    pub id: InvitationId,
    pub organization_id: OrgId,
    pub email: String,
    pub role: OrgRole,
    pub environment_roles: EnvRoles,
    pub status: InvitationStatus,
    pub invited_by: Option<UserId>,
    pub invited_by_name: String,
    pub expires_at: DateTime<Utc>,
    pub last_sent_at: DateTime<Utc>,
    pub send_count: i32,
    pub outbox_id: Option<i64>,
    pub responded_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// The state a person sees: `pending`, `accepted`, `declined`, `revoked`, or `expired` (a
/// pending invitation past its date).
impl Invitation {
    pub fn state(&self) -> InvitationState {
        InvitationState::of(self.status, self.expires_at <= Utc::now())
    }

    pub fn is_pending(&self) -> bool {
        self.state() == InvitationState::Pending
    }

    pub fn env_roles(&self) -> EnvRoles {
        self.environment_roles.clone()
    }
}

/// Environment roles granted on acceptance, in environment order.
#[derive(Debug, Clone, Default, PartialEq, Eq, diesel::deserialize::FromSqlRow)]
pub struct EnvRoles(pub BTreeMap<EnvKind, EnvRole>);

/// Read from the `invitations.environment_roles` JSON object; a kind or role that does not
/// parse is an error, not a grant silently dropped.
impl diesel::deserialize::FromSql<diesel::sql_types::Jsonb, diesel::pg::Pg> for EnvRoles {
    fn from_sql(bytes: diesel::pg::PgValue<'_>) -> diesel::deserialize::Result<Self> {
        let value = <serde_json::Value as diesel::deserialize::FromSql<
            diesel::sql_types::Jsonb,
            diesel::pg::Pg,
        >>::from_sql(bytes)?;
        let Some(object) = value.as_object() else {
            return Err("environment roles: not a JSON object".into());
        };
        let mut roles = BTreeMap::new();
        for (kind, role) in object {
            let role = role.as_str().unwrap_or_default();
            roles.insert(parse_stored(kind)?, parse_stored(role)?);
        }
        Ok(EnvRoles(roles))
    }
}

impl serde::Serialize for EnvRoles {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl EnvRoles {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.0
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), v.as_str().into()))
                .collect(),
        )
    }

    /// "staging: viewer, production: support"
    pub fn describe(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn get(&self, kind: &EnvKind) -> Option<EnvRole> {
        self.0.get(kind).copied()
    }
}

/// One row of the Invited users tab, with the delivery state of its latest email.
#[derive(Debug, Clone)]
pub struct ListedInvitation {
    pub invitation: Invitation,
    /// queued, sent or failed
    pub delivery: String,
    pub delivery_error: Option<String>,
}

pub struct InviteRequest<'a> {
    pub org: &'a Organization,
    pub inviter: &'a User,
    pub role: OrgRole,
    pub env_roles: EnvRoles,
    pub emails: Vec<EmailAddress>,
}

#[derive(Debug)]
pub enum InviteOutcome {
    Sent {
        created: Vec<String>,
        resent: Vec<String>,
        /// Invitees already at the organization limit: invited, but cannot accept yet.
        at_limit: Vec<String>,
    },
    AlreadyMembers(Vec<String>),
    /// Addresses whose open invitation was sent less than `RESEND_INTERVAL_SECONDS` ago: the
    /// form cannot send it again sooner than the Resend button could.
    SentTooRecently(Vec<String>),
    DailyLimit(DailyLimit),
    /// The inviter's role, read under the lock, does not allow inviting as this role (it
    /// changed since the page was checked).
    NotAllowed,
}

/// Whose invitations `sent_today` counts.
enum SentBy {
    Organization(OrgId),
    Sender(UserId),
}

/// Invitations sent and resent in the last 24 hours, by the organization or by the sender
/// across organizations, counted from the audit log.
fn sent_today(conn: &mut PgConnection, by: SentBy) -> QueryResult<i64> {
    let sent = audit_events::table
        .filter(audit_events::action.eq_any([Action::InvitationCreated, Action::InvitationResent]))
        .filter(audit_events::status.eq("successful"))
        .filter(audit_events::created_at.gt(Utc::now() - Duration::days(1)))
        .select(count_star())
        .into_boxed();
    match by {
        SentBy::Organization(org) => sent.filter(audit_events::organization_id.eq(org)),
        SentBy::Sender(sender) => sent.filter(audit_events::actor_user_id.eq(sender)),
    }
    .first(conn)
}

/// Which daily limit an invitation would go over, if any: the organization's, or its sender's
/// across every organization (so that making, filling and deleting organizations does not send
/// mail without end). The sender's row is locked, so their invitations to several
/// organizations at once are counted one after another (the organization's row comes first).
fn over_daily_limit(
    conn: &mut PgConnection,
    settings: &Settings,
    org_id: OrgId,
    actor: &Actor,
    sending: i64,
) -> QueryResult<Option<DailyLimit>> {
    let limit = settings.invites_per_org_per_day;
    let by_org = sent_today(conn, SentBy::Organization(org_id))?;
    if by_org + sending > limit {
        return Ok(Some(DailyLimit {
            sent_today: by_org,
            by_sender: false,
        }));
    }
    let Some(sender) = actor.user_id() else {
        return Ok(None);
    };
    users::table
        .find(sender)
        .select(users::id)
        .for_update()
        .first::<UserId>(conn)?;
    let by_sender = sent_today(conn, SentBy::Sender(sender))?;
    Ok((by_sender + sending > limit).then_some(DailyLimit {
        sent_today: by_sender,
        by_sender: true,
    }))
}

/// A daily invitation limit reached: how many were sent in the last 24 hours, and whether by
/// the sender across their organizations (otherwise by the organization).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyLimit {
    pub sent_today: i64,
    pub by_sender: bool,
}

impl DailyLimit {
    /// What to tell the sender, with the limit (`INVITES_PER_ORG_PER_DAY`).
    pub fn message(&self, limit: i64) -> String {
        let who = if self.by_sender {
            "You sent"
        } else {
            "This organization sent"
        };
        let across = if self.by_sender {
            ", across your organizations"
        } else {
            ""
        };
        format!(
            "{who} {} invitations in the last 24 hours{across}; at most {limit} a day are allowed.",
            self.sent_today
        )
    }
}

fn expiry_text(at: DateTime<Utc>) -> String {
    at.format("%A %-d %B %Y, %H:%M UTC").to_string()
}

/// Issues a fresh token for the invitation, queues its email, and returns the outbox id.
fn send(
    conn: &mut PgConnection,
    settings: &Settings,
    org: &Organization,
    inv: &Invitation,
) -> Result<(String, i64), QueueError> {
    let token = tokens::new_token();
    let link = settings.link(&format!("/invitations/{token}"));
    let envs = inv.env_roles().describe();
    let outbox_id = messages::invitation(
        conn,
        &inv.email,
        &messages::Invitation {
            inviter: &inv.invited_by_name,
            organization: &org.name,
            role: inv.role.as_str(),
            environments: &envs,
            expires: &expiry_text(inv.expires_at),
            link: &link,
        },
    )?;
    Ok((token, outbox_id))
}

/// Creates the invitation of one address, or resends its open one with the new roles; queues
/// its email and records it. Returns which of the two it was.
fn invite_address(
    conn: &mut PgConnection,
    settings: &Settings,
    req: &InviteRequest<'_>,
    email: &str,
    expires: DateTime<Utc>,
    actor: &Actor,
    meta: &RequestMeta,
) -> Result<Action, QueueError> {
    let open: Option<Invitation> = invitations::table
        .filter(invitations::organization_id.eq(req.org.id))
        .filter(invitations::email.eq(email))
        .filter(invitations::status.eq(InvitationStatus::Pending))
        .select(Invitation::as_select())
        .for_update()
        .first(conn)
        .optional()?;
    let placeholder = tokens::hash(&tokens::new_token());
    let (inv, action) = match open {
        Some(open) => {
            let inv: Invitation = diesel::update(invitations::table.find(open.id))
                .set((
                    invitations::role.eq(req.role.as_str()),
                    invitations::environment_roles.eq(req.env_roles.to_json()),
                    invitations::invited_by.eq(req.inviter.id),
                    invitations::invited_by_name.eq(&req.inviter.name),
                    invitations::expires_at.eq(expires),
                    invitations::last_sent_at.eq(Utc::now()),
                    invitations::send_count.eq(invitations::send_count + 1),
                ))
                .returning(Invitation::as_returning())
                .get_result(conn)?;
            (inv, Action::InvitationResent)
        }
        None => {
            let inv: Invitation = diesel::insert_into(invitations::table)
                .values((
                    invitations::organization_id.eq(req.org.id),
                    invitations::email.eq(email),
                    invitations::role.eq(req.role.as_str()),
                    invitations::environment_roles.eq(req.env_roles.to_json()),
                    invitations::token_hash.eq(&placeholder),
                    invitations::invited_by.eq(req.inviter.id),
                    invitations::invited_by_name.eq(&req.inviter.name),
                    invitations::expires_at.eq(expires),
                ))
                .returning(Invitation::as_returning())
                .get_result(conn)?;
            (inv, Action::InvitationCreated)
        }
    };
    let (token, outbox_id) = send(conn, settings, req.org, &inv)?;
    diesel::update(invitations::table.find(inv.id))
        .set((
            invitations::token_hash.eq(tokens::hash(&token)),
            invitations::outbox_id.eq(outbox_id),
        ))
        .execute(conn)?;
    audit::record(
        conn,
        audit::Event {
            organization: Some((req.org.id, &req.org.name)),
            actor,
            action,
            target: Some(email.to_string()),
            details: serde_json::json!({ "after": { "role": inv.role, "environment_roles": inv.environment_roles, "expires_at": inv.expires_at } }),
            status: audit::Status::Successful,
            meta,
        },
    )?;
    Ok(action)
}

/// Invites every address of the form, or none: members are refused, addresses with an open
/// invitation get it resent, and the organization's daily limit holds. The organization row is
/// locked so that concurrent forms count against the same limit.
pub fn invite(
    conn: &mut PgConnection,
    settings: &Settings,
    req: &InviteRequest<'_>,
    actor: &Actor,
    meta: &RequestMeta,
) -> Result<InviteOutcome, QueueError> {
    conn.transaction(|conn| {
        organizations::table.find(req.org.id).select(organizations::id).for_update().first::<i64>(conn)?;
        let addresses: Vec<&str> = req.emails.iter().map(EmailAddress::as_str).collect();
        let inviter_role = super::members::actor_role(conn, req.org.id, actor)?;
        if !inviter_role.is_some_and(|role| authz::may_invite_as(role, req.role)) {
            audit::record(conn, audit::Event {
                organization: Some((req.org.id, &req.org.name)),
                actor,
                action: Action::InvitationCreated,
                target: Some(addresses.join(", ")),
                details: serde_json::json!({ "reason": "the inviter's role does not allow this role", "role": req.role }),
                status: audit::Status::Denied,
                meta,
            })?;
            return Ok(InviteOutcome::NotAllowed);
        }
        let members: Vec<String> = memberships::table
            .inner_join(users::table)
            .filter(memberships::organization_id.eq(req.org.id))
            .filter(users::email.eq_any(&addresses))
            .select(users::email)
            .load(conn)?;
        if !members.is_empty() {
            return Ok(InviteOutcome::AlreadyMembers(members));
        }
        let recent: Vec<String> = invitations::table
            .filter(invitations::organization_id.eq(req.org.id))
            .filter(invitations::email.eq_any(&addresses))
            .filter(invitations::status.eq(InvitationStatus::Pending))
            .filter(invitations::last_sent_at.gt(Utc::now() - Duration::seconds(RESEND_INTERVAL_SECONDS)))
            .select(invitations::email)
            .load(conn)?;
        if !recent.is_empty() {
            audit::record(conn, audit::Event {
                organization: Some((req.org.id, &req.org.name)),
                actor,
                action: Action::InvitationResent,
                target: Some(recent.join(", ")),
                details: serde_json::json!({ "reason": "sent less than a minute ago" }),
                status: audit::Status::Denied,
                meta,
            })?;
            return Ok(InviteOutcome::SentTooRecently(recent));
        }
        if let Some(limit) = over_daily_limit(conn, settings, req.org.id, actor, addresses.len() as i64)? {
            audit::record(conn, audit::Event {
                organization: Some((req.org.id, &req.org.name)),
                actor,
                action: Action::InvitationCreated,
                target: Some(addresses.join(", ")),
                details: serde_json::json!({ "reason": "daily invitation limit", "sent_today": limit.sent_today, "by_sender": limit.by_sender }),
                status: audit::Status::Denied,
                meta,
            })?;
            return Ok(InviteOutcome::DailyLimit(limit));
        }
        let expires = Utc::now() + Duration::days(settings.invite_ttl_days);
        let (mut created, mut resent) = (Vec::new(), Vec::new());
        for email in &addresses {
            match invite_address(conn, settings, req, email, expires, actor, meta)? {
                Action::InvitationResent => resent.push(email.to_string()),
                _ => created.push(email.to_string()),
            }
        }
        let at_limit: Vec<String> = users::table
            .inner_join(memberships::table)
            .filter(users::email.eq_any(&addresses))
            .group_by(users::email)
            .having(count_star().ge(settings.max_orgs_per_user))
            .select(users::email)
            .load(conn)?;
        Ok(InviteOutcome::Sent { created, resent, at_limit })
    })
}

#[derive(Debug, PartialEq, Eq)]
pub enum ResendOutcome {
    /// Sent again to this address.
    Resent(String),
    TooSoon,
    NotPending,
    DailyLimit(DailyLimit),
    /// The sender may not invite as this invitation's role (admins renewing an admin's).
    NotAllowed,
}

/// Resends one invitation: a new token (the old link stops working) and a new expiry.
pub fn resend(
    conn: &mut PgConnection,
    settings: &Settings,
    org: &Organization,
    id: InvitationId,
    actor: &Actor,
    meta: &RequestMeta,
) -> Result<ResendOutcome, QueueError> {
    conn.transaction(|conn| {
        organizations::table.find(org.id).select(organizations::id).for_update().first::<i64>(conn)?;
        let inv: Invitation = invitations::table
            .filter(invitations::id.eq(id))
            .filter(invitations::organization_id.eq(org.id))
            .select(Invitation::as_select())
            .for_update()
            .first(conn)?;
        // The sender's role, read under the lock: only someone who may invite as the
        // invitation's role may renew it (an admin cannot renew an invitation as admin).
        let sender = super::members::actor_role(conn, org.id, actor)?;
        let refused = if !sender.is_some_and(|role| authz::may_invite_as(role, inv.role)) {
            Some(ResendOutcome::NotAllowed)
        } else if inv.status != InvitationStatus::Pending {
            Some(ResendOutcome::NotPending)
        } else if inv.last_sent_at > Utc::now() - Duration::seconds(RESEND_INTERVAL_SECONDS) {
            Some(ResendOutcome::TooSoon)
        } else {
            over_daily_limit(conn, settings, org.id, actor, 1)?.map(ResendOutcome::DailyLimit)
        };
        if let Some(refused) = refused {
            audit::record(conn, audit::Event {
                organization: Some((org.id, &org.name)),
                actor,
                action: Action::InvitationResent,
                target: Some(inv.email.clone()),
                details: serde_json::json!({ "reason": format!("{refused:?}"), "status": inv.status }),
                status: audit::Status::Denied,
                meta,
            })?;
            return Ok(refused);
        }
        let inv: Invitation = diesel::update(invitations::table.find(inv.id))
            .set((
                invitations::expires_at.eq(Utc::now() + Duration::days(settings.invite_ttl_days)),
                invitations::last_sent_at.eq(Utc::now()),
                invitations::send_count.eq(invitations::send_count + 1),
            ))
            .returning(Invitation::as_returning())
            .get_result(conn)?;
        let (token, outbox_id) = send(conn, settings, org, &inv)?;
        diesel::update(invitations::table.find(inv.id))
            .set((invitations::token_hash.eq(tokens::hash(&token)), invitations::outbox_id.eq(outbox_id)))
            .execute(conn)?;
        audit::record(conn, audit::Event {
            organization: Some((org.id, &org.name)),
            actor,
            action: Action::InvitationResent,
            target: Some(inv.email.clone()),
            details: serde_json::json!({ "after": { "expires_at": inv.expires_at, "send_count": inv.send_count } }),
            status: audit::Status::Successful,
            meta,
        })?;
        Ok(ResendOutcome::Resent(inv.email))
    })
}

/// Revokes a pending invitation; its link then says so. Its address, or None when it was not
/// pending.
pub fn revoke(
    conn: &mut PgConnection,
    org: &Organization,
    id: InvitationId,
    actor: &Actor,
    meta: &RequestMeta,
) -> QueryResult<Option<String>> {
    conn.transaction(|conn| {
        let revoked: Option<Invitation> = diesel::update(
            invitations::table
                .filter(invitations::id.eq(id))
                .filter(invitations::organization_id.eq(org.id))
                .filter(invitations::status.eq(InvitationStatus::Pending)),
        )
        .set((invitations::status.eq(InvitationStatus::Revoked), invitations::responded_at.eq(Utc::now())))
        .returning(Invitation::as_returning())
        .get_result(conn)
        .optional()?;
        let Some(inv) = revoked else {
            let email: Option<String> = invitations::table
                .filter(invitations::id.eq(id))
                .filter(invitations::organization_id.eq(org.id))
                .select(invitations::email)
                .first(conn)
                .optional()?;
            audit::record(conn, audit::Event {
                organization: Some((org.id, &org.name)),
                actor,
                action: Action::InvitationRevoked,
                target: email,
                details: serde_json::json!({ "reason": "not pending", "invitation_id": id }),
                status: audit::Status::Denied,
                meta,
            })?;
            return Ok(None);
        };
        audit::record(conn, audit::Event {
            organization: Some((org.id, &org.name)),
            actor,
            action: Action::InvitationRevoked,
            target: Some(inv.email.clone()),
            details: serde_json::json!({ "before": { "status": "pending" }, "after": { "status": "revoked" } }),
            status: audit::Status::Successful,
            meta,
        })?;
        Ok(Some(inv.email))
    })
}

/// Revokes every open invitation to an address (when its person is removed).
pub fn revoke_for_email(conn: &mut PgConnection, org_id: OrgId, email: &str) -> QueryResult<usize> {
    diesel::update(
        invitations::table
            .filter(invitations::organization_id.eq(org_id))
            .filter(invitations::email.eq(email))
            .filter(invitations::status.eq(InvitationStatus::Pending)),
    )
    .set((
        invitations::status.eq(InvitationStatus::Revoked),
        invitations::responded_at.eq(Utc::now()),
    ))
    .execute(conn)
}

/// Revokes the open (pending, unexpired) invitations `sender` sent in the organization `org`,
/// when they are removed, leave, or are demoted below admin (DESIGN §5): each is recorded as
/// revoked by `system`, for `reason`. Returns how many.
pub fn revoke_sent_by(
    conn: &mut PgConnection,
    org: (OrgId, &str),
    sender: UserId,
    reason: &str,
    meta: &RequestMeta,
) -> QueryResult<usize> {
    let revoked: Vec<String> = diesel::update(
        invitations::table
            .filter(invitations::organization_id.eq(org.0))
            .filter(invitations::invited_by.eq(sender))
            .filter(invitations::status.eq(InvitationStatus::Pending))
            .filter(invitations::expires_at.gt(Utc::now())),
    )
    .set((
        invitations::status.eq(InvitationStatus::Revoked),
        invitations::responded_at.eq(Utc::now()),
    ))
    .returning(invitations::email)
    .get_results(conn)?;
    for email in &revoked {
        let details = serde_json::json!({ "reason": reason });
        let event = audit::Event::successful(
            &Actor::System,
            meta,
            Action::InvitationRevoked,
            email,
            details,
        );
        audit::record(conn, event.in_org(org.0, org.1))?;
    }
    Ok(revoked.len())
}

/// A page of an organization's invitations, newest first, with delivery state, and the total.
pub fn list(
    conn: &mut PgConnection,
    org_id: OrgId,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<ListedInvitation>, i64)> {
    use super::schema::email_outbox;
    use diesel::dsl::sql;
    use diesel::sql_types::BigInt;
    let rows: Vec<(Invitation, Option<String>, Option<String>, i64)> = invitations::table
        .left_join(email_outbox::table)
        .filter(invitations::organization_id.eq(org_id))
        .order((invitations::created_at.desc(), invitations::id.desc()))
        .offset(offset)
        .limit(limit)
        .select((
            Invitation::as_select(),
            email_outbox::status.nullable(),
            email_outbox::last_error.nullable(),
            sql::<BigInt>("count(*) OVER ()"),
        ))
        .load(conn)?;
    let total = match rows.first() {
        Some(r) => r.3,
        None if offset == 0 => 0,
        None => invitations::table
            .filter(invitations::organization_id.eq(org_id))
            .select(count_star())
            .first(conn)?,
    };
    let listed = rows
        .into_iter()
        .map(|(invitation, status, error, _)| ListedInvitation {
            delivery: match (invitation.outbox_id, status.as_deref()) {
                // The email's row is purged only after it was sent (OUTBOX_KEEP_DAYS).
                (None, _) | (_, Some("sent")) => "sent",
                (_, Some("failed")) => "failed",
                _ => "queued",
            }
            .to_string(),
            invitation,
            delivery_error: error,
        })
        .collect();
    Ok((listed, total))
}

/// An invitation found by the token from its link, with its organization.
pub fn find_by_token(
    conn: &mut PgConnection,
    token: &str,
) -> QueryResult<Option<(Invitation, Organization)>> {
    invitations::table
        .inner_join(organizations::table)
        .filter(invitations::token_hash.eq(tokens::hash(token)))
        .select((Invitation::as_select(), Organization::as_select()))
        .first(conn)
        .optional()
}

#[derive(Debug)]
pub enum AcceptOutcome {
    Joined(Organization),
    AlreadyMember(Organization),
    /// The invitation is no longer open: its state (`None`: no invitation has this link).
    Closed(Option<InvitationState>),
    WrongAccount,
    LimitReached,
}

/// An invitation grants what its sender could grant, judged at acceptance: one sent by someone
/// since removed or demoted no longer stands. Revokes it (with a denied event) when not.
fn sender_still_may(
    conn: &mut PgConnection,
    org: &Organization,
    inv: &Invitation,
    actor: &Actor,
    meta: &RequestMeta,
) -> QueryResult<bool> {
    // Read under a share lock: a removal of the sender at this moment waits, or is seen.
    let sender: Option<OrgRole> = match inv.invited_by {
        Some(sender) => memberships::table
            .find((org.id, sender))
            .select(memberships::role)
            .for_share()
            .first(conn)
            .optional()?,
        None => None,
    };
    if sender.is_some_and(|role| authz::may_invite_as(role, inv.role)) {
        return Ok(true);
    }
    diesel::update(invitations::table.find(inv.id))
        .set((
            invitations::status.eq(InvitationStatus::Revoked),
            invitations::responded_at.eq(Utc::now()),
        ))
        .execute(conn)?;
    audit::record(
        conn,
        audit::Event {
            organization: Some((org.id, &org.name)),
            actor,
            action: Action::InvitationAccepted,
            target: Some(inv.email.clone()),
            details: serde_json::json!({ "reason": "the sender can no longer invite as this role", "invited_by": inv.invited_by }),
            status: audit::Status::Denied,
            meta,
        },
    )?;
    Ok(false)
}

/// Grants the environment roles an accepted invitation carries.
fn grant_env_roles(
    conn: &mut PgConnection,
    org_id: OrgId,
    user_id: UserId,
    grants: &EnvRoles,
) -> QueryResult<()> {
    let envs: Vec<(i64, EnvKind)> = environments::table
        .filter(environments::organization_id.eq(org_id))
        .select((environments::id, environments::kind))
        .load(conn)?;
    let rows: Vec<_> = envs
        .iter()
        .filter_map(|(id, kind)| {
            let role = grants.get(kind)?;
            Some((
                environment_roles::environment_id.eq(*id),
                environment_roles::organization_id.eq(org_id),
                environment_roles::user_id.eq(user_id),
                environment_roles::role.eq(role.as_str()),
            ))
        })
        .collect();
    if !rows.is_empty() {
        diesel::insert_into(environment_roles::table)
            .values(rows)
            .execute(conn)?;
    }
    Ok(())
}

/// Locks the organization the invitation with this token is to, before the invitation itself:
/// every change to an organization's people takes its row first (removing, leaving and demoting
/// revoke the sender's invitations under it), so taking the invitation first could deadlock.
fn lock_org_of(conn: &mut PgConnection, token: &str) -> QueryResult<()> {
    let org: Option<OrgId> = invitations::table
        .filter(invitations::token_hash.eq(tokens::hash(token)))
        .select(invitations::organization_id)
        .first(conn)
        .optional()?;
    if let Some(org) = org {
        organizations::table
            .find(org)
            .select(organizations::id)
            .for_update()
            .first::<i64>(conn)?;
    }
    Ok(())
}

/// Accepts the invitation for `user` (whose email it must be): membership and environment roles
/// in one transaction. The invitation row is locked (single use) and so is the user row, so
/// concurrent acceptances cannot pass the organization limit.
pub fn accept(
    conn: &mut PgConnection,
    token: &str,
    user: &User,
    max_orgs: i64,
    meta: &RequestMeta,
) -> QueryResult<AcceptOutcome> {
    conn.transaction(|conn| {
        lock_org_of(conn, token)?;
        let found: Option<(Invitation, Organization)> = invitations::table
            .inner_join(organizations::table)
            .filter(invitations::token_hash.eq(tokens::hash(token)))
            .select((Invitation::as_select(), Organization::as_select()))
            .for_update()
            .first(conn)
            .optional()?;
        let Some((inv, org)) = found else { return Ok(AcceptOutcome::Closed(None)) };
        if !inv.is_pending() {
            return Ok(AcceptOutcome::Closed(Some(inv.state())));
        }
        if inv.email != user.email {
            return Ok(AcceptOutcome::WrongAccount);
        }
        let actor = Actor::User { id: user.id, email: user.email.clone() };
        if !sender_still_may(conn, &org, &inv, &actor, meta)? {
            return Ok(AcceptOutcome::Closed(Some(InvitationState::Revoked)));
        }
        users::table.find(user.id).select(users::id).for_update().first::<i64>(conn)?;
        let already = memberships::table
            .find((org.id, user.id))
            .select(memberships::role)
            .first::<String>(conn)
            .optional()?
            .is_some();
        let close = |conn: &mut PgConnection| {
            diesel::update(invitations::table.find(inv.id))
                .set((invitations::status.eq(InvitationStatus::Accepted), invitations::responded_at.eq(Utc::now())))
                .execute(conn)
        };
        if already {
            close(conn)?;
            return Ok(AcceptOutcome::AlreadyMember(org));
        }
        let count: i64 = memberships::table.filter(memberships::user_id.eq(user.id)).select(count_star()).first(conn)?;
        if count >= max_orgs {
            audit::record(conn, audit::Event {
                organization: Some((org.id, &org.name)),
                actor: &actor,
                action: Action::InvitationAccepted,
                target: Some(inv.email.clone()),
                details: serde_json::json!({ "reason": "organization limit reached", "limit": max_orgs }),
                status: audit::Status::Denied,
                meta,
            })?;
            return Ok(AcceptOutcome::LimitReached);
        }
        diesel::insert_into(memberships::table)
            .values((memberships::organization_id.eq(org.id), memberships::user_id.eq(user.id), memberships::role.eq(&inv.role)))
            .execute(conn)?;
        grant_env_roles(conn, org.id, user.id, &inv.env_roles())?;
        close(conn)?;
        audit::record(conn, audit::Event {
            organization: Some((org.id, &org.name)),
            actor: &actor,
            action: Action::InvitationAccepted,
            target: Some(inv.email.clone()),
            details: serde_json::json!({ "after": { "role": inv.role, "environment_roles": inv.environment_roles } }),
            status: audit::Status::Successful,
            meta,
        })?;
        Ok(AcceptOutcome::Joined(org))
    })
}

/// Declines the invitation for `user`; the state it was in when it was not open.
pub fn decline(
    conn: &mut PgConnection,
    token: &str,
    user: &User,
    meta: &RequestMeta,
) -> QueryResult<Result<Organization, Option<InvitationState>>> {
    conn.transaction(|conn| {
        lock_org_of(conn, token)?;
        let found: Option<(Invitation, Organization)> = invitations::table
            .inner_join(organizations::table)
            .filter(invitations::token_hash.eq(tokens::hash(token)))
            .select((Invitation::as_select(), Organization::as_select()))
            .for_update()
            .first(conn)
            .optional()?;
        let Some((inv, org)) = found else { return Ok(Err(None)) };
        if !inv.is_pending() || inv.email != user.email {
            return Ok(Err(Some(inv.state())));
        }
        diesel::update(invitations::table.find(inv.id))
            .set((invitations::status.eq(InvitationStatus::Declined), invitations::responded_at.eq(Utc::now())))
            .execute(conn)?;
        audit::record(conn, audit::Event {
            organization: Some((org.id, &org.name)),
            actor: &Actor::User { id: user.id, email: user.email.clone() },
            action: Action::InvitationDeclined,
            target: Some(inv.email.clone()),
            details: serde_json::json!({ "before": { "status": "pending" }, "after": { "status": "declined" } }),
            status: audit::Status::Successful,
            meta,
        })?;
        Ok(Ok(org))
    })
}

/// Records that an invitation's email could not be delivered after every attempt.
pub fn record_email_failed(
    conn: &mut PgConnection,
    outbox_id: i64,
    error: &str,
) -> QueryResult<()> {
    let found: Option<(Invitation, Organization)> = invitations::table
        .inner_join(organizations::table)
        .filter(invitations::outbox_id.eq(outbox_id))
        .select((Invitation::as_select(), Organization::as_select()))
        .first(conn)
        .optional()?;
    let Some((inv, org)) = found else {
        return Ok(());
    };
    audit::record(
        conn,
        audit::Event {
            organization: Some((org.id, &org.name)),
            actor: &Actor::System,
            action: Action::InvitationEmailFailed,
            target: Some(inv.email),
            details: serde_json::json!({ "error": error }),
            status: audit::Status::Successful,
            meta: &RequestMeta::default(),
        },
    )
}
