//! Invited users: the invite form (one to 50 addresses, a role, environment roles granted on
//! acceptance), the list with state and delivery, resend and revoke.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::Tabs;
use crate::auth::Auth;
use crate::auth::csrf::CsrfForm;
use crate::auth::session::FlashKind;
use crate::authz::{self, EnvKind, EnvRole, OrgPermission, OrgRole};
use crate::config::Settings;
use crate::db::invitations::{EnvRoles, InviteOutcome, ListedInvitation, ResendOutcome};
use crate::db::{self, PgPool};
use crate::domain::parse_address_list;
use crate::email::worker::OutboxSignal;
use crate::error::AppError;
use crate::ops;
use crate::routes::accounts::signin::NoFields;
use crate::routes::layout::{FieldErrors, Layout};
use crate::routes::{render, require_org, see_other};

const PAGE_SIZE: i64 = 50;

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
    page: i64,
    pages: i64,
}

pub async fn list(
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    auth: Auth,
    slug: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    let (_, access) = require_org(&pool, &auth, &slug, OrgPermission::ManageInvitations).await?;
    let page = query.page.unwrap_or(1).clamp(1, 1_000_000);
    let org_id = access.org.id;
    let (invitations, total) = db::run(&pool, move |c| {
        db::invitations::list(c, org_id, (page - 1) * PAGE_SIZE, PAGE_SIZE)
    })
    .await?;
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let layout = Layout::load(
        &pool,
        &settings,
        &auth,
        format!("Invited users · {}", access.org.name),
    )
    .await?;
    render(
        StatusCode::OK,
        &ListPage {
            layout,
            tabs: Tabs::new(&access, "invited"),
            org_name: access.org.name.clone(),
            invitations,
            total,
            page,
            pages,
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
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    auth: Auth,
    slug: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (_, access) = require_org(&pool, &auth, &slug, OrgPermission::ManageInvitations).await?;
    let form = InviteForm {
        role: "member".into(),
        ..InviteForm::default()
    };
    invite_page(
        &pool,
        &settings,
        &auth,
        &access,
        StatusCode::OK,
        form,
        Vec::new(),
        FieldErrors::default(),
    )
    .await
}

#[expect(
    clippy::too_many_arguments,
    reason = "the form page is rendered from one place with all it shows"
)]
async fn invite_page(
    pool: &PgPool,
    settings: &Settings,
    auth: &Auth,
    access: &db::orgs::Access,
    status: StatusCode,
    mut form: InviteForm,
    email_problems: Vec<String>,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    form.password.clear();
    let layout = Layout::load(
        pool,
        settings,
        auth,
        format!("Invite people · {}", access.org.name),
    )
    .await?;
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

pub async fn create(
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    outbox: web::Data<OutboxSignal>,
    auth: Auth,
    slug: web::Path<String>,
    CsrfForm(form): CsrfForm<InviteForm>,
) -> Result<HttpResponse, AppError> {
    let (inviter, access) =
        require_org(&pool, &auth, &slug, OrgPermission::ManageInvitations).await?;
    let mut errors = FieldErrors::default();
    let emails = parse_address_list(&form.emails);
    let email_problems = emails.as_ref().err().cloned().unwrap_or_default();
    if !email_problems.is_empty() {
        errors.add("emails", "Nothing was sent. Fix these addresses:");
    }
    let role = match form.role.parse::<OrgRole>() {
        Ok(role)
            if ops::invitations::may_invite_as(&pool, &auth.ctx(), &access, role, &form.emails)
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
    };
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
    if env_roles.get(&EnvKind::Production).is_some() {
        let answer = ops::reauth::confirm_password(
            &pool,
            &settings,
            &auth.ctx(),
            &inviter,
            Some(&form.password),
            Some(&auth.session),
        )
        .await?;
        if !answer.is_ok() {
            errors.add("password", answer.problem());
        }
    }
    let (Ok(emails), Some(role), true) = (emails, role, errors.is_empty()) else {
        return invite_page(
            &pool,
            &settings,
            &auth,
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
    let outcome = ops::invitations::invite(&pool, &settings, &outbox, &auth.ctx(), invite).await?;
    match outcome {
        InviteOutcome::Sent {
            created,
            resent,
            at_limit,
        } => {
            let mut message = format!("Invitations sent: {}.", created.len() + resent.len());
            if !resent.is_empty() {
                message.push_str(&format!(
                    " Already invited, sent again: {}.",
                    resent.join(", ")
                ));
            }
            if !at_limit.is_empty() {
                message.push_str(&format!(
                    " Note: {} already belong{} to {} organizations, the most allowed, and cannot accept until they leave one.",
                    at_limit.join(", "),
                    if at_limit.len() == 1 { "s" } else { "" },
                    settings.max_orgs_per_user
                ));
            }
            auth.session.flash(
                if at_limit.is_empty() {
                    FlashKind::Success
                } else {
                    FlashKind::Info
                },
                message,
            );
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
                &pool,
                &settings,
                &auth,
                &access,
                StatusCode::UNPROCESSABLE_ENTITY,
                form,
                members,
                errors,
            )
            .await
        }
        InviteOutcome::DailyLimit { sent_today } => {
            errors.add(
                "emails",
                format!(
                    "Nothing was sent. This organization sent {sent_today} invitations in the last 24 hours; at most {} a day are allowed.",
                    settings.invites_per_org_per_day
                ),
            );
            invite_page(
                &pool,
                &settings,
                &auth,
                &access,
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
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    outbox: web::Data<OutboxSignal>,
    auth: Auth,
    path: web::Path<(String, i64)>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let (slug, id) = path.into_inner();
    let (_, access) = require_org(&pool, &auth, &slug, OrgPermission::ManageInvitations).await?;
    let (actor, meta, settings_tx, org) = (
        auth.actor(),
        auth.meta.clone(),
        settings.clone(),
        access.org.clone(),
    );
    let outcome = db::run(&pool, move |c| {
        db::invitations::resend(c, &settings_tx, &org, id, &actor, &meta)
    })
    .await?;
    let (kind, message) = match outcome {
        ResendOutcome::Resent => {
            outbox.wake();
            (FlashKind::Success, "The invitation was sent again with a new link; the old link no longer works.".to_string())
        }
        ResendOutcome::TooSoon => (FlashKind::Error, "This invitation was sent less than a minute ago. Wait a moment before sending it again.".into()),
        ResendOutcome::NotPending => (FlashKind::Error, "Only open invitations can be sent again.".into()),
        ResendOutcome::DailyLimit => (FlashKind::Error, format!("This organization reached its limit of {} invitations a day.", settings.invites_per_org_per_day)),
    };
    auth.session.flash(kind, message);
    Ok(see_other(&format!("/orgs/{slug}/access/invitations")))
}

pub async fn revoke(
    pool: web::Data<PgPool>,
    auth: Auth,
    path: web::Path<(String, i64)>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let (slug, id) = path.into_inner();
    let (_, access) = require_org(&pool, &auth, &slug, OrgPermission::ManageInvitations).await?;
    let (actor, meta, org) = (auth.actor(), auth.meta.clone(), access.org.clone());
    let revoked = db::run(&pool, move |c| {
        db::invitations::revoke(c, &org, id, &actor, &meta)
    })
    .await?;
    if revoked {
        auth.session.flash(
            FlashKind::Success,
            "The invitation was revoked; its link now says so.",
        );
    } else {
        auth.session
            .flash(FlashKind::Error, "Only open invitations can be revoked.");
    }
    Ok(see_other(&format!("/orgs/{slug}/access/invitations")))
}
