//! The one function that appends to the audit log. Every state change, and every denied attempt
//! at an owner/admin action, calls it inside the transaction that makes (or refuses) the change.

use crate::domain::ids::{OrgId, UserId};
use diesel::prelude::*;

use crate::db::schema::audit_events;

#[derive(Debug, Clone, Copy, PartialEq, Eq, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum Status {
    Attempted,
    Successful,
    Denied,
}

crate::authz::string_enum!(Status);

impl Status {
    pub const ALL: [Status; 3] = [Status::Attempted, Status::Successful, Status::Denied];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Attempted => "attempted",
            Status::Successful => "successful",
            Status::Denied => "denied",
        }
    }
}

/// Declares `Action` with its stored names, in the order the audit page offers them as filters.
macro_rules! actions {
    ($( $variant:ident => $name:literal, )*) => {
        /// Every action the audit log records; stored as its name in `audit_events.action`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, diesel::AsExpression, diesel::FromSqlRow)]
        #[diesel(sql_type = diesel::sql_types::Text)]
        pub enum Action {
            $( $variant, )*
        }

        impl Action {
            /// Every action, in the order the audit page offers them as filters.
            pub const ALL: &[Action] = &[ $( Action::$variant, )* ];

            pub fn as_str(self) -> &'static str {
                match self {
                    $( Action::$variant => $name, )*
                }
            }
        }
    };
}

actions! {
    OrganizationCreated => "organization.created",
    OrganizationRenamed => "organization.renamed",
    OrganizationWentLive => "organization.went_live",
    OrganizationDeleted => "organization.deleted",
    InvitationCreated => "invitation.created",
    InvitationResent => "invitation.resent",
    InvitationRevoked => "invitation.revoked",
    InvitationAccepted => "invitation.accepted",
    InvitationDeclined => "invitation.declined",
    InvitationEmailFailed => "invitation.email_failed",
    MemberRemoved => "member.removed",
    MemberLeft => "member.left",
    MemberRoleChanged => "member.role_changed",
    EnvironmentRoleGranted => "environment.role_granted",
    EnvironmentRoleChanged => "environment.role_changed",
    EnvironmentRoleRevoked => "environment.role_revoked",
    ConfigChanged => "config.changed",
    ConfigRevealed => "config.revealed",
    ApiKeyCreated => "api_key.created",
    ApiKeyRevoked => "api_key.revoked",
    PermissionDenied => "permission.denied",
    AuditExported => "audit.exported",
    UserSignedUp => "user.signed_up",
    UserEmailVerified => "user.email_verified",
    UserVerificationSent => "user.verification_sent",
    UserSignedIn => "user.signed_in",
    UserSignInFailed => "user.sign_in_failed",
    UserSignedOut => "user.signed_out",
    UserPasswordResetRequested => "user.password_reset_requested",
    UserPasswordReset => "user.password_reset",
    UserPasswordChanged => "user.password_changed",
    UserPasswordReentryFailed => "user.password_reentry_failed",
    SessionRevoked => "session.revoked",
    UserTwoFactorEnabled => "user.two_factor_enabled",
    UserTwoFactorDisabled => "user.two_factor_disabled",
    UserTwoFactorFailed => "user.two_factor_failed",
    UserRecoveryCodeUsed => "user.recovery_code_used",
    UserRecoveryCodesRegenerated => "user.recovery_codes_regenerated",
    UserNameChanged => "user.name_changed",
    UserEmailChangeRequested => "user.email_change_requested",
    UserEmailChanged => "user.email_changed",
    OrganizationPolicyChanged => "organization.policy_changed",
    UserPasskeyAdded => "user.passkey_added",
    UserPasskeyRenamed => "user.passkey_renamed",
    UserPasskeyRemoved => "user.passkey_removed",
}

impl utoipa::PartialSchema for Action {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(Action::ALL.iter().map(|a| a.as_str())))
            .into()
    }
}

impl utoipa::ToSchema for Action {}

impl serde::Serialize for Action {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Action {
    type Err = crate::authz::UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Action::ALL
            .iter()
            .copied()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| crate::authz::UnknownName(s.to_string()))
    }
}

/// Who acted.
#[derive(Debug, Clone)]
pub enum Actor {
    Visitor,
    User {
        id: UserId,
        email: String,
    },
    /// A platform operator acting from the operator console.
    Operator {
        id: UserId,
        email: String,
    },
    /// A personal API key, acting for its user.
    ApiKey {
        key_id: i64,
        user_id: UserId,
        email: String,
    },
    System,
}

impl Actor {
    /// The account acting, when a person (directly, as an operator or through a key) acts.
    pub fn user_id(&self) -> Option<UserId> {
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
    pub organization: Option<(OrgId, &'a str)>,
    pub actor: &'a Actor,
    pub action: Action,
    pub target: Option<String>,
    pub details: serde_json::Value,
    pub status: Status,
    pub meta: &'a RequestMeta,
}

impl<'a> Event<'a> {
    /// A successful change by `actor`, outside any organization until [`Event::in_org`].
    pub fn successful(
        actor: &'a Actor,
        meta: &'a RequestMeta,
        action: Action,
        target: impl Into<String>,
        details: serde_json::Value,
    ) -> Event<'a> {
        Event {
            organization: None,
            actor,
            action,
            target: Some(target.into()),
            details,
            status: Status::Successful,
            meta,
        }
    }

    /// The same event, in this organization.
    pub fn in_org(self, id: OrgId, name: &'a str) -> Event<'a> {
        Event {
            organization: Some((id, name)),
            ..self
        }
    }
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
            audit_events::status.eq(event.status),
        ))
        .execute(conn)?;
    Ok(())
}

/// A refused change, described while its transaction is still open and recorded (with
/// [`record_denied`]) after that transaction has rolled back, so the refusal is kept even though
/// nothing else of the change is.
#[derive(Debug, Clone)]
pub struct Denied {
    pub organization: Option<(OrgId, String)>,
    pub action: Action,
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
