//! Invited users: the invite form (one to 50 addresses, a role, environment roles granted on
//! acceptance), the list with state and delivery, resend and revoke.

use crate::domain::ids::InvitationId;
use crate::routes::page::{Page, PageRequest};
use crate::routes::pagination::{PAGE_SIZE, Pagination};
use crate::routes::time::Shown as _;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::Tabs;
use crate::auth::Auth;
use crate::auth::csrf::CsrfForm;
use crate::auth::session::FlashKind;
use crate::authz::{self, EnvKind, EnvRole, OrgPermission, OrgRole};
use crate::db::invitations::{EnvRoles, InviteOutcome, ListedInvitation, ResendOutcome};
use crate::db::orgs::Access;
use crate::db::{self, PgPool};
use crate::domain::parse_address_list;
use crate::email::worker::OutboxSignal;
use crate::error::AppError;
use crate::ops;
use crate::routes::accounts::signin::NoFields;
use crate::routes::layout::{FieldErrors, Layout};
use crate::routes::{reconfirm_password, render, require_org, see_other};

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct PageQuery {
    pub page: Option<i64>,
}

#[derive(Template)]
#[template(path = "access/invitations.html")]
struct ListPage {
    layout: Layout,
    tabs: Tabs,
    org_name: String,
    invitations: Vec<ListedInvitation>,
    total: i64,
    pagination: Pagination,
}

