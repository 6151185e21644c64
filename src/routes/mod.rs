//! The single route table, and the few helpers every handler shares: rendering with a status,
//! redirecting after a post, and the one organization permission check.

pub mod access;
pub mod accounts;
pub mod assets;
pub mod audit_log;
pub mod environments;
pub mod errors;
pub mod health;
pub mod invitations;
pub mod layout;
pub mod mailbox;
pub mod operator;
pub mod orgs;
pub mod page;
pub mod pagination;
pub mod reveal;
pub mod time;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use askama::Template;

use crate::api;
use crate::auth::Auth;
use crate::authz::OrgPermission;
use crate::db::{
    PgPool,
    orgs::{Access, OrgRef},
    users::User,
};
use crate::error::AppError;
use crate::ops;

/// One registered route: method (lower case, as in `web::get`), path pattern and handler, so
/// tests (the authorization matrix, audit coverage) read the routes from the code itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub handler: &'static str,
}

/// Builds both the route table `ROUTES` and `config`, which registers it, from one list grouped
/// by path prefix: a route cannot be registered without being listed, or listed without being
/// registered.
macro_rules! route_table {
    ($( $prefix:literal { $( $method:ident $path:literal => $handler:path; )* } )*) => {
        /// Every route, in registration order.
        pub const ROUTES: &[Route] = &[
            $( $( Route {
                method: stringify!($method),
                path: concat!($prefix, $path),
                handler: stringify!($handler),
            }, )* )*
        ];

        /// The groups of `ROUTES`, in its order: their prefix and how many routes they have.
        const GROUPS: &[(&str, usize)] = &[
            $( ($prefix, [$( $path ),*].len()), )*
        ];

        /// Registers every route of `ROUTES`, in its order: a group as one scope where that
        /// routes every path as the routes one by one would (`scopes`), so that a request is
        /// matched against the group's prefix once rather than against each of its routes.
        pub fn config(cfg: &mut web::ServiceConfig) {
            let mut scopes = scopes().into_iter();
            $(
                if scopes.next() == Some(true) {
                    cfg.service(web::scope($prefix)
                        $( .route($path, web::$method().to($handler)) )*);
                } else {
                    $( cfg.route(concat!($prefix, $path), web::$method().to($handler)); )*
                }
            )*
        }
    };
}

/// Which groups of the route table (`GROUPS`) are registered as one scope each (`scoped`).
fn scopes() -> Vec<bool> {
    let mut registered = 0;
    GROUPS
        .iter()
        .map(|(prefix, routes)| {
            registered += routes;
            scoped(prefix, &ROUTES[registered..])
        })
        .collect()
}

/// Whether the group of routes under `prefix` may be registered as one scope, given the routes
/// registered after it (`later`). A scope takes every path its prefix begins, where routes one
/// by one let a path none of them matches go on to the later ones: the two route alike unless a
/// later route could match a path the prefix begins. Patterns are compared segment by segment,
/// a `{parameter}` standing for any one segment (the route table has no other kind).
fn scoped(prefix: &str, later: &[Route]) -> bool {
    let segments = |path: &'static str| path.split('/').skip(1);
    let prefix: Vec<&str> = prefix.split('/').skip(1).collect();
    let any = |segment: &str| segment.starts_with('{');
    !prefix.is_empty()
        && !later.iter().any(|route| {
            let route: Vec<&str> = segments(route.path).collect();
            route.len() >= prefix.len()
                && prefix
                    .iter()
                    .zip(&route)
                    .all(|(p, r)| any(p) || any(r) || p == r)
        })
}

