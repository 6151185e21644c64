//! The states organizations and invitations go through, stored by name in `TEXT … CHECK`
//! columns (see `db::types`).

use diesel::{AsExpression, FromSqlRow};

use crate::authz::string_enum;

/// An organization is a sandbox until a platform operator marks it live (DESIGN §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, AsExpression, FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum OrgStatus {
    Sandbox,
    Live,
}

impl OrgStatus {
    pub const ALL: [OrgStatus; 2] = [OrgStatus::Sandbox, OrgStatus::Live];

    pub fn as_str(self) -> &'static str {
        match self {
            OrgStatus::Sandbox => "sandbox",
            OrgStatus::Live => "live",
        }
    }
}

/// What became of an invitation, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, AsExpression, FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Declined,
    Revoked,
}

impl InvitationStatus {
    pub const ALL: [InvitationStatus; 4] = [
        InvitationStatus::Pending,
        InvitationStatus::Accepted,
        InvitationStatus::Declined,
        InvitationStatus::Revoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InvitationStatus::Pending => "pending",
            InvitationStatus::Accepted => "accepted",
            InvitationStatus::Declined => "declined",
            InvitationStatus::Revoked => "revoked",
        }
    }
}

/// The state a person sees: the stored status, except that a pending invitation past its
/// date is expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvitationState {
    Pending,
    Expired,
    Accepted,
    Declined,
    Revoked,
}

impl InvitationState {
    pub const ALL: [InvitationState; 5] = [
        InvitationState::Pending,
        InvitationState::Expired,
        InvitationState::Accepted,
        InvitationState::Declined,
        InvitationState::Revoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InvitationState::Pending => "pending",
            InvitationState::Expired => "expired",
            InvitationState::Accepted => "accepted",
            InvitationState::Declined => "declined",
            InvitationState::Revoked => "revoked",
        }
    }

    pub fn of(status: InvitationStatus, expired: bool) -> InvitationState {
        match status {
            InvitationStatus::Pending if expired => InvitationState::Expired,
            InvitationStatus::Pending => InvitationState::Pending,
            InvitationStatus::Accepted => InvitationState::Accepted,
            InvitationStatus::Declined => InvitationState::Declined,
            InvitationStatus::Revoked => InvitationState::Revoked,
        }
    }
}

string_enum!(OrgStatus);
string_enum!(InvitationStatus);
string_enum!(InvitationState);
