//! Following an invitation link, on every path: a new person signs up with the email locked; an
//! existing account signs in first; the invitee accepts or declines; someone else signed in is
//! offered to sign out; a closed invitation says why and whom to ask.

use crate::routes::page::Page;
use crate::routes::time::Shown as _;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::Auth;
use crate::auth::csrf::CsrfForm;
use crate::auth::password;
use crate::auth::session::FlashKind;
use crate::db::invitations::{AcceptOutcome, Invitation};
use crate::db::orgs::Organization;
use crate::db::{self, PgPool};
use crate::domain::states::InvitationState;
use crate::domain::{NewPassword, PersonName};
use crate::error::AppError;
use crate::ops::{self, accounts::InvitedSignup};
use crate::routes::accounts::signin::NoFields;
use crate::routes::layout::{FieldErrors, Layout};
use crate::routes::orgs::new::limit_message;
use crate::routes::{render, see_other};

#[derive(Template)]
#[template(path = "invitations/show.html")]
struct InvitationPage {
    layout: Layout,
    token: String,
    /// unknown, expired, revoked, accepted, declined, pending (for the invitee), other_account
    view: &'static str,
    invitation: Option<Invitation>,
    org: Option<Organization>,
    envs: String,
    signed_in_as: String,
    problem: Option<String>,
}

#[derive(Template)]
#[template(path = "invitations/signup.html")]
struct SignupPage {
    layout: Layout,
    token: String,
    invitation: Invitation,
    org: Organization,
    name: String,
    errors: FieldErrors,
}

/// The view of the invitation page for a state (`None`: no invitation has this link).
fn view_of(state: Option<InvitationState>) -> &'static str {
    state.map_or("unknown", InvitationState::as_str)
}

async fn lookup(
    pool: &PgPool,
    token: &str,
) -> Result<Option<(Invitation, Organization)>, AppError> {
    let token = token.to_string();
    db::run(pool, move |c| db::invitations::find_by_token(c, &token)).await
}

async fn page(
    cx: &Page,
    status: StatusCode,
    token: String,
    view: &'static str,
    found: Option<(Invitation, Organization)>,
    problem: Option<String>,
) -> Result<HttpResponse, AppError> {
    let Page { auth, .. } = cx;
    let layout = cx.layout("Invitation").await?;
    let envs = found
        .as_ref()
        .map(|(i, _)| i.env_roles().describe())
        .unwrap_or_default();
    let (invitation, org) = found.map_or((None, None), |(i, o)| (Some(i), Some(o)));
    let signed_in_as = auth
        .user
        .as_ref()
        .map(|u| u.email.clone())
        .unwrap_or_default();
    render(
        status,
        &InvitationPage {
            layout,
            token,
            view,
            invitation,
            org,
            envs,
            signed_in_as,
            problem,
        },
    )
}

pub async fn show(cx: Page, token: web::Path<String>) -> Result<HttpResponse, AppError> {
    let Page { pool, auth, .. } = &cx;
    let token = token.into_inner();
    let Some((inv, org)) = lookup(pool, &token).await? else {
        return page(&cx, StatusCode::NOT_FOUND, token, "unknown", None, None).await;
    };
    if !inv.is_pending() {
        return page(
            &cx,
            StatusCode::GONE,
            token,
            view_of(Some(inv.state())),
            Some((inv, org)),
            None,
        )
        .await;
    }
    match &auth.user {
        Some(user) if user.email == inv.email => {
            page(
                &cx,
                StatusCode::OK,
                token,
                "pending",
                Some((inv, org)),
                None,
            )
            .await
        }
        Some(_) => {
            page(
                &cx,
                StatusCode::OK,
                token,
                "other_account",
                Some((inv, org)),
                None,
            )
            .await
        }
        None => {
            let email = inv.email.clone();
            let exists = db::run(pool, move |c| db::users::find_by_email(c, &email))
                .await?
                .is_some();
            if exists {
                let next: String = url::form_urlencoded::byte_serialize(
                    format!("/invitations/{token}").as_bytes(),
                )
                .collect();
                let email: String =
                    url::form_urlencoded::byte_serialize(inv.email.as_bytes()).collect();
                return Ok(see_other(&format!("/signin?next={next}&email={email}")));
            }
            let layout = cx.layout(format!("Join {}", org.name)).await?;
            render(
                StatusCode::OK,
                &SignupPage {
                    layout,
                    token,
                    invitation: inv,
                    org,
                    name: String::new(),
                    errors: FieldErrors::default(),
                },
            )
        }
    }
}