route_table! {
    "" {
        get "/" => orgs::home::get;
        get "/healthz" => health::healthz;
        get "/readyz" => health::readyz;
        get "/static/css/app.css" => assets::css;
        get "/static/icons/gatehouse.svg" => assets::icon;
        get "/static/manifest.webmanifest" => assets::manifest;
        get "/static/js/passkeys.js" => assets::passkeys_js;
        get "/favicon.ico" => assets::favicon;
        get "/signup" => accounts::signup::get;
        post "/signup" => accounts::signup::post;
        get "/signin" => accounts::signin::get;
        post "/signin" => accounts::signin::post;
        get "/signin/two-factor" => accounts::two_factor::second_step_get;
        post "/signin/two-factor" => accounts::two_factor::second_step_post;
        post "/signin/passkey/options" => accounts::passkeys::signin_options;
        post "/signin/passkey" => accounts::passkeys::signin;
        post "/signin/two-factor/passkey/options" => accounts::passkeys::second_step_options;
        post "/signin/two-factor/passkey" => accounts::passkeys::second_step;
        post "/signout" => accounts::signin::sign_out;
    }
    "/verify-email" {
        get "" => accounts::verify::get;
        post "/resend" => accounts::verify::resend;
    }
    "/password" {
        get "/forgot" => accounts::password::forgot_get;
        post "/forgot" => accounts::password::forgot_post;
        get "/reset" => accounts::password::reset_get;
        post "/reset" => accounts::password::reset_post;
    }
    "/account" {
        get "" => accounts::account::show;
        post "/name" => accounts::account::rename;
        post "/email" => accounts::account::change_email;
        get "/email/confirm" => accounts::account::confirm_email;
        get "/password" => accounts::password::change_get;
        post "/password" => accounts::password::change_post;
        get "/api-keys" => accounts::api_keys::list;
        post "/api-keys" => accounts::api_keys::create;
        post "/api-keys/{id}/revoke" => accounts::api_keys::revoke;
        get "/two-factor" => accounts::two_factor::show;
        post "/two-factor/setup" => accounts::two_factor::setup;
        get "/two-factor/qr.svg" => accounts::two_factor::qr;
        post "/two-factor/confirm" => accounts::two_factor::confirm;
        post "/two-factor/recovery-codes" => accounts::two_factor::regenerate;
        post "/two-factor/disable" => accounts::two_factor::disable;
        get "/passkeys" => accounts::passkeys::list;
        post "/passkeys/options" => accounts::passkeys::registration_options;
        post "/passkeys" => accounts::passkeys::register;
        post "/passkeys/{id}/rename" => accounts::passkeys::rename;
        post "/passkeys/{id}/delete" => accounts::passkeys::remove;
        get "/sessions" => accounts::sessions::list;
        post "/sessions/revoke-others" => accounts::sessions::revoke_others;
        post "/sessions/{sid}/revoke" => accounts::sessions::revoke;
    }
    "/orgs" {
        get "" => orgs::list::get;
        get "/new" => orgs::new::get;
        post "/new" => orgs::new::post;
    }
    "/orgs/{slug}/access" {
        get "" => access_home;
        get "/users" => access::users::list;
        get "/users/{user_id}" => access::users::show;
        post "/users/{user_id}/remove" => access::users::remove;
        get "/environments" => access::environments::list;
        get "/environments/{kind}" => access::environments::show;
        get "/grid" => access::environments::grid;
        post "/grid" => access::environments::save;
        get "/users/{user_id}/roles" => access::roles_edit::get;
        post "/users/{user_id}/roles" => access::roles_edit::post;
        get "/invitations" => access::invitations::list;
        get "/invitations/new" => access::invitations::new;
        post "/invitations/new" => access::invitations::create;
        post "/invitations/{id}/resend" => access::invitations::resend;
        post "/invitations/{id}/revoke" => access::invitations::revoke;
        get "/roles" => access::roles::get;
    }
    "/orgs/{slug}/env/{kind}" {
        get "" => environments::show;
        post "/config" => environments::create_config;
        post "/config/{id}" => environments::update_config;
        post "/config/{id}/delete" => environments::delete_config;
        post "/config/{id}/reveal" => environments::reveal_config;
        post "/keys" => environments::create_key;
        post "/keys/{id}/revoke" => environments::revoke_key;
    }
    "/orgs/{slug}" {
        get "" => orgs::show::get;
        get "/settings" => orgs::settings::get;
        post "/settings" => orgs::settings::post;
        post "/settings/two-factor" => orgs::settings::two_factor_policy;
        get "/leave" => orgs::leave::get;
        post "/leave" => orgs::leave::post;
        get "/delete" => orgs::delete::get;
        post "/delete" => orgs::delete::post;
        get "/audit" => audit_log::list;
        get "/audit.csv" => audit_log::csv;
    }
    "/operator" {
        get "" => operator::list;
        get "/orgs/{id}" => operator::show;
        post "/orgs/{id}/live" => operator::mark_live;
        post "/orgs/{id}/delete" => operator::delete;
        get "/audit.csv" => operator::audit_csv;
    }
    "/invitations/{token}" {
        get "" => invitations::show;
        post "/accept" => invitations::accept;
        post "/decline" => invitations::decline;
        post "/signup" => invitations::signup;
        post "/switch" => invitations::switch_account;
    }
    "/api/v1" {
        get "/openapi.json" => api::openapi::get;
        get "/organizations" => api::organizations;
    }
    "/api/v1/organizations/{id}" {
        get "/environments" => api::environments;
        get "/role-assignment" => api::reads::role_assignments;
        put "/role-assignment" => api::writes::put_org_role;
        delete "/role-assignment" => api::writes::delete_org_role;
        get "/invitations" => api::reads::invitations;
        post "/invitations" => api::writes::post_invitations;
        delete "/invitations" => api::writes::delete_invitation;
        get "/audit-events" => api::reads::audit_events;
    }
    "/api/v1/environments/{id}" {
        get "/role-assignment" => api::writes::get_env_roles;
        post "/role-assignment" => api::writes::post_env_role;
        put "/role-assignment" => api::writes::put_env_role;
        delete "/role-assignment" => api::writes::delete_env_role;
    }
    "/dev/mailbox" {
        get "" => mailbox::list;
        get "/{id}" => mailbox::show;
    }
}

