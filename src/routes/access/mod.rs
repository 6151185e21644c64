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

/// A member's page: the access check for `permission`, the member `member_id` of the
/// organization `slug` (404 when they are not one), and the frame titled by `title`.
pub async fn member_page(
    page_request: crate::routes::page::PageRequest,
    slug: &str,
    member_id: UserId,
    permission: OrgPermission,
    title: impl FnOnce(&crate::db::members::Member, &Access) -> String,
) -> Result<
    (
        crate::routes::page::Page,
        Access,
        crate::db::members::Member,
        crate::routes::layout::Layout,
    ),
    crate::error::AppError,
> {
    let (cx, access, member, mut layout) = page_request
        .org_page(
            slug,
            permission,
            move |c, access| crate::db::members::find(c, access.org.id, member_id),
            |access| access.org.name.clone(),
        )
        .await?;
    let member = member.ok_or(crate::error::AppError::NotFound)?;
    layout.title = title(&member, &access);
    Ok((cx, access, member, layout))
}

/// The signed-in user's id (the caller has already passed `require_org`).
pub fn user_id(auth: &Auth) -> UserId {
    auth.user.as_ref().map(|u| u.id).unwrap_or_default()
}
