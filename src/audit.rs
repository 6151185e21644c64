//! The one function that appends to the audit log. Every state change, and every denied attempt
//! at an owner/admin action, calls it inside the transaction that makes (or refuses) the change.

use diesel::prelude::*;

use crate::db::schema::audit_events;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Attempted,
    Successful,
    Denied,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Attempted => "attempted",
            Status::Successful => "successful",
            Status::Denied => "denied",
        }
    }
}

/// Every action the audit log records, in the order the audit page offers them as filters.
pub const ACTIONS: &[&str] = &[
    "organization.created",
    "organization.renamed",
    "organization.went_live",
    "organization.deleted",
    "invitation.created",
    "invitation.resent",
    "invitation.revoked",
    "invitation.accepted",
    "invitation.declined",
    "invitation.email_failed",
    "member.removed",
    "member.left",
    "member.role_changed",
    "environment.role_granted",
    "environment.role_changed",
    "environment.role_revoked",
    "config.changed",
    "config.revealed",
    "api_key.created",
    "api_key.revoked",
    "permission.denied",
    "user.signed_up",
    "user.email_verified",
    "user.verification_sent",
    "user.signed_in",
    "user.sign_in_failed",
    "user.signed_out",
    "user.password_reset_requested",
    "user.password_reset",
    "user.password_changed",
    "user.password_reentry_failed",
];

/// Who acted.
#[derive(Debug, Clone)]
pub enum Actor {
    Visitor,
    User {
        id: i64,
        email: String,
    },
    /// A platform operator acting from the operator console.
    Operator {
        id: i64,
        email: String,
    },
    /// A personal API key, acting for its user.
    ApiKey {
        key_id: i64,
        user_id: i64,
        email: String,
    },
    System,
}

impl Actor {
    /// The account acting, when a person (directly, as an operator or through a key) acts.
    pub fn user_id(&self) -> Option<i64> {
        match self {
            Actor::User { id, .. } | Actor::Operator { id, .. } => Some(*id),
            Actor::ApiKey { user_id, .. } => Some(*user_id),
            Actor::Visitor | Actor::System => None,
        }
    }
}

/// The request an action came from.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

pub struct Event<'a> {
    pub organization: Option<(i64, &'a str)>,
    pub actor: &'a Actor,
    pub action: &'a str,
    pub target: Option<String>,
    pub details: serde_json::Value,
    pub status: Status,
    pub meta: &'a RequestMeta,
}

pub fn record(conn: &mut PgConnection, event: Event<'_>) -> QueryResult<()> {
    let (actor_kind, actor_user_id, actor_label) = match event.actor {
        Actor::Visitor => ("visitor", None, "visitor".to_string()),
        Actor::User { id, email } => ("user", Some(*id), email.clone()),
        Actor::Operator { id, email } => ("operator", Some(*id), email.clone()),
        Actor::ApiKey {
            key_id,
            user_id,
            email,
        } => (
            "api_key",
            Some(*user_id),
            format!("{email} (API key {key_id})"),
        ),
        Actor::System => ("system", None, "system".to_string()),
    };
    diesel::insert_into(audit_events::table)
        .values((
            audit_events::organization_id.eq(event.organization.map(|o| o.0)),
            audit_events::organization_name.eq(event.organization.map(|o| o.1.to_string())),
            audit_events::actor_kind.eq(actor_kind),
            audit_events::actor_user_id.eq(actor_user_id),
            audit_events::actor_label.eq(actor_label),
            audit_events::action.eq(event.action),
            audit_events::target.eq(event.target),
            audit_events::details.eq(event.details),
            audit_events::ip.eq(&event.meta.ip),
            audit_events::user_agent.eq(event
                .meta
                .user_agent
                .as_ref()
                .map(|ua| ua.chars().take(500).collect::<String>())),
            audit_events::status.eq(event.status.as_str()),
        ))
        .execute(conn)?;
    Ok(())
}

/// A refused change, described while its transaction is still open and recorded (with
/// [`record_denied`]) after that transaction has rolled back, so the refusal is kept even though
/// nothing else of the change is.
#[derive(Debug, Clone)]
pub struct Denied {
    pub organization: Option<(i64, String)>,
    pub action: &'static str,
    pub target: Option<String>,
    pub details: serde_json::Value,
}

/// Records a refusal as a `denied` event.
pub fn record_denied(
    conn: &mut PgConnection,
    actor: &Actor,
    meta: &RequestMeta,
    denied: &Denied,
) -> QueryResult<()> {
    record(
        conn,
        Event {
            organization: denied
                .organization
                .as_ref()
                .map(|(id, name)| (*id, name.as_str())),
            actor,
            action: denied.action,
            target: denied.target.clone(),
            details: denied.details.clone(),
            status: Status::Denied,
            meta,
        },
    )
}