/// The GETs that act: an email's link uses its token, an export is recorded. HEAD, which link
/// checkers and mail scanners send believing it safe, is not answered for them (405), so that
/// nobody uses a link up or is recorded as exporting without asking for it.
pub const GETS_THAT_ACT: &[&str] = &[
    "/verify-email",
    "/account/email/confirm",
    "/orgs/{slug}/audit.csv",
    "/operator/audit.csv",
];

/// Marks a HEAD answered as its GET (`startup::head_as_get`): its body is never sent, so the page
/// uses up nothing shown once (the flash, a just-created key).
#[derive(Debug, Clone, Copy)]
pub struct AnsweredAsGet;

/// Whether this request is a HEAD answered as its GET.
pub fn answered_as_get(req: &actix_web::HttpRequest) -> bool {
    actix_web::HttpMessage::extensions(req)
        .get::<AnsweredAsGet>()
        .is_some()
}

/// Whether HEAD is answered at `path` (as its GET, `startup::head_as_get`).
pub fn answers_head(path: &str) -> bool {
    static ACTING: std::sync::LazyLock<Vec<actix_web::dev::ResourceDef>> =
        std::sync::LazyLock::new(|| {
            GETS_THAT_ACT
                .iter()
                .map(|p| actix_web::dev::ResourceDef::new(*p))
                .collect()
        });
    !ACTING.iter().any(|pattern| pattern.is_match(path))
}

/// The methods (`GET`, `HEAD`, `POST`…) the route table answers for `path`, for 405's `Allow`.
pub fn methods_for(path: &str) -> Vec<&'static str> {
    static PATTERNS: std::sync::LazyLock<Vec<(actix_web::dev::ResourceDef, &'static str)>> =
        std::sync::LazyLock::new(|| {
            ROUTES
                .iter()
                .map(|r| (actix_web::dev::ResourceDef::new(r.path), r.method))
                .collect()
        });
    let mut methods: Vec<&'static str> = Vec::new();
    for (pattern, method) in PATTERNS.iter() {
        let method = match *method {
            "get" => "GET",
            "post" => "POST",
            "put" => "PUT",
            "delete" => "DELETE",
            _ => "PATCH",
        };
        if pattern.is_match(path) && !methods.contains(&method) {
            methods.push(method);
            // HEAD is answered wherever GET is (`startup::head_as_get`).
            if method == "GET" && answers_head(path) {
                methods.push("HEAD");
            }
        }
    }
    methods
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
    render_sized(status, template, 0)
}

