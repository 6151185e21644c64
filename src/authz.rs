//! Roles and the role → permission tables: the one source of truth that permission checks, the
//! Roles tab and role-change summaries all read.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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

macro_rules! string_enum {
    ($t:ty) => {
        impl FromStr for $t {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$t>::ALL
                    .into_iter()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| UnknownName(s.to_string()))
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
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

#[cfg(test)]
mod tests {
    use super::*;

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
