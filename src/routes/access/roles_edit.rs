//! Edit roles: a member's organization role (owners only) and one control per environment.
//! Changes are previewed first — how many permissions the person gains and loses, and which —
//! then saved or cancelled; this works without JavaScript. Granting or raising a production
//! role needs the granter's password, re-entered in the last SUDO_MINUTES.

use crate::audit::Action;
use crate::domain::ids::UserId;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::Tabs;
use crate::audit::Denied;
use crate::auth::csrf::CsrfForm;
use crate::auth::session::FlashKind;
use crate::authz::{self, EnvKind, EnvRole, OrgPermission, OrgRole};
use crate::db::members::Member;
use crate::db::orgs::Access;
use crate::db::roles::{self, Desired};
use crate::db::{self, PgPool};
use crate::error::AppError;
use crate::ops::{self, roles::ChangeOutcome};
use crate::routes::layout::{FieldErrors, Layout};
use crate::routes::page::{Page, PageRequest};
use crate::routes::{reconfirm_password, render, see_other};

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

async fn load_member(
    pool: &PgPool,
    access: &Access,
    member_id: UserId,
) -> Result<Member, AppError> {
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

/// What the form shows: the member, the roles wanted, whether this is the preview, and what
/// went wrong.
struct Shown {
    member: Member,
    desired: Desired,
    preview: bool,
    problem: Option<String>,
    errors: FieldErrors,
}

impl Shown {
    fn new(member: Member, desired: Desired, errors: FieldErrors) -> Shown {
        Shown {
            member,
            desired,
            preview: false,
            problem: None,
            errors,
        }
    }
}

pub async fn get(
    page_request: PageRequest,
    path: web::Path<(String, UserId)>,
) -> Result<HttpResponse, AppError> {
    let (slug, member_id) = path.into_inner();
    let (cx, access, member, layout) = super::member_page(
        page_request,
        &slug,
        member_id,
        OrgPermission::ManageEnvironmentRoles,
        |member, _| title(member),
    )
    .await?;
    let desired = Desired::of(&member);
    let shown = Shown::new(member, desired, FieldErrors::default());
    show(&cx, &access, StatusCode::OK, shown, layout)
}

fn title(member: &Member) -> String {
    format!("Edit roles · {}", member.name)
}

async fn page(
    cx: &Page,
    access: &Access,
    status: StatusCode,
    shown: Shown,
) -> Result<HttpResponse, AppError> {
    let layout = cx.layout(title(&shown.member)).await?;
    show(cx, access, status, shown, layout)
}

fn show(
    cx: &Page,
    access: &Access,
    status: StatusCode,
    shown: Shown,
    layout: Layout,
) -> Result<HttpResponse, AppError> {
    let Shown {
        member,
        desired,
        preview,
        problem,
        errors,
    } = shown;
    let before = Desired::of(&member);
    let (gained, lost) = authz::permission_diff(
        &authz::permissions_of(before.org_role, &before.envs),
        &authz::permissions_of(desired.org_role, &desired.envs),
    );
    let needs_password = roles::raises_production(&before, &desired)
        && !cx.auth.session.sudo_fresh(cx.settings.sudo_minutes);
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
    cx: Page,
    path: web::Path<(String, UserId)>,
    CsrfForm(form): CsrfForm<RolesForm>,
) -> Result<HttpResponse, AppError> {
    let (slug, member_id) = path.into_inner();
    let (_, access) = cx
        .require_org(&slug, OrgPermission::ManageEnvironmentRoles)
        .await?;
    let member = load_member(&cx.pool, &access, member_id).await?;
    let mut errors = FieldErrors::default();
    let may_change_org_role = authz::org_can(access.role, OrgPermission::ManageOrgRoles);
    let envs = [
        (EnvKind::Development, form.development.as_str()),
        (EnvKind::Staging, form.staging.as_str()),
        (EnvKind::Production, form.production.as_str()),
    ];
    let desired = desired_from(&form.role, envs, &member, may_change_org_role, &mut errors);
    let mut shown = Shown::new(member, desired, errors);
    if let Some(status) = check_form(&cx, &access, &form, &mut shown).await? {
        return page(&cx, &access, status, shown).await;
    }
    save(&cx, &access, &slug, shown).await
}

/// The status to show the form again with (errors, nothing changed, a refused change, the
/// preview, a missing password), or `None` when the change is to be saved.
async fn check_form(
    cx: &Page,
    access: &Access,
    form: &RolesForm,
    shown: &mut Shown,
) -> Result<Option<StatusCode>, AppError> {
    if !shown.errors.is_empty() {
        return Ok(Some(StatusCode::UNPROCESSABLE_ENTITY));
    }
    let before = Desired::of(&shown.member);
    if shown.desired == before {
        shown.problem = Some("Nothing changed: choose different roles, or go back.".into());
        return Ok(Some(StatusCode::UNPROCESSABLE_ENTITY));
    }
    // The rules are checked again under lock when saving (with the real number of owners);
    // checking now spares a preview of a change that cannot be made.
    if let Err(refusal) = roles::check(access.role, &shown.member, &shown.desired, i64::MAX) {
        let denied = Denied {
            organization: Some((access.org.id, access.org.name.clone())),
            action: Action::MemberRoleChanged,
            target: Some(shown.member.email.clone()),
            details: serde_json::json!({ "reason": format!("{refusal:?}") }),
        };
        ops::access::deny(&cx.pool, &cx.auth.ctx(), denied).await?;
        shown.problem = Some(refusal.message().into());
        return Ok(Some(StatusCode::FORBIDDEN));
    }
    shown.preview = true;
    if form.confirm != "yes" {
        return Ok(Some(StatusCode::OK));
    }
    if roles::raises_production(&before, &shown.desired) {
        let answer = reconfirm_password(cx, &form.password).await?;
        if !answer.is_ok() {
            shown.errors.add("password", answer.problem());
            return Ok(Some(StatusCode::UNPROCESSABLE_ENTITY));
        }
    }
    Ok(None)
}

async fn save(
    cx: &Page,
    access: &Access,
    slug: &str,
    shown: Shown,
) -> Result<HttpResponse, AppError> {
    let member_id = shown.member.user_id;
    let ctx = cx.auth.ctx();
    // Re-entered just now (or within SUDO_MINUTES) when the change raises production.
    let confirmed = cx.auth.session.sudo_fresh(cx.settings.sudo_minutes);
    let desired = shown.desired.clone();
    let outcome =
        ops::roles::change(&cx.pool, &ctx, &access.org, member_id, desired, confirmed).await?;
    match outcome {
        ChangeOutcome::Changed(changes) => {
            cx.auth.session.flash(
                FlashKind::Success,
                format!(
                    "Roles of {} saved ({changes} change{}). They apply from the next request.",
                    shown.member.name,
                    if changes == 1 { "" } else { "s" }
                ),
            );
            Ok(see_other(&format!("/orgs/{slug}/access/users/{member_id}")))
        }
        ChangeOutcome::Refused(refusal) => {
            let member = load_member(&cx.pool, access, member_id).await?;
            let mut again = Shown::new(member, shown.desired, shown.errors);
            again.problem = Some(refusal.message().into());
            page(cx, access, StatusCode::UNPROCESSABLE_ENTITY, again).await
        }
    }
}