/// What became of an acceptance, as a response.
async fn after_accept(
    cx: &Page,
    token: String,
    outcome: AcceptOutcome,
) -> Result<HttpResponse, AppError> {
    let Page {
        pool,
        settings,
        auth,
        ..
    } = cx;
    match outcome {
        AcceptOutcome::Joined(org) => {
            auth.session.set_current_org(&org.slug);
            auth.session
                .flash(FlashKind::Success, format!("Welcome to {}!", org.name));
            Ok(see_other(&format!("/orgs/{}", org.slug)))
        }
        AcceptOutcome::AlreadyMember(org) => {
            auth.session.flash(
                FlashKind::Info,
                format!("You are already a member of {}.", org.name),
            );
            Ok(see_other(&format!("/orgs/{}", org.slug)))
        }
        AcceptOutcome::LimitReached => {
            let found = lookup(pool, &token).await?;
            page(
                cx,
                StatusCode::UNPROCESSABLE_ENTITY,
                token,
                "pending",
                found,
                Some(limit_message(settings.max_orgs_per_user)),
            )
            .await
        }
        AcceptOutcome::WrongAccount => {
            let found = lookup(pool, &token).await?;
            page(
                cx,
                StatusCode::FORBIDDEN,
                token,
                "other_account",
                found,
                None,
            )
            .await
        }
        AcceptOutcome::Closed(state) => {
            let found = lookup(pool, &token).await?;
            page(cx, StatusCode::GONE, token, view_of(state), found, None).await
        }
    }
}

pub async fn accept(
    cx: Page,
    token: web::Path<String>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let Page {
        pool,
        settings,
        auth,
        ..
    } = &cx;
    let token = token.into_inner();
    let user = auth.require_user()?.clone();
    let outcome =
        ops::invitations::accept(pool, settings, &auth.ctx(), token.clone(), user).await?;
    after_accept(&cx, token, outcome).await
}

pub async fn decline(
    cx: Page,
    token: web::Path<String>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let Page { pool, auth, .. } = &cx;
    let token = token.into_inner();
    let user = auth.require_user()?.clone();
    match ops::invitations::decline(pool, &auth.ctx(), token.clone(), user).await? {
        Ok(org) => {
            auth.session.flash(
                FlashKind::Info,
                format!("You declined the invitation to {}.", org.name),
            );
            Ok(see_other("/orgs"))
        }
        Err(state) => {
            let found = lookup(pool, &token).await?;
            // Still open means it is someone else's to decline.
            let (status, view) = if state == Some(InvitationState::Pending) {
                (StatusCode::FORBIDDEN, "other_account")
            } else {
                (StatusCode::GONE, view_of(state))
            };
            page(&cx, status, token, view, found, None).await
        }
    }
}

/// "Sign out and continue": for someone signed in with another account.
pub async fn switch_account(
    pool: web::Data<PgPool>,
    auth: Auth,
    token: web::Path<String>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    if let Some(user) = &auth.user {
        ops::invitations::signed_out_for_invitation(&pool, &auth.ctx(), user.email.clone()).await?;
    }
    auth.session.sign_out();
    Ok(see_other(&format!("/invitations/{}", token.into_inner())))
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct SignupForm {
    pub name: String,
    pub password: String,
}

/// A new person: the account is created with the invited email, already verified (the link
/// proves it), and joins the organization in the same transaction.
pub async fn signup(
    cx: Page,
    token: web::Path<String>,
    CsrfForm(form): CsrfForm<SignupForm>,
) -> Result<HttpResponse, AppError> {
    let Page {
        pool,
        settings,
        auth,
        ..
    } = &cx;
    let token = token.into_inner();
    let Some((inv, org)) = lookup(pool, &token).await? else {
        return page(&cx, StatusCode::NOT_FOUND, token, "unknown", None, None).await;
    };
    let mut errors = FieldErrors::default();
    let name = errors.check("name", PersonName::parse(&form.name));
    let new_password = errors.check(
        "password",
        NewPassword::parse(&form.password, &form.name, &inv.email),
    );
    let (Some(name), Some(new_password)) = (name, new_password) else {
        let layout = cx.layout(format!("Join {}", org.name)).await?;
        return render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &SignupPage {
                layout,
                token,
                invitation: inv,
                org,
                name: form.name,
                errors,
            },
        );
    };
    let hash = password::hash(new_password.secret().clone()).await?;
    let result = ops::accounts::sign_up_invited(
        pool,
        settings,
        &auth.ctx(),
        token.clone(),
        name,
        inv.email.clone(),
        hash,
    )
    .await?;
    match result {
        InvitedSignup::Joined(user_id, outcome) => {
            auth.session.sign_in(user_id, &auth.meta)?;
            after_accept(&cx, token, outcome).await
        }
        InvitedSignup::AccountExists => {
            let next: String =
                url::form_urlencoded::byte_serialize(format!("/invitations/{token}").as_bytes())
                    .collect();
            Ok(see_other(&format!("/signin?next={next}")))
        }
        InvitedSignup::NotJoined(outcome) => after_accept(&cx, token, outcome).await,
    }
}
