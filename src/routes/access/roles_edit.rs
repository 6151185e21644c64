//! Edit roles: a member's organization role (owners only) and one control per environment.
//! Changes are previewed first — how many permissions the person gains and loses, and which —
//! then saved or cancelled; this works without JavaScript. Granting or raising a production
//! role needs the granter's password, re-entered in the last SUDO_MINUTES.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::Tabs;
use crate::audit::Denied;
use crate::auth::Auth;
use crate::auth::csrf::CsrfForm;
use crate::auth::session::FlashKind;
use crate::authz::{self, EnvKind, EnvRole, OrgPermission, OrgRole};
use crate::config::Settings;
use crate::db::members::Member;
use crate::db::orgs::Access;
use crate::db::roles::{self, Desired};
use crate::db::{self, PgPool};
use crate::error::AppError;
use crate::ops::{self, roles::ChangeOutcome};
use crate::routes::layout::{FieldErrors, Layout};
use crate::routes::{render, require_org, see_other};

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct RolesForm {
    pub role: String,
    pub development: String,
    pub staging: String,
    pub production: String,
    pub password: String,
    pub confirm: String,
}

#[derive(Template)]
#[template(path = "access/edit_roles.html")]
struct EditRolesPage {
    layout: Layout,
    tabs: Tabs,
    org_name: String,
    member: Member,
    desired: Desired,
    can_change_org_role: bool,
    org_roles: Vec<OrgRole>,
    env_roles: [EnvRole; 3],
    preview: bool,
    gained: Vec<String>,
    lost: Vec<String>,
    needs_password: bool,
    problem: Option<String>,
    errors: FieldErrors,
}

impl EditRolesPage {
    fn chosen(&self, kind: &EnvKind) -> &str {
        self.desired.env(*kind).map(EnvRole::as_str).unwrap_or("")
    }
}

async fn load_member(pool: &PgPool, access: &Access, member_id: i64) -> Result<Member, AppError> {
    let org_id = access.org.id;
    db::run(pool, move |c| db::members::find(c, org_id, member_id))
        .await?
        .ok_or(AppError::NotFound)
}

/// The organization roles this granter may choose from (never above their own).
fn choosable(granter: OrgRole) -> Vec<OrgRole> {
    OrgRole::ALL
        .into_iter()
        .filter(|r| authz::may_assign(granter, *r))
        .collect()
}

pub async fn get(
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    auth: Auth,
    path: web::Path<(String, i64)>,
) -> Result<HttpResponse, AppError> {
    let (slug, member_id) = path.into_inner();
    let (_, access) =
        require_org(&pool, &auth, &slug, OrgPermission::ManageEnvironmentRoles).await?;
    let member = load_member(&pool, &access, member_id).await?;
    let desired = Desired::of(&member);
    page(
        &pool,
        &settings,
        &auth,
        &access,
        StatusCode::OK,
        member,
        desired,
        false,
        None,
        FieldErrors::default(),
    )
    .await
}

#[expect(
    clippy::too_many_arguments,
    reason = "one place renders the form and its preview"
)]
async fn page(
    pool: &PgPool,
    settings: &Settings,
    auth: &Auth,
    access: &Access,
    status: StatusCode,
    member: Member,
    desired: Desired,
    preview: bool,
    problem: Option<String>,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let before = Desired::of(&member);
    let (gained, lost) = authz::permission_diff(
        &authz::permissions_of(before.org_role, &before.envs),
        &authz::permissions_of(desired.org_role, &desired.envs),
    );
    let needs_password = roles::raises_production(&before, &desired)
        && !auth.session.sudo_fresh(settings.sudo_minutes);
    let layout = Layout::load(
        pool,
        settings,
        auth,
        format!("Edit roles · {}", member.name),
    )
    .await?;
    render(
        status,
        &EditRolesPage {
            layout,
            tabs: Tabs::new(access, "users"),
            org_name: access.org.name.clone(),
            can_change_org_role: authz::org_can(access.role, OrgPermission::ManageOrgRoles),
            org_roles: choosable(access.role),
            env_roles: EnvRole::ALL,
            member,
            desired,
            preview,
            gained,
            lost,
            needs_password,
            problem,
            errors,
        },
    )
}

