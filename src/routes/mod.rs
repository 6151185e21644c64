//! The single route table, and the few helpers every handler shares: rendering with a status,
//! redirecting after a post, and the one organization permission check.

pub mod access;
pub mod accounts;
pub mod assets;
pub mod audit_log;
pub mod environments;
pub mod health;
pub mod invitations;
pub mod layout;
pub mod mailbox;
pub mod operator;
pub mod orgs;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use askama::Template;

use crate::auth::Auth;
use crate::authz::OrgPermission;
use crate::db::{
    PgPool,
    orgs::{Access, OrgRef},
    users::User,
};
use crate::error::AppError;
use crate::ops;

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(orgs::home::get))
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/static/css/app.css", web::get().to(assets::css))
        .route("/signup", web::get().to(accounts::signup::get))
        .route("/signup", web::post().to(accounts::signup::post))
        .route("/signin", web::get().to(accounts::signin::get))
        .route("/signin", web::post().to(accounts::signin::post))
        .route("/signout", web::post().to(accounts::signin::sign_out))
        .route("/verify-email", web::get().to(accounts::verify::get))
        .route(
            "/verify-email/resend",
            web::post().to(accounts::verify::resend),
        )
        .route(
            "/password/forgot",
            web::get().to(accounts::password::forgot_get),
        )
        .route(
            "/password/forgot",
            web::post().to(accounts::password::forgot_post),
        )
        .route(
            "/password/reset",
            web::get().to(accounts::password::reset_get),
        )
        .route(
            "/password/reset",
            web::post().to(accounts::password::reset_post),
        )
        .route(
            "/account/password",
            web::get().to(accounts::password::change_get),
        )
        .route(
            "/account/password",
            web::post().to(accounts::password::change_post),
        )
        .route("/account/api-keys", web::get().to(accounts::api_keys::list))
        .route(
            "/account/api-keys",
            web::post().to(accounts::api_keys::create),
        )
        .route(
            "/account/api-keys/{id}/revoke",
            web::post().to(accounts::api_keys::revoke),
        )
        .route("/orgs", web::get().to(orgs::list::get))
        .route("/orgs/new", web::get().to(orgs::new::get))
        .route("/orgs/new", web::post().to(orgs::new::post))
        .route("/orgs/{slug}", web::get().to(orgs::show::get))
        .route("/orgs/{slug}/settings", web::get().to(orgs::settings::get))
        .route(
            "/orgs/{slug}/settings",
            web::post().to(orgs::settings::post),
        )
        .route("/orgs/{slug}/leave", web::get().to(orgs::leave::get))
        .route("/orgs/{slug}/leave", web::post().to(orgs::leave::post))
        .route("/orgs/{slug}/access", web::get().to(access_home))
        .route(
            "/orgs/{slug}/access/users",
            web::get().to(access::users::list),
        )
        .route(
            "/orgs/{slug}/access/users/{user_id}",
            web::get().to(access::users::show),
        )
        .route(
            "/orgs/{slug}/access/users/{user_id}/remove",
            web::post().to(access::users::remove),
        )
        .route("/orgs/{slug}/delete", web::get().to(orgs::delete::get))
        .route("/orgs/{slug}/delete", web::post().to(orgs::delete::post))
        .route("/orgs/{slug}/audit", web::get().to(audit_log::list))
        .route("/orgs/{slug}/audit.csv", web::get().to(audit_log::csv))
        .route("/operator", web::get().to(operator::list))
        .route("/operator/orgs/{id}", web::get().to(operator::show))
        .route(
            "/operator/orgs/{id}/live",
            web::post().to(operator::mark_live),
        )
        .route(
            "/operator/orgs/{id}/delete",
            web::post().to(operator::delete),
        )
        .route("/operator/audit.csv", web::get().to(operator::audit_csv))
        .route("/orgs/{slug}/env/{kind}", web::get().to(environments::show))
        .route(
            "/orgs/{slug}/env/{kind}/config",
            web::post().to(environments::create_config),
        )
        .route(
            "/orgs/{slug}/env/{kind}/config/{id}",
            web::post().to(environments::update_config),
        )
        .route(
            "/orgs/{slug}/env/{kind}/config/{id}/delete",
            web::post().to(environments::delete_config),
        )
        .route(
            "/orgs/{slug}/env/{kind}/config/{id}/reveal",
            web::post().to(environments::reveal_config),
        )
        .route(
            "/orgs/{slug}/env/{kind}/keys",
            web::post().to(environments::create_key),
        )
        .route(
            "/orgs/{slug}/env/{kind}/keys/{id}/revoke",
            web::post().to(environments::revoke_key),
        )
        .route(
            "/orgs/{slug}/access/environments",
            web::get().to(access::environments::list),
        )
        .route(
            "/orgs/{slug}/access/environments/{kind}",
            web::get().to(access::environments::show),
        )
        .route(
            "/orgs/{slug}/access/grid",
            web::get().to(access::environments::grid),
        )
        .route(
            "/orgs/{slug}/access/grid",
            web::post().to(access::environments::save),
        )
        .route(
            "/orgs/{slug}/access/users/{user_id}/roles",
            web::get().to(access::roles_edit::get),
        )
        .route(
            "/orgs/{slug}/access/users/{user_id}/roles",
            web::post().to(access::roles_edit::post),
        )
        .route(
            "/orgs/{slug}/access/invitations",
            web::get().to(access::invitations::list),
        )
        .route(
            "/orgs/{slug}/access/invitations/new",
            web::get().to(access::invitations::new),
        )
        .route(
            "/orgs/{slug}/access/invitations/new",
            web::post().to(access::invitations::create),
        )
        .route(
            "/orgs/{slug}/access/invitations/{id}/resend",
            web::post().to(access::invitations::resend),
        )
        .route(
            "/orgs/{slug}/access/invitations/{id}/revoke",
            web::post().to(access::invitations::revoke),
        )
        .route(
            "/orgs/{slug}/access/roles",
            web::get().to(access::roles::get),
        )
        .route("/invitations/{token}", web::get().to(invitations::show))
        .route(
            "/invitations/{token}/accept",
            web::post().to(invitations::accept),
        )
        .route(
            "/invitations/{token}/decline",
            web::post().to(invitations::decline),
        )
        .route(
            "/invitations/{token}/signup",
            web::post().to(invitations::signup),
        )
        .route(
            "/invitations/{token}/switch",
            web::post().to(invitations::switch_account),
        )
        .route(
            "/api/v1/openapi.json",
            web::get().to(crate::api::openapi::get),
        )
        .route(
            "/api/v1/organizations",
            web::get().to(crate::api::organizations),
        )
        .route(
            "/api/v1/organizations/{id}/environments",
            web::get().to(crate::api::environments),
        )
        .route(
            "/api/v1/organizations/{id}/role-assignment",
            web::get().to(crate::api::reads::role_assignments),
        )
        .route(
            "/api/v1/organizations/{id}/role-assignment",
            web::put().to(crate::api::writes::put_org_role),
        )
        .route(
            "/api/v1/organizations/{id}/role-assignment",
            web::delete().to(crate::api::writes::delete_org_role),
        )
        .route(
            "/api/v1/environments/{id}/role-assignment",
            web::get().to(crate::api::writes::get_env_roles),
        )
        .route(
            "/api/v1/environments/{id}/role-assignment",
            web::post().to(crate::api::writes::post_env_role),
        )
        .route(
            "/api/v1/environments/{id}/role-assignment",
            web::put().to(crate::api::writes::put_env_role),
        )
        .route(
            "/api/v1/environments/{id}/role-assignment",
            web::delete().to(crate::api::writes::delete_env_role),
        )
        .route(
            "/api/v1/organizations/{id}/invitations",
            web::get().to(crate::api::reads::invitations),
        )
        .route(
            "/api/v1/organizations/{id}/invitations",
            web::post().to(crate::api::writes::post_invitations),
        )
        .route(
            "/api/v1/organizations/{id}/invitations",
            web::delete().to(crate::api::writes::delete_invitation),
        )
        .route(
            "/api/v1/organizations/{id}/audit-events",
            web::get().to(crate::api::reads::audit_events),
        )
        .route("/dev/mailbox", web::get().to(mailbox::list))
        .route("/dev/mailbox/{id}", web::get().to(mailbox::show));
}

