//! Reads of the append-only audit log (writes go through `crate::audit::record`).

use crate::domain::ids::{OrgId, UserId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::audit_events;
use crate::audit::{Action, Status};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_events)]
pub struct AuditEvent {
    pub id: i64,
    pub organization_id: Option<i64>,
    pub organization_name: Option<String>,
    pub actor_kind: String,
    pub actor_user_id: Option<i64>,
    pub actor_label: String,
    pub action: Action,
    pub target: Option<String>,
    pub details: serde_json::Value,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub status: Status,
    pub created_at: DateTime<Utc>,
}

pub fn by_actor(
    conn: &mut PgConnection,
    user_id: UserId,
    limit: i64,
) -> QueryResult<Vec<AuditEvent>> {
    audit_events::table
        .filter(audit_events::actor_user_id.eq(user_id))
        .order((audit_events::created_at.desc(), audit_events::id.desc()))
        .limit(limit)
        .select(AuditEvent::as_select())
        .load(conn)
}

/// What the account's security log shows of the account's own events.
const SECURITY_ACTIONS: &[Action] = &[
    Action::UserSignedIn,
    Action::UserSignedOut,
    Action::UserPasswordChanged,
    Action::UserPasswordReset,
    Action::UserPasswordResetRequested,
    Action::UserPasswordReentryFailed,
    Action::UserTwoFactorEnabled,
    Action::UserTwoFactorDisabled,
    Action::UserTwoFactorFailed,
    Action::UserRecoveryCodeUsed,
    Action::UserRecoveryCodesRegenerated,
    Action::UserNameChanged,
    Action::UserEmailChangeRequested,
    Action::UserEmailChanged,
    Action::UserEmailVerified,
    Action::ApiKeyCreated,
    Action::ApiKeyRevoked,
    Action::SessionRevoked,
    Action::UserPasskeyAdded,
    Action::UserPasskeyRenamed,
    Action::UserPasskeyRemoved,
];

/// A page of the account's security log, newest first, and how many events it has in all: its
/// own sign-ins, two-factor, password, email and key events, and failed sign-ins naming its
/// address.
pub fn security_log(
    conn: &mut PgConnection,
    user_id: UserId,
    email: &str,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<AuditEvent>, i64)> {
    let actions: Vec<String> = SECURITY_ACTIONS
        .iter()
        .map(|a| a.as_str().to_string())
        .collect();
    let mine = || {
        audit_events::table
            .filter(
                audit_events::actor_user_id
                    .eq(user_id)
                    .and(audit_events::organization_id.is_null())
                    .and(audit_events::action.eq_any(actions.clone()))
                    .or(audit_events::action
                        .eq(Action::UserSignInFailed.as_str())
                        .and(audit_events::target.eq(email))),
            )
            .into_boxed()
    };
    let total = mine().count().get_result(conn)?;
    let events = mine()
        .order((audit_events::created_at.desc(), audit_events::id.desc()))
        .offset(offset)
        .limit(limit)
        .select(AuditEvent::as_select())
        .load(conn)?;
    Ok((events, total))
}

/// What the audit page and its CSV export are narrowed to.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub organization_id: OrgId,
    /// The actor's email (as recorded).
    pub actor: Option<String>,
    pub action: Option<String>,
    pub from: Option<DateTime<Utc>>,
    /// Exclusive.
    pub until: Option<DateTime<Utc>>,
    pub status: Option<Status>,
    /// The acting user's id (the API's `userId`).
    pub actor_user_id: Option<i64>,
    /// Any of these actions (the API's `actionType[]`).
    pub actions: Vec<String>,
}

fn filtered(filter: &Filter) -> audit_events::BoxedQuery<'static, diesel::pg::Pg> {
    let mut q = audit_events::table
        .filter(audit_events::organization_id.eq(filter.organization_id))
        .into_boxed();
    if let Some(actor) = &filter.actor {
        q = q.filter(audit_events::actor_label.eq(actor.trim().to_lowercase()));
    }
    if let Some(action) = &filter.action {
        q = q.filter(audit_events::action.eq(action.clone()));
    }
    if let Some(from) = filter.from {
        q = q.filter(audit_events::created_at.ge(from));
    }
    if let Some(until) = filter.until {
        q = q.filter(audit_events::created_at.lt(until));
    }
    if let Some(status) = &filter.status {
        q = q.filter(audit_events::status.eq(*status));
    }
    if let Some(user) = filter.actor_user_id {
        q = q.filter(audit_events::actor_user_id.eq(user));
    }
    if !filter.actions.is_empty() {
        q = q.filter(audit_events::action.eq_any(filter.actions.clone()));
    }
    q
}

/// A page of events, newest first, and how many match.
pub fn page(
    conn: &mut PgConnection,
    filter: &Filter,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<AuditEvent>, i64)> {
    let events = filtered(filter)
        .order((audit_events::created_at.desc(), audit_events::id.desc()))
        .offset(offset)
        .limit(limit)
        .select(AuditEvent::as_select())
        .load(conn)?;
    let total = filtered(filter).count().get_result(conn)?;
    Ok((events, total))
}

/// The next batch of events after `after_id`, oldest first (the CSV export walks them so).
pub fn batch_after(
    conn: &mut PgConnection,
    filter: &Filter,
    after_id: i64,
    limit: i64,
) -> QueryResult<Vec<AuditEvent>> {
    filtered(filter)
        .filter(audit_events::id.gt(after_id))
        .order(audit_events::id.asc())
        .limit(limit)
        .select(AuditEvent::as_select())
        .load(conn)
}

/// One CSV field, quoted when needed, and defused when a spreadsheet would read it as a formula.
pub fn csv_field(value: &str) -> String {
    // Spreadsheets skip leading spaces before reading a formula.
    let value = if value
        .trim_start_matches([' ', '\u{a0}'])
        .starts_with(['=', '+', '-', '@', '\t', '\r'])
    {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

pub const CSV_HEADER: &str = "id,time,organization_id,organization,actor_kind,actor,action,target,status,ip,user_agent,details\r\n";

pub fn csv_row(e: &AuditEvent) -> String {
    let fields = [
        e.id.to_string(),
        e.created_at.to_rfc3339(),
        e.organization_id.map(|i| i.to_string()).unwrap_or_default(),
        e.organization_name.clone().unwrap_or_default(),
        e.actor_kind.clone(),
        e.actor_label.clone(),
        e.action.to_string(),
        e.target.clone().unwrap_or_default(),
        e.status.to_string(),
        e.ip.clone().unwrap_or_default(),
        e.user_agent.clone().unwrap_or_default(),
        e.details.to_string(),
    ];
    let mut row = fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",");
    row.push_str("\r\n");
    row
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("line\nbreak"), "\"line\nbreak\"");
        assert_eq!(csv_field("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(csv_field("-1,2"), "\"'-1,2\"");
        assert_eq!(csv_field("  =HYPERLINK(1)"), "'  =HYPERLINK(1)");
    }
}
