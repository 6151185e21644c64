//! Inviting people: the role an inviter may invite as, and the invitation itself (one
//! transaction in `db::invitations`, then the outbox is woken).

use crate::audit::Action;
use actix_web::web;
use serde_json::json;

use super::Ctx;
use crate::audit::Denied;
use crate::authz::OrgPermission;
use crate::authz::{self, OrgRole};
use crate::config::Settings;
use crate::db::invitations::{AcceptOutcome, InviteOutcome, InviteRequest, ResendOutcome};
use crate::db::orgs::{Access, Organization};
use crate::db::users::User;
use crate::db::{self, PgPool};
use crate::domain::ids::InvitationId;
use crate::domain::states::InvitationState;
use crate::email::worker::OutboxSignal;
use crate::error::AppError;

/// Whether the caller may invite as `role` (`authz::may_invite_as`); a refusal is recorded as a
/// denied `invitation.created` naming the addresses asked for.
pub async fn may_invite_as(
    pool: &PgPool,
    ctx: &Ctx,
    access: &Access,
    role: OrgRole,
    addresses: &str,
) -> Result<bool, AppError> {
    if authz::may_invite_as(access.role, role) {
        return Ok(true);
    }
    let denied = Denied {
        organization: Some((access.org.id, access.org.name.clone())),
        action: Action::InvitationCreated,
        target: Some(addresses.chars().take(500).collect()),
        details: json!({ "reason": "only owners invite admins", "role": role.as_str() }),
    };
    super::access::deny(pool, ctx, denied).await?;
    Ok(false)
}

/// Sends an open invitation again with a new link (at most once a minute, within the daily
/// limit) and wakes the outbox.
#[tracing::instrument(skip(pool, settings, outbox, ctx, org), fields(org_id = %org.id, invitation_id = %id))]
pub async fn resend(
    pool: &PgPool,
    settings: &web::Data<Settings>,
    outbox: &OutboxSignal,
    ctx: &Ctx,
    org: &Organization,
    id: InvitationId,
) -> Result<ResendOutcome, AppError> {
    let (ctx, settings, org) = (ctx.clone(), settings.clone(), org.clone());
    let outcome = db::run(pool, move |c| {
        db::invitations::resend(c, &settings, &org, id, &ctx.actor, &ctx.meta)
    })
    .await?;
    if matches!(outcome, ResendOutcome::Resent(_)) {
        outbox.wake();
    }
    Ok(outcome)
}

/// What to invite: the organization, the inviter, and the invitation's roles and addresses.
pub struct Invite {
    pub org: Organization,
    pub inviter: User,
    pub role: OrgRole,
    pub env_roles: db::invitations::EnvRoles,
    pub emails: Vec<crate::domain::EmailAddress>,
}

/// Creates (or resends) the invitations in one transaction and wakes the outbox.
#[tracing::instrument(skip_all, fields(org_id = %invite.org.id, count = invite.emails.len()))]
pub async fn invite(
    pool: &PgPool,
    settings: &web::Data<Settings>,
    outbox: &OutboxSignal,
    ctx: &Ctx,
    invite: Invite,
) -> Result<InviteOutcome, AppError> {
    let (ctx, settings) = (ctx.clone(), settings.clone());
    let outcome = db::run(pool, move |c| {
        let request = InviteRequest {
            org: &invite.org,
            inviter: &invite.inviter,
            role: invite.role,
            env_roles: invite.env_roles,
            emails: invite.emails,
        };
        db::invitations::invite(c, &settings, &request, &ctx.actor, &ctx.meta)
    })
    .await?;
    if matches!(outcome, InviteOutcome::Sent { .. }) {
        outbox.wake();
    }
    Ok(outcome)
}

/// Revokes a pending invitation, with the revoker's role read again under the organization's
/// row lock; its address, or None when it was not pending (recorded as refused).
#[tracing::instrument(skip(pool, ctx, org), fields(org_id = %org.id))]
pub async fn revoke(
    pool: &PgPool,
    ctx: &Ctx,
    org: &Organization,
    id: InvitationId,
) -> Result<Option<String>, AppError> {
    let (actor, meta, o) = (ctx.actor.clone(), ctx.meta.clone(), org.clone());
    super::with_org_permission(pool, ctx, org, OrgPermission::ManageInvitations, move |c| {
        db::invitations::revoke(c, &o, id, &actor, &meta)
    })
    .await
}

/// The invitee accepts: membership and environment roles, judged against the sender's current
/// role and the organization limit.
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn accept(
    pool: &PgPool,
    settings: &Settings,
    ctx: &Ctx,
    token: String,
    user: User,
) -> Result<AcceptOutcome, AppError> {
    let (ctx, max) = (ctx.clone(), settings.max_orgs_per_user);
    db::run(pool, move |c| {
        db::invitations::accept(c, &token, &user, max, &ctx.meta)
    })
    .await
}

/// The invitee declines; the organization it was for, or why it could not be declined.
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn decline(
    pool: &PgPool,
    ctx: &Ctx,
    token: String,
    user: User,
) -> Result<Result<Organization, Option<InvitationState>>, AppError> {
    let ctx = ctx.clone();
    db::run(pool, move |c| {
        db::invitations::decline(c, &token, &user, &ctx.meta)
    })
    .await
}

/// Someone signed in with another account signs out to open an invitation.
#[tracing::instrument(skip_all)]
pub async fn signed_out_for_invitation(
    pool: &PgPool,
    ctx: &Ctx,
    email: String,
) -> Result<(), AppError> {
    let ctx = ctx.clone();
    db::run(pool, move |c| {
        crate::audit::record(
            c,
            crate::audit::Event::successful(
                &ctx.actor,
                &ctx.meta,
                Action::UserSignedOut,
                email,
                json!({ "via": "invitation for another account" }),
            ),
        )
    })
    .await
}