/// The Access Control page opens on its Users tab.
async fn access_home(
    pool: web::Data<PgPool>,
    auth: Auth,
    slug: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (_, access) = require_org(&pool, &auth, &slug, OrgPermission::ViewOrgRoles).await?;
    Ok(see_other(&format!(
        "/orgs/{}/access/users",
        access.org.slug
    )))
}

/// Renders a template with a status (200 for pages, 422 for a form sent back with errors).
pub fn render(status: StatusCode, template: &impl Template) -> Result<HttpResponse, AppError> {
    let body = template
        .render()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("template: {e}")))?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body))
}

/// The 303 that follows a successful form post.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// The pages' side of the one enforcement path (`ops::access`): the signed-in user, and their
/// access to the organization named by `slug` when their role there has `permission`.
pub async fn require_org(
    pool: &PgPool,
    auth: &Auth,
    slug: &str,
    permission: OrgPermission,
) -> Result<(User, Access), AppError> {
    let user = auth.require_user()?.clone();
    let access = ops::access::require_org(
        pool,
        &auth.ctx(),
        OrgRef::Slug(slug.to_string()),
        permission,
    )
    .await?;
    Ok((user, access))
}

/// A local path to go to after signing in; anything else (another site, `//host`) becomes `/`.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\") => {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/orgs/acme")), "/orgs/acme");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
