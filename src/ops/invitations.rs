//! Inviting people: the role an inviter may invite as, and the invitation itself (one
//! transaction in `db::invitations`, then the outbox is woken).

use crate::audit::Action;
use actix_web::web;
use serde_json::json;

use super::Ctx;
use crate::audit::Denied;
use crate::authz::{self, OrgRole};
use crate::config::Settings;
use crate::db::invitations::{InviteOutcome, InviteRequest, ResendOutcome};
use crate::db::orgs::{Access, Organization};
use crate::db::users::User;
use crate::db::{self, PgPool};
use crate::domain::ids::InvitationId;
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
    if outcome == ResendOutcome::Resent {
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