pub async fn list(
    page_request: PageRequest,
    slug: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    let page = Pagination::page_asked(query.page);
    let (_, access, (invitations, total), layout) = page_request
        .org_page(
            &slug,
            OrgPermission::ManageInvitations,
            move |c, access| {
                db::invitations::list(c, access.org.id, Pagination::offset(page), PAGE_SIZE)
            },
            |access| format!("Invited users · {}", access.org.name),
        )
        .await?;
    let pagination = Pagination::new(
        page,
        total,
        &format!("/orgs/{}/access/invitations", access.org.slug),
        "",
    );
    render(
        StatusCode::OK,
        &ListPage {
            layout,
            tabs: Tabs::new(&access, "invited"),
            org_name: access.org.name.clone(),
            invitations,
            total,
            pagination,
        },
    )
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct InviteForm {
    pub emails: String,
    pub role: String,
    pub development: String,
    pub staging: String,
    pub production: String,
    pub password: String,
}

impl InviteForm {
    fn env_choice(&self, kind: EnvKind) -> &str {
        match kind {
            EnvKind::Development => &self.development,
            EnvKind::Staging => &self.staging,
            EnvKind::Production => &self.production,
        }
    }
}

#[derive(Template)]
#[template(path = "access/invite.html")]
struct InvitePage {
    layout: Layout,
    tabs: Tabs,
    org_name: String,
    can_invite_admins: bool,
    sudo_fresh: bool,
    sudo_minutes: i64,
    form: InviteForm,
    email_problems: Vec<String>,
    errors: FieldErrors,
    env_kinds: [EnvKind; 3],
    env_roles: [EnvRole; 3],
}

impl InvitePage {
    fn chosen(&self, kind: &EnvKind) -> &str {
        self.form.env_choice(*kind)
    }
}

pub async fn new(
    page_request: PageRequest,
    slug: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (cx, access, layout) = page_request
        .org_frame(&slug, OrgPermission::ManageInvitations, invite_title)
        .await?;
    let form = InviteForm {
        role: "member".into(),
        ..InviteForm::default()
    };
    let shown = Shown {
        status: StatusCode::OK,
        form,
        email_problems: Vec::new(),
        errors: FieldErrors::default(),
    };
    show_invite(&cx, &access, shown, layout)
}

fn invite_title(access: &db::orgs::Access) -> String {
    format!("Invite people · {}", access.org.name)
}

/// The invitation form as it is shown: its status, values and problems.
struct Shown {
    status: StatusCode,
    form: InviteForm,
    email_problems: Vec<String>,
    errors: FieldErrors,
}

async fn invite_page(
    cx: &Page,
    access: &db::orgs::Access,
    status: StatusCode,
    form: InviteForm,
    email_problems: Vec<String>,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let layout = cx.layout(invite_title(access)).await?;
    let shown = Shown {
        status,
        form,
        email_problems,
        errors,
    };
    show_invite(cx, access, shown, layout)
}

fn show_invite(
    cx: &Page,
    access: &db::orgs::Access,
    shown: Shown,
    layout: Layout,
) -> Result<HttpResponse, AppError> {
    let Page { settings, auth, .. } = cx;
    let Shown {
        status,
        mut form,
        email_problems,
        errors,
    } = shown;
    form.password.clear();
    render(
        status,
        &InvitePage {
            layout,
            tabs: Tabs::new(access, "invited"),
            org_name: access.org.name.clone(),
            can_invite_admins: authz::may_invite_as(access.role, OrgRole::Admin),
            sudo_fresh: auth.session.sudo_fresh(settings.sudo_minutes),
            sudo_minutes: settings.sudo_minutes,
            form,
            email_problems,
            errors,
            env_kinds: EnvKind::ALL,
            env_roles: EnvRole::ALL,
        },
    )
}

/// The organization role asked for, when the inviter may invite as it (a refusal is audited).
async fn invited_role(
    cx: &Page,
    access: &Access,
    form: &InviteForm,
    errors: &mut FieldErrors,
) -> Result<Option<OrgRole>, AppError> {
    let ctx = cx.auth.ctx();
    Ok(match form.role.parse::<OrgRole>() {
        Ok(role)
            if ops::invitations::may_invite_as(&cx.pool, &ctx, access, role, &form.emails)
                .await? =>
        {
            Some(role)
        }
        Ok(role) if authz::may_invite_as(OrgRole::Owner, role) => {
            errors.add("role", "Only owners can invite admins.");
            None
        }
        _ => {
            errors.add("role", "Choose member or admin.");
            None
        }
    })
}

/// The environment roles the invitation grants on acceptance.
fn env_roles_from(form: &InviteForm, errors: &mut FieldErrors) -> EnvRoles {
    let mut env_roles = EnvRoles::default();
    for kind in EnvKind::ALL {
        match form.env_choice(kind) {
            "" => {}
            choice => match choice.parse::<EnvRole>() {
                Ok(role) => {
                    env_roles.0.insert(kind, role);
                }
                Err(_) => errors.add(
                    kind.as_str(),
                    "Choose no access, viewer, support or engineer.",
                ),
            },
        }
    }
    env_roles
}

/// What the flash says after invitations went out.
fn sent_message(created: &[String], resent: &[String], at_limit: &[String], max: i64) -> String {
    let mut message = format!("Invitations sent: {}.", created.len() + resent.len());
    if !resent.is_empty() {
        message.push_str(&format!(
            " Already invited, sent again: {}.",
            resent.join(", ")
        ));
    }
    if !at_limit.is_empty() {
        message.push_str(&format!(
            " Note: {} already belong{} to {max} organizations, the most allowed, and cannot accept until they leave one.",
            at_limit.join(", "),
            if at_limit.len() == 1 { "s" } else { "" },
        ));
    }
    message
}

pub async fn create(
    cx: Page,
    outbox: web::Data<OutboxSignal>,
    slug: web::Path<String>,
    CsrfForm(form): CsrfForm<InviteForm>,
) -> Result<HttpResponse, AppError> {
    let Page {
        pool,
        settings,
        auth,
        ..
    } = &cx;
    let (inviter, access) = cx
        .require_org(&slug, OrgPermission::ManageInvitations)
        .await?;
    let mut errors = FieldErrors::default();
    let emails = parse_address_list(&form.emails);
    let email_problems = emails.as_ref().err().cloned().unwrap_or_default();
    if !email_problems.is_empty() {
        errors.add("emails", "Nothing was sent. Fix these addresses:");
    }
    let role = invited_role(&cx, &access, &form, &mut errors).await?;
    let env_roles = env_roles_from(&form, &mut errors);
    if env_roles.get(&EnvKind::Production).is_some() {
        let answer = reconfirm_password(&cx, &form.password).await?;
        if !answer.is_ok() {
            errors.add("password", answer.problem());
        }
    }
    let (Ok(emails), Some(role), true) = (emails, role, errors.is_empty()) else {
        return invite_page(
            &cx,
            &access,
            StatusCode::UNPROCESSABLE_ENTITY,
            form,
            email_problems,
            errors,
        )
        .await;
    };

    let invite = ops::invitations::Invite {
        org: access.org.clone(),
        inviter,
        role,
        env_roles,
        emails,
    };
    let outcome = ops::invitations::invite(pool, settings, &outbox, &auth.ctx(), invite).await?;
    answer_invite(&cx, &access, form, errors, outcome).await
}

/// The page after the invitations were (or were not) sent.
async fn answer_invite(
    cx: &Page,
    access: &Access,
    form: InviteForm,
    mut errors: FieldErrors,
    outcome: InviteOutcome,
) -> Result<HttpResponse, AppError> {
    let settings = &cx.settings;
    match outcome {
        InviteOutcome::NotAllowed => Err(AppError::Forbidden),
        InviteOutcome::Sent {
            created,
            resent,
            at_limit,
        } => {
            let kind = if at_limit.is_empty() {
                FlashKind::Success
            } else {
                FlashKind::Info
            };
            let message = sent_message(&created, &resent, &at_limit, settings.max_orgs_per_user);
            cx.auth.session.flash(kind, message);
            Ok(see_other(&format!(
                "/orgs/{}/access/invitations",
                access.org.slug
            )))
        }
        InviteOutcome::AlreadyMembers(members) => {
            errors.add(
                "emails",
                "Nothing was sent. These people are already members:",
            );
            invite_page(
                cx,
                access,
                StatusCode::UNPROCESSABLE_ENTITY,
                form,
                members,
                errors,
            )
            .await
        }
        InviteOutcome::SentTooRecently(recent) => {
            errors.add(
                "emails",
                "Nothing was sent. These addresses were sent an invitation less than a minute ago; try again in a minute:",
            );
            invite_page(
                cx,
                access,
                StatusCode::UNPROCESSABLE_ENTITY,
                form,
                recent,
                errors,
            )
            .await
        }
        InviteOutcome::DailyLimit(limit) => {
            let message = limit.message(settings.invites_per_org_per_day);
            errors.add("emails", format!("Nothing was sent. {message}"));
            invite_page(
                cx,
                access,
                StatusCode::UNPROCESSABLE_ENTITY,
                form,
                Vec::new(),
                errors,
            )
            .await
        }
    }
}

pub async fn resend(
    cx: Page,
    outbox: web::Data<OutboxSignal>,
    path: web::Path<(String, InvitationId)>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let Page {
        pool,
        settings,
        auth,
        ..
    } = &cx;
    let (slug, id) = path.into_inner();
    let (_, access) = cx
        .require_org(&slug, OrgPermission::ManageInvitations)
        .await?;
    let ctx = auth.ctx();
    let outcome = ops::invitations::resend(pool, settings, &outbox, &ctx, &access.org, id).await?;
    let (kind, message) = match outcome {
        ResendOutcome::Resent(email) => {
            (FlashKind::Success, format!("The invitation to {email} was sent again with a new link; the old link no longer works."))
        }
        ResendOutcome::TooSoon => (FlashKind::Error, "This invitation was sent less than a minute ago. Wait a moment before sending it again.".into()),
        ResendOutcome::NotPending => (FlashKind::Error, "Only open invitations can be sent again.".into()),
        ResendOutcome::NotAllowed => (FlashKind::Error, "Only owners can send an invitation as admin again.".into()),
        ResendOutcome::DailyLimit(limit) => (FlashKind::Error, format!("Not sent again. {}", limit.message(settings.invites_per_org_per_day))),
    };
    auth.session.flash(kind, message);
    Ok(see_other(&format!("/orgs/{slug}/access/invitations")))
}

pub async fn revoke(
    pool: web::Data<PgPool>,
    auth: Auth,
    path: web::Path<(String, InvitationId)>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let (slug, id) = path.into_inner();
    let (_, access) = require_org(&pool, &auth, &slug, OrgPermission::ManageInvitations).await?;
    let revoked = ops::invitations::revoke(&pool, &auth.ctx(), &access.org, id).await?;
    if let Some(email) = revoked {
        auth.session.flash(
            FlashKind::Success,
            format!("The invitation of {email} was revoked; its link now says so."),
        );
    } else {
        auth.session
            .flash(FlashKind::Error, "Only open invitations can be revoked.");
    }
    Ok(see_other(&format!("/orgs/{slug}/access/invitations")))
}
