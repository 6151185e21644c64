//! Roles and the role → permission tables: the one source of truth that permission checks, the
//! Roles tab and role-change summaries all read.

use diesel::{AsExpression, FromSqlRow};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, AsExpression, FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum OrgRole {
    Member,
    Admin,
    Owner,
}

impl OrgRole {
    pub const ALL: [OrgRole; 3] = [OrgRole::Member, OrgRole::Admin, OrgRole::Owner];

    pub fn as_str(self) -> &'static str {
        match self {
            OrgRole::Member => "member",
            OrgRole::Admin => "admin",
            OrgRole::Owner => "owner",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, AsExpression, FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum EnvRole {
    Viewer,
    Support,
    Engineer,
}

impl EnvRole {
    pub const ALL: [EnvRole; 3] = [EnvRole::Viewer, EnvRole::Support, EnvRole::Engineer];

    pub fn as_str(self) -> &'static str {
        match self {
            EnvRole::Viewer => "viewer",
            EnvRole::Support => "support",
            EnvRole::Engineer => "engineer",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, AsExpression, FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum EnvKind {
    Development,
    Staging,
    Production,
}

impl EnvKind {
    /// The order in which environments are always shown.
    pub const ALL: [EnvKind; 3] = [EnvKind::Development, EnvKind::Staging, EnvKind::Production];

    pub fn as_str(self) -> &'static str {
        match self {
            EnvKind::Development => "development",
            EnvKind::Staging => "staging",
            EnvKind::Production => "production",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            EnvKind::Development => "Development",
            EnvKind::Staging => "Staging",
            EnvKind::Production => "Production",
        }
    }
}

/// `FromStr` and `Display` through the type's `ALL` and `as_str`, for the enums stored by name.
macro_rules! string_enum {
    ($t:ty) => {
        impl ::std::str::FromStr for $t {
            type Err = $crate::authz::UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$t>::ALL
                    .into_iter()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| $crate::authz::UnknownName(s.to_string()))
            }
        }
        impl ::serde::Serialize for $t {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl ::utoipa::PartialSchema for $t {
            fn schema() -> ::utoipa::openapi::RefOr<::utoipa::openapi::schema::Schema> {
                ::utoipa::openapi::ObjectBuilder::new()
                    .schema_type(::utoipa::openapi::schema::Type::String)
                    .enum_values(Some(<$t>::ALL.iter().map(|v| v.as_str())))
                    .into()
            }
        }
        impl ::utoipa::ToSchema for $t {}
        impl ::std::fmt::Display for $t {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use string_enum;

string_enum!(OrgRole);
string_enum!(EnvRole);
string_enum!(EnvKind);

#[derive(Debug, thiserror::Error)]
#[error("unknown name {0:?}")]
pub struct UnknownName(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrgPermission {
    ViewOrganization,
    ViewOrgRoles,
    ManageInvitations,
    RemoveUsers,
    ManageEnvironmentRoles,
    ManageOrgRoles,
    ManageProfile,
    ReviewAudit,
    DeleteOrganization,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EnvPermission {
    Enter,
    RevealSecrets,
    EditConfig,
    ManageApiKeys,
}

/// Organization roles → permissions (DESIGN §2).
pub const ORG_PERMISSIONS: &[(OrgPermission, &str, &[OrgRole])] = {
    use OrgRole::*;
    &[
        (
            OrgPermission::ViewOrganization,
            "See the organization, its environments list and one's own access",
            &[Member, Admin, Owner],
        ),
        (
            OrgPermission::ViewOrgRoles,
            "View organization roles (Access Control page)",
            &[Admin, Owner],
        ),
        (
            OrgPermission::ManageInvitations,
            "Manage user invitations (invite, resend, revoke)",
            &[Admin, Owner],
        ),
        (
            OrgPermission::RemoveUsers,
            "Remove users (admins cannot remove owners or admins)",
            &[Admin, Owner],
        ),
        (
            OrgPermission::ManageEnvironmentRoles,
            "View and manage environment roles",
            &[Admin, Owner],
        ),
        (
            OrgPermission::ManageOrgRoles,
            "Manage organization roles (grant/revoke owner and admin)",
            &[Owner],
        ),
        (
            OrgPermission::ManageProfile,
            "Manage organization profile (name) and sign-in policy",
            &[Owner],
        ),
        (OrgPermission::ReviewAudit, "Review audit events", &[Owner]),
        (
            OrgPermission::DeleteOrganization,
            "Delete the organization (only before go-live)",
            &[Owner],
        ),
    ]
};

/// Environment roles → permissions in that environment (DESIGN §2).
pub const ENV_PERMISSIONS: &[(EnvPermission, &str, &[EnvRole])] = {
    use EnvRole::*;
    &[
        (
            EnvPermission::Enter,
            "Enter the environment; see its assets (configuration values, API key list)",
            &[Viewer, Support, Engineer],
        ),
        (
            EnvPermission::RevealSecrets,
            "Reveal secret configuration values",
            &[Support, Engineer],
        ),
        (
            EnvPermission::EditConfig,
            "Create, edit, delete configuration values",
            &[Support, Engineer],
        ),
        (
            EnvPermission::ManageApiKeys,
            "Create and revoke environment API keys",
            &[Engineer],
        ),
    ]
};

pub fn org_can(role: OrgRole, permission: OrgPermission) -> bool {
    ORG_PERMISSIONS
        .iter()
        .any(|(p, _, roles)| *p == permission && roles.contains(&role))
}

pub fn env_can(role: Option<EnvRole>, permission: EnvPermission) -> bool {
    role.is_some_and(|role| {
        ENV_PERMISSIONS
            .iter()
            .any(|(p, _, roles)| *p == permission && roles.contains(&role))
    })
}

/// True when refusing this permission is a denied attempt at an owner/admin action, which the
/// audit log records.
pub fn is_privileged(permission: OrgPermission) -> bool {
    !org_can(OrgRole::Member, permission)
}

/// Everything a member may do with this organization role and these environment roles, as
/// the labels of the tables above ("Production: Reveal secret configuration values").
pub fn permissions_of(role: OrgRole, envs: &[(EnvKind, Option<EnvRole>)]) -> Vec<String> {
    let mut all: Vec<String> = ORG_PERMISSIONS
        .iter()
        .filter(|(_, _, roles)| roles.contains(&role))
        .map(|(_, label, _)| (*label).to_string())
        .collect();
    for (kind, env_role) in envs {
        for (_, label, roles) in ENV_PERMISSIONS {
            if env_role.is_some_and(|r| roles.contains(&r)) {
                all.push(format!("{}: {label}", kind.label()));
            }
        }
    }
    all
}

/// What a role change gives and takes away: (gained, lost).
pub fn permission_diff(before: &[String], after: &[String]) -> (Vec<String>, Vec<String>) {
    let gained = after
        .iter()
        .filter(|p| !before.contains(p))
        .cloned()
        .collect();
    let lost = before
        .iter()
        .filter(|p| !after.contains(p))
        .cloned()
        .collect();
    (gained, lost)
}

/// Whether someone with role `actor` may act on (remove, or change the roles of) a member with
/// role `target`: owners act on anyone, admins on members only, members on nobody (DESIGN §2).
pub fn can_act_on(actor: OrgRole, target: OrgRole) -> bool {
    match actor {
        OrgRole::Owner => true,
        OrgRole::Admin => target == OrgRole::Member,
        OrgRole::Member => false,
    }
}

/// Whether `actor` may give someone the organization role `role`: nobody is raised above the
/// role of the person granting.
pub fn may_assign(actor: OrgRole, role: OrgRole) -> bool {
    role <= actor
}

/// Whether `actor` may invite someone as `invited`: admins and owners invite members, only
/// owners invite admins, and nobody is invited as an owner.
pub fn may_invite_as(actor: OrgRole, invited: OrgRole) -> bool {
    match invited {
        OrgRole::Member => org_can(actor, OrgPermission::ManageInvitations),
        OrgRole::Admin => org_can(actor, OrgPermission::ManageOrgRoles),
        OrgRole::Owner => false,
    }
}

/// Whether `actor` may remove a member whose role is `target` (removing oneself is leaving,
/// checked by the caller, which knows the ids).
pub fn may_remove(actor: OrgRole, target: OrgRole) -> bool {
    org_can(actor, OrgPermission::RemoveUsers) && can_act_on(actor, target)
}

/// Whether changing a member from `before` to `after` (`None`: removed) takes away the
/// organization's last owner.
pub fn takes_last_owner(before: OrgRole, after: Option<OrgRole>, owners: i64) -> bool {
    before == OrgRole::Owner && after != Some(OrgRole::Owner) && owners <= 1
}

/// Whether an environment role change needs the granter's freshly re-entered password: granting
/// or raising a production role does; lowering or removing one does not.
pub fn needs_fresh_password(
    kind: EnvKind,
    before: Option<EnvRole>,
    after: Option<EnvRole>,
) -> bool {
    kind == EnvKind::Production
        && match (before, after) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(old), Some(new)) => new > old,
        }
}

/// Why a role change is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleRefusal {
    NotMember,
    OnlyOwnersChangeOrgRoles,
    AdminsCannotChangeOwnersOrAdmins,
    AboveYourRole,
    LastOwner,
    /// The change grants or raises a production role (judged against the roles read under the
    /// lock) and the granter's password was not re-entered for it.
    FreshPasswordNeeded,
}

impl RoleRefusal {
    pub fn message(self) -> &'static str {
        match self {
            RoleRefusal::NotMember => "This person is not a member of the organization.",
            RoleRefusal::OnlyOwnersChangeOrgRoles => "Only owners can change organization roles.",
            RoleRefusal::AdminsCannotChangeOwnersOrAdmins => {
                "Admins cannot change the roles of owners or admins."
            }
            RoleRefusal::AboveYourRole => {
                "You cannot give anyone a higher organization role than your own."
            }
            RoleRefusal::LastOwner => {
                "This is the last owner, who cannot be demoted. Make another member an owner first."
            }
            RoleRefusal::FreshPasswordNeeded => {
                "Re-enter your password to grant or raise a production role."
            }
        }
    }
}

/// The rules of a role change, given the granter's role, the target's current and wanted
/// organization roles, and the number of owners (DESIGN §2, §4).
pub fn check_role_change(
    granter: OrgRole,
    target: OrgRole,
    wanted: OrgRole,
    owners: i64,
) -> Result<(), RoleRefusal> {
    if !can_act_on(granter, target) {
        return Err(RoleRefusal::AdminsCannotChangeOwnersOrAdmins);
    }
    if wanted != target && !org_can(granter, OrgPermission::ManageOrgRoles) {
        return Err(RoleRefusal::OnlyOwnersChangeOrgRoles);
    }
    if !may_assign(granter, wanted) {
        return Err(RoleRefusal::AboveYourRole);
    }
    if takes_last_owner(target, Some(wanted), owners) {
        return Err(RoleRefusal::LastOwner);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use OrgRole::{Admin, Member, Owner};

    #[test]
    fn who_may_act_on_whom_as_a_complete_table() {
        // Rows: actor; columns: target member, admin, owner.
        let table = [
            (Member, [false, false, false]),
            (Admin, [true, false, false]),
            (Owner, [true, true, true]),
        ];
        for (actor, row) in table {
            for (target, expected) in OrgRole::ALL.into_iter().zip(row) {
                assert_eq!(can_act_on(actor, target), expected, "{actor} on {target}");
                let removable = expected && actor != Member;
                assert_eq!(
                    may_remove(actor, target),
                    removable,
                    "{actor} removes {target}"
                );
            }
        }
    }

    #[test]
    fn which_roles_an_actor_may_assign_and_invite_as() {
        // Columns: member, admin, owner.
        let assign = [
            (Member, [true, false, false]),
            (Admin, [true, true, false]),
            (Owner, [true, true, true]),
        ];
        let invite = [
            (Member, [false, false, false]),
            (Admin, [true, false, false]),
            (Owner, [true, true, false]),
        ];
        for ((actor, assign_row), (_, invite_row)) in assign.into_iter().zip(invite) {
            for (i, role) in OrgRole::ALL.into_iter().enumerate() {
                assert_eq!(
                    may_assign(actor, role),
                    assign_row[i],
                    "{actor} assigns {role}"
                );
                assert_eq!(
                    may_invite_as(actor, role),
                    invite_row[i],
                    "{actor} invites {role}"
                );
            }
        }
    }

    #[test]
    fn every_role_change_as_a_complete_table() {
        use RoleRefusal::*;
        // (granter, target, wanted) → outcome with two owners; the last-owner rule separately.
        let ok = Ok(());
        let cases = [
            (
                Member,
                Member,
                Member,
                Err(AdminsCannotChangeOwnersOrAdmins),
            ),
            (Member, Member, Admin, Err(AdminsCannotChangeOwnersOrAdmins)),
            (Member, Member, Owner, Err(AdminsCannotChangeOwnersOrAdmins)),
            (Member, Admin, Member, Err(AdminsCannotChangeOwnersOrAdmins)),
            (Member, Admin, Admin, Err(AdminsCannotChangeOwnersOrAdmins)),
            (Member, Admin, Owner, Err(AdminsCannotChangeOwnersOrAdmins)),
            (Member, Owner, Member, Err(AdminsCannotChangeOwnersOrAdmins)),
            (Member, Owner, Admin, Err(AdminsCannotChangeOwnersOrAdmins)),
            (Member, Owner, Owner, Err(AdminsCannotChangeOwnersOrAdmins)),
            (Admin, Member, Member, ok),
            (Admin, Member, Admin, Err(OnlyOwnersChangeOrgRoles)),
            (Admin, Member, Owner, Err(OnlyOwnersChangeOrgRoles)),
            (Admin, Admin, Member, Err(AdminsCannotChangeOwnersOrAdmins)),
            (Admin, Admin, Admin, Err(AdminsCannotChangeOwnersOrAdmins)),
            (Admin, Admin, Owner, Err(AdminsCannotChangeOwnersOrAdmins)),
            (Admin, Owner, Member, Err(AdminsCannotChangeOwnersOrAdmins)),
            (Admin, Owner, Admin, Err(AdminsCannotChangeOwnersOrAdmins)),
            (Admin, Owner, Owner, Err(AdminsCannotChangeOwnersOrAdmins)),
            (Owner, Member, Member, ok),
            (Owner, Member, Admin, ok),
            (Owner, Member, Owner, ok),
            (Owner, Admin, Member, ok),
            (Owner, Admin, Admin, ok),
            (Owner, Admin, Owner, ok),
            (Owner, Owner, Member, ok),
            (Owner, Owner, Admin, ok),
            (Owner, Owner, Owner, ok),
        ];
        assert_eq!(cases.len(), 27);
        for (granter, target, wanted, expected) in cases {
            assert_eq!(
                check_role_change(granter, target, wanted, 2),
                expected,
                "{granter} changes {target} to {wanted}"
            );
        }
        for wanted in [Member, Admin] {
            assert_eq!(check_role_change(Owner, Owner, wanted, 1), Err(LastOwner));
        }
        assert_eq!(check_role_change(Owner, Owner, Owner, 1), Ok(()));
    }

    #[test]
    fn the_last_owner_rule_as_a_complete_table() {
        for before in OrgRole::ALL {
            for after in [None, Some(Member), Some(Admin), Some(Owner)] {
                for owners in [1, 2] {
                    let expected = before == Owner && after != Some(Owner) && owners == 1;
                    assert_eq!(takes_last_owner(before, after, owners), expected);
                }
            }
        }
    }

    #[test]
    fn only_granting_or_raising_production_needs_a_fresh_password() {
        let roles = [
            None,
            Some(EnvRole::Viewer),
            Some(EnvRole::Support),
            Some(EnvRole::Engineer),
        ];
        for kind in EnvKind::ALL {
            for (i, before) in roles.into_iter().enumerate() {
                for (j, after) in roles.into_iter().enumerate() {
                    let expected = kind == EnvKind::Production && after.is_some() && j > i;
                    assert_eq!(
                        needs_fresh_password(kind, before, after),
                        expected,
                        "{kind}: {before:?} → {after:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_permission_has_exactly_one_row() {
        use OrgPermission::*;
        for p in [
            ViewOrganization,
            ViewOrgRoles,
            ManageInvitations,
            RemoveUsers,
            ManageEnvironmentRoles,
            ManageOrgRoles,
            ManageProfile,
            ReviewAudit,
            DeleteOrganization,
        ] {
            assert_eq!(
                ORG_PERMISSIONS.iter().filter(|row| row.0 == p).count(),
                1,
                "{p:?}"
            );
        }
    }

    #[test]
    fn members_only_see_the_organization() {
        assert!(org_can(OrgRole::Member, OrgPermission::ViewOrganization));
        assert!(!org_can(OrgRole::Member, OrgPermission::ViewOrgRoles));
        assert!(org_can(OrgRole::Admin, OrgPermission::ManageInvitations));
        assert!(!org_can(OrgRole::Admin, OrgPermission::ManageProfile));
        assert!(org_can(OrgRole::Owner, OrgPermission::DeleteOrganization));
    }

    #[test]
    fn no_environment_role_means_no_access() {
        assert!(!env_can(None, EnvPermission::Enter));
        assert!(env_can(Some(EnvRole::Viewer), EnvPermission::Enter));
        assert!(!env_can(
            Some(EnvRole::Viewer),
            EnvPermission::RevealSecrets
        ));
        assert!(!env_can(
            Some(EnvRole::Support),
            EnvPermission::ManageApiKeys
        ));
        assert!(env_can(
            Some(EnvRole::Engineer),
            EnvPermission::ManageApiKeys
        ));
    }

    #[test]
    fn the_diff_lists_what_a_change_gives_and_takes() {
        let before = permissions_of(
            OrgRole::Member,
            &[(EnvKind::Staging, Some(EnvRole::Viewer))],
        );
        let after = permissions_of(
            OrgRole::Admin,
            &[
                (EnvKind::Staging, Some(EnvRole::Support)),
                (EnvKind::Production, None),
            ],
        );
        let (gained, lost) = permission_diff(&before, &after);
        assert!(gained.contains(&"Staging: Reveal secret configuration values".to_string()));
        assert!(gained.contains(&"Manage user invitations (invite, resend, revoke)".to_string()));
        assert!(lost.is_empty());
        let (gained, lost) = permission_diff(&after, &before);
        assert_eq!(gained.len(), 0);
        assert_eq!(lost.len(), 6);
    }

    #[test]
    fn role_names_round_trip() {
        for r in OrgRole::ALL {
            assert_eq!(r.as_str().parse::<OrgRole>().ok(), Some(r));
        }
        assert!("superuser".parse::<OrgRole>().is_err());
    }
}