/// Reads the wanted roles from the form; fields the granter may not change keep their value.
pub fn desired_from(
    form_role: &str,
    envs: [(EnvKind, &str); 3],
    current: &Member,
    may_change_org_role: bool,
    errors: &mut FieldErrors,
) -> Desired {
    let org_role = if may_change_org_role {
        form_role.parse().unwrap_or_else(|_| {
            errors.add("role", "Choose owner, admin or member.");
            current.role
        })
    } else {
        current.role
    };
    let envs = envs
        .into_iter()
        .map(|(kind, value)| {
            let role = match value {
                "" => None,
                v => v.parse::<EnvRole>().map(Some).unwrap_or_else(|_| {
                    errors.add(
                        kind.as_str(),
                        "Choose no access, viewer, support or engineer.",
                    );
                    current
                        .environments
                        .iter()
                        .find(|(k, _)| *k == kind)
                        .and_then(|(_, r)| *r)
                }),
            };
            (kind, role)
        })
        .collect();
    Desired { org_role, envs }
}

pub async fn post(
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    auth: Auth,
    path: web::Path<(String, i64)>,
    CsrfForm(form): CsrfForm<RolesForm>,
) -> Result<HttpResponse, AppError> {
    let (slug, member_id) = path.into_inner();
    let (granter, access) =
        require_org(&pool, &auth, &slug, OrgPermission::ManageEnvironmentRoles).await?;
    let member = load_member(&pool, &access, member_id).await?;
    let mut errors = FieldErrors::default();
    let may_change_org_role = authz::org_can(access.role, OrgPermission::ManageOrgRoles);
    let envs = [
        (EnvKind::Development, form.development.as_str()),
        (EnvKind::Staging, form.staging.as_str()),
        (EnvKind::Production, form.production.as_str()),
    ];
    let desired = desired_from(&form.role, envs, &member, may_change_org_role, &mut errors);
    if !errors.is_empty() {
        return page(
            &pool,
            &settings,
            &auth,
            &access,
            StatusCode::UNPROCESSABLE_ENTITY,
            member,
            desired,
            false,
            None,
            errors,
        )
        .await;
    }
    let before = Desired::of(&member);
    if desired == before {
        return page(
            &pool,
            &settings,
            &auth,
            &access,
            StatusCode::UNPROCESSABLE_ENTITY,
            member,
            desired,
            false,
            Some("Nothing changed: choose different roles, or go back.".into()),
            errors,
        )
        .await;
    }
    // The rules are checked again under lock when saving (with the real number of owners);
    // checking now spares a preview of a change that cannot be made.
    if let Err(refusal) = roles::check(access.role, &member, &desired, i64::MAX) {
        let denied = Denied {
            organization: Some((access.org.id, access.org.name.clone())),
            action: "member.role_changed",
            target: Some(member.email.clone()),
            details: serde_json::json!({ "reason": format!("{refusal:?}") }),
        };
        ops::access::deny(&pool, &auth.ctx(), denied).await?;
        return page(
            &pool,
            &settings,
            &auth,
            &access,
            StatusCode::FORBIDDEN,
            member,
            desired,
            false,
            Some(refusal.message().into()),
            errors,
        )
        .await;
    }
    if form.confirm != "yes" {
        return page(
            &pool,
            &settings,
            &auth,
            &access,
            StatusCode::OK,
            member,
            desired,
            true,
            None,
            errors,
        )
        .await;
    }
    if roles::raises_production(&before, &desired) {
        let answer = ops::reauth::confirm_password(
            &pool,
            &settings,
            &auth.ctx(),
            &granter,
            Some(&form.password),
            Some(&auth.session),
        )
        .await?;
        if !answer.is_ok() {
            errors.add("password", answer.problem());
            return page(
                &pool,
                &settings,
                &auth,
                &access,
                StatusCode::UNPROCESSABLE_ENTITY,
                member,
                desired,
                true,
                None,
                errors,
            )
            .await;
        }
    }
    let outcome =
        ops::roles::change(&pool, &auth.ctx(), &access.org, member_id, desired.clone()).await?;
    match outcome {
        ChangeOutcome::Changed(changes) => {
            auth.session.flash(
                FlashKind::Success,
                format!(
                    "Roles of {} saved ({changes} change{}). They apply from the next request.",
                    member.name,
                    if changes == 1 { "" } else { "s" }
                ),
            );
            Ok(see_other(&format!("/orgs/{slug}/access/users/{member_id}")))
        }
        ChangeOutcome::Refused(refusal) => {
            let member = load_member(&pool, &access, member_id).await?;
            page(
                &pool,
                &settings,
                &auth,
                &access,
                StatusCode::UNPROCESSABLE_ENTITY,
                member,
                desired,
                false,
                Some(refusal.message().into()),
                errors,
            )
            .await
        }
    }
}