/// `render` for a template that writes `extra` bytes beyond its own text (HTML rendered before,
/// as the member list's rows): the page is written into a buffer of its size, not grown to it
/// (each growth copies the page so far). A template's own estimate leaves out what its values
/// write, so it is doubled.
pub fn render_sized<T: Template>(
    status: StatusCode,
    template: &T,
    extra: usize,
) -> Result<HttpResponse, AppError> {
    let mut body = String::with_capacity(2 * T::SIZE_HINT + extra);
    template
        .render_into(&mut body)
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

/// The pages' side of the one password re-check (`ops::reauth`): the signed-in user's password,
/// unless this session re-entered it within `SUDO_MINUTES`.
pub async fn reconfirm_password(
    cx: &page::Page,
    typed: &str,
) -> Result<ops::reauth::Reauth, AppError> {
    let user = cx.auth.require_user()?;
    let ctx = cx.auth.ctx();
    let session = Some(&cx.auth.session);
    ops::reauth::confirm_password(&cx.pool, &cx.settings, &ctx, user, Some(typed), session).await
}

/// Where to go after signing in: `next` resolved against `BASE_URL` the way a browser would
/// (tabs and newlines dropped, backslashes as slashes), kept only when it stays on this site;
/// anything else (another host, `//host`, `/\t/host`, another scheme) becomes `/`.
pub fn safe_next(base_url: &str, next: Option<&str>) -> String {
    let (Some(next), Ok(base)) = (next, url::Url::parse(base_url)) else {
        return "/".to_string();
    };
    match base.join(next) {
        // A path that starts with two slashes (`/.//host`, `/x/..//host`) would be read by the
        // browser as another host.
        Ok(target)
            if target.origin() == base.origin()
                && !target.path().starts_with("//")
                && !target.path().starts_with("/\\") =>
        {
            let mut local = target.path().to_string();
            if let Some(query) = target.query() {
                local.push('?');
                local.push_str(query);
            }
            local
        }
        _ => "/".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::{GROUPS, ROUTES, Route, safe_next, scoped};

    #[test]
    fn a_group_is_one_scope_only_where_no_later_route_could_take_its_paths() {
        let route = |path| Route {
            method: "get",
            path,
            handler: "",
        };
        // A later route under the prefix, through a parameter on either side, or the prefix
        // itself: the group stays routes one by one.
        for later in [
            "/orgs/{slug}/users",
            "/orgs/new/users",
            "/{any}/x/users",
            "/orgs/x",
        ] {
            assert!(!scoped("/orgs/{slug}", &[route(later)]), "{later}");
        }
        assert!(!scoped("/orgs", &[route("/orgs/{slug}")]));
        assert!(!scoped("", &[]), "the empty prefix begins every path");
        // Paths the prefix does not begin: a sibling, a shorter path, another first segment.
        for later in [
            "/orgs/{slug}/settings",
            "/orgs/{slug}",
            "/operator/orgs/{id}",
        ] {
            assert!(scoped("/orgs/{slug}/access", &[route(later)]), "{later}");
        }
        // The pages a request most often asks for are reached through one scope each.
        let scopes: Vec<_> = GROUPS.iter().map(|g| g.0).zip(super::scopes()).collect();
        for prefix in [
            "/orgs/{slug}/access",
            "/orgs/{slug}",
            "/api/v1/organizations/{id}",
        ] {
            assert!(scopes.contains(&(prefix, true)), "{scopes:?}");
        }
        assert!(scopes.contains(&("/orgs", false)), "{scopes:?}");
    }

    #[test]
    fn no_organization_slug_can_shadow_a_page() {
        for route in ROUTES {
            let Some(rest) = route.path.strip_prefix("/orgs/") else {
                continue;
            };
            let segment = rest.split('/').next().unwrap_or_default();
            if !segment.starts_with('{') {
                assert!(
                    crate::domain::RESERVED_SLUGS.contains(&segment),
                    "/orgs/{segment} is a page: add it to domain::RESERVED_SLUGS"
                );
            }
        }
    }

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        let base = "http://127.0.0.1:8080";
        let next = |n: &str| safe_next(base, Some(n));
        assert_eq!(next("/orgs/acme?tab=users"), "/orgs/acme?tab=users");
        assert_eq!(next("/invitations/abc"), "/invitations/abc");
        assert_eq!(safe_next(base, None), "/");
        for attack in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "\t//evil.example",
            "/\n/evil.example",
            "http://127.0.0.1:8081/x",
            "javascript:alert(1)",
            "/%09/evil.example",
            "/.//evil.example",
            "/x/..//evil.example",
            "/%2e//evil.example",
            "http://127.0.0.1:8080//evil.example",
        ] {
            let followed = next(attack);
            assert!(
                followed == "/" || (followed.starts_with('/') && !followed.starts_with("//")),
                "{attack:?} became {followed:?}"
            );
            assert!(
                !followed.contains("evil.example") || followed.starts_with("/%09/"),
                "{attack:?} became {followed:?}"
            );
        }
        assert_eq!(
            next("/\n/x"),
            "/",
            "a newline cannot reach the Location header"
        );
    }
}
