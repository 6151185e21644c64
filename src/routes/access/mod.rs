//! The Access Control page for owners and admins: Users (Active users, Invited users) and Roles.

pub mod environments;
pub mod invitations;
pub mod roles;
pub mod roles_edit;
pub mod users;

use crate::auth::Auth;
use crate::authz::{self, OrgPermission};
use crate::db::orgs::Access;
use crate::domain::ids::UserId;

/// What the tab bar needs to know.
pub struct Tabs {
    pub slug: String,
    pub current: &'static str,
    pub can_invite: bool,
}

impl Tabs {
    pub fn new(access: &Access, current: &'static str) -> Tabs {
        Tabs {
            slug: access.org.slug.clone(),
            current,
            can_invite: authz::org_can(access.role, OrgPermission::ManageInvitations),
        }
    }
}

/// The signed-in user's id (the caller has already passed `require_org`).
pub fn user_id(auth: &Auth) -> UserId {
    auth.user.as_ref().map(|u| u.id).unwrap_or_default()
}
