//! Environment pages, for members with a role there: configuration values (secrets masked;
//! reveal, create, edit, delete for support and engineer) and environment API keys (engineers
//! create — shown once — and revoke). Without a role in the environment there is no entry.

use crate::routes::page::{Page, PageRequest};
use crate::routes::time::Shown as _;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::Auth;
use crate::auth::csrf::CsrfForm;
use crate::auth::session::FlashKind;
use crate::authz::{self, EnvKind, EnvPermission, EnvRole};
use crate::db::assets::{self, ApiKey, ConfigValue};
use crate::db::orgs::{Access, EnvironmentAccess};
use crate::db::users::User;
use crate::db::{self, PgPool};
use crate::error::AppError;
use crate::ops;
use crate::routes::accounts::signin::NoFields;
use crate::routes::layout::{FieldErrors, Layout};
use crate::routes::{render, reveal, see_other};

/// The pages' side of the one enforcement path for environments (`ops::access::require_env`).
pub async fn require_env(
    pool: &PgPool,
    auth: &Auth,
    slug: &str,
    kind: &str,
    permission: EnvPermission,
) -> Result<(User, Access, EnvironmentAccess), AppError> {
    let kind: EnvKind = kind.parse().map_err(|_| AppError::NotFound)?;
    let user = auth.require_user()?.clone();
    let (access, env) = crate::ops::access::require_env(
        pool,
        &auth.ctx(),
        crate::db::orgs::OrgRef::Slug(slug.to_string()),
        kind,
        permission,
    )
    .await?;
    Ok((user, access, env))
}

#[derive(Template)]
#[template(path = "environments/show.html")]
struct EnvPage {
    layout: Layout,
    org_name: String,
    slug: String,
    kind: EnvKind,
    role: EnvRole,
    reachable: Vec<EnvironmentAccess>,
    configs: Vec<ConfigValue>,
    keys: Vec<ApiKey>,
    can_edit: bool,
    can_reveal: bool,
    can_manage_keys: bool,
    revealed: Option<(i64, String)>,
    new_key: Option<String>,
    form_key: String,
    form_value: String,
    form_secret: bool,
    form_key_name: String,
    errors: FieldErrors,
}

#[derive(Default)]
struct Extra {
    revealed: Option<(i64, String)>,
    new_key: Option<String>,
    form_key: String,
    form_value: String,
    form_secret: bool,
    form_key_name: String,
    errors: FieldErrors,
}

async fn env_page(
    cx: &Page,
    access: Access,
    env: EnvironmentAccess,
    status: StatusCode,
    extra: Extra,
) -> Result<HttpResponse, AppError> {
    let (org_id, env_id) = (access.org.id, env.id);
    let listed = db::run(&cx.pool, move |c| assets::list(c, org_id, env_id)).await?;
    let layout = cx.layout(env_title(&access, &env)).await?;
    show_env(cx, access, env, status, extra, listed, layout)
}

fn env_title(access: &Access, env: &EnvironmentAccess) -> String {
    format!("{} · {}", env.kind.label(), access.org.name)
}

fn show_env(
    cx: &Page,
    access: Access,
    env: EnvironmentAccess,
    status: StatusCode,
    extra: Extra,
    (configs, keys): (Vec<ConfigValue>, Vec<ApiKey>),
    layout: Layout,
) -> Result<HttpResponse, AppError> {
    let role = env.role.ok_or(AppError::Forbidden)?;
    cx.auth.session.set_current_org(&access.org.slug);
    render(
        status,
        &EnvPage {
            layout,
            org_name: access.org.name.clone(),
            slug: access.org.slug.clone(),
            kind: env.kind,
            role,
            reachable: access
                .environments
                .iter()
                .filter(|e| e.role.is_some())
                .cloned()
                .collect(),
            configs,
            keys,
            can_edit: authz::env_can(env.role, EnvPermission::EditConfig),
            can_reveal: authz::env_can(env.role, EnvPermission::RevealSecrets),
            can_manage_keys: authz::env_can(env.role, EnvPermission::ManageApiKeys),
            revealed: extra.revealed,
            new_key: extra.new_key,
            form_key: extra.form_key,
            form_value: extra.form_value,
            form_secret: extra.form_secret,
            form_key_name: extra.form_key_name,
            errors: extra.errors,
        },
    )
}

pub async fn show(
    page_request: PageRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (slug, kind) = path.into_inner();
    let parsed: EnvKind = kind.parse().map_err(|_| AppError::NotFound)?;
    let (cx, access, env, listed, layout) = page_request
        .env_page(
            &slug,
            parsed,
            EnvPermission::Enter,
            |c, access, env| assets::list(c, access.org.id, env.id),
            env_title,
        )
        .await?;
    let place = format!("/orgs/{slug}/env/{kind}");
    let extra = Extra {
        new_key: reveal::take(&cx, &place),
        ..Extra::default()
    };
    let shown = show_env(&cx, access, env, StatusCode::OK, extra, listed, layout)?;
    Ok(reveal::cleared(&cx, shown, &place))
}

fn target(access: &Access, env: &EnvironmentAccess, user: &User) -> ops::assets::EnvTarget {
    ops::assets::EnvTarget {
        access: access.clone(),
        env: env.clone(),
        user_id: user.id,
    }
}

fn back(slug: &str, kind: &str) -> HttpResponse {
    see_other(&format!("/orgs/{slug}/env/{kind}"))
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct ConfigForm {
    pub key: String,
    pub value: String,
    pub secret: String,
}

fn check_value(value: &str, errors: &mut FieldErrors) {
    if value.chars().count() > 4096 {
        errors.add("value", "Values are at most 4096 characters.");
    }
}

pub async fn create_config(
    cx: Page,
    path: web::Path<(String, String)>,
    CsrfForm(form): CsrfForm<ConfigForm>,
) -> Result<HttpResponse, AppError> {
    let Page { pool, auth, .. } = &cx;
    let (slug, kind) = path.into_inner();
    let (user, access, env) =
        require_env(pool, auth, &slug, &kind, EnvPermission::EditConfig).await?;
    let mut errors = FieldErrors::default();
    let key = form.key.trim().to_string();
    let key_ok = !key.is_empty()
        && key.len() <= 128
        && key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if !key_ok {
        errors.add(
            "key",
            "Use letters, digits, _ . or -, starting with a letter or _ (at most 128).",
        );
    }
    check_value(&form.value, &mut errors);
    let secret = !form.secret.is_empty();
    if errors.is_empty() {
        let target = target(&access, &env, &user);
        let value = form.value.clone();
        let created =
            ops::assets::create_config(pool, &auth.ctx(), target, key, value, secret).await?;
        if created {
            auth.session.flash(
                FlashKind::Success,
                format!("{} was added to {}.", form.key.trim(), env.kind.label()),
            );
            return Ok(back(&slug, &kind));
        }
        errors.add(
            "key",
            "This key already exists in this environment; edit it instead.",
        );
    }
    let extra = Extra {
        form_key: form.key,
        form_value: form.value,
        form_secret: secret,
        errors,
        ..Extra::default()
    };
    env_page(&cx, access, env, StatusCode::UNPROCESSABLE_ENTITY, extra).await
}

pub async fn update_config(
    cx: Page,
    path: web::Path<(String, String, i64)>,
    CsrfForm(form): CsrfForm<ConfigForm>,
) -> Result<HttpResponse, AppError> {
    let Page { pool, auth, .. } = &cx;
    let (slug, kind, id) = path.into_inner();
    let (user, access, env) =
        require_env(pool, auth, &slug, &kind, EnvPermission::EditConfig).await?;
    let mut errors = FieldErrors::default();
    check_value(&form.value, &mut errors);
    if !errors.is_empty() {
        return env_page(
            &cx,
            access,
            env,
            StatusCode::UNPROCESSABLE_ENTITY,
            Extra {
                errors,
                ..Extra::default()
            },
        )
        .await;
    }
    let secret = !form.secret.is_empty();
    let target = target(&access, &env, &user);
    let key = ops::assets::update_config(pool, &auth.ctx(), target, id, form.value, secret)
        .await?
        .ok_or(AppError::NotFound)?;
    auth.session.flash(
        FlashKind::Success,
        format!("{key} was saved in {}.", env.kind.label()),
    );
    Ok(back(&slug, &kind))
}

pub async fn delete_config(
    pool: web::Data<PgPool>,
    auth: Auth,
    path: web::Path<(String, String, i64)>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let (slug, kind, id) = path.into_inner();
    let (user, access, env) =
        require_env(&pool, &auth, &slug, &kind, EnvPermission::EditConfig).await?;
    let target = target(&access, &env, &user);
    let kind_label = env.kind.label();
    let key = ops::assets::delete_config(&pool, &auth.ctx(), target, id)
        .await?
        .ok_or(AppError::NotFound)?;
    auth.session.flash(
        FlashKind::Success,
        format!("{key} was deleted from {kind_label}."),
    );
    Ok(back(&slug, &kind))
}

pub async fn reveal_config(
    cx: Page,
    path: web::Path<(String, String, i64)>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let Page { pool, auth, .. } = &cx;
    let (slug, kind, id) = path.into_inner();
    let (user, access, env) =
        require_env(pool, auth, &slug, &kind, EnvPermission::RevealSecrets).await?;
    let target = target(&access, &env, &user);
    let revealed = ops::assets::reveal_config(pool, &auth.ctx(), target, id)
        .await?
        .ok_or(AppError::NotFound)?;
    env_page(
        &cx,
        access,
        env,
        StatusCode::OK,
        Extra {
            revealed: Some(revealed),
            ..Extra::default()
        },
    )
    .await
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct KeyForm {
    pub name: String,
}

pub async fn create_key(
    cx: Page,
    path: web::Path<(String, String)>,
    CsrfForm(form): CsrfForm<KeyForm>,
) -> Result<HttpResponse, AppError> {
    let Page { pool, auth, .. } = &cx;
    let (slug, kind) = path.into_inner();
    let (user, access, env) =
        require_env(pool, auth, &slug, &kind, EnvPermission::ManageApiKeys).await?;
    let name = form.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        let mut errors = FieldErrors::default();
        errors.add(
            "name",
            "Name the key (1 to 100 characters) so you can tell it apart later.",
        );
        return env_page(
            &cx,
            access,
            env,
            StatusCode::UNPROCESSABLE_ENTITY,
            Extra {
                form_key_name: form.name,
                errors,
                ..Extra::default()
            },
        )
        .await;
    }
    let target = target(&access, &env, &user);
    let key = ops::assets::create_key(pool, &auth.ctx(), target, name).await?;
    Ok(reveal::redirect_showing(
        &cx,
        &format!("/orgs/{slug}/env/{kind}"),
        &key,
    ))
}

pub async fn revoke_key(
    pool: web::Data<PgPool>,
    auth: Auth,
    path: web::Path<(String, String, i64)>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let (slug, kind, id) = path.into_inner();
    let (user, access, env) =
        require_env(&pool, &auth, &slug, &kind, EnvPermission::ManageApiKeys).await?;
    let target = target(&access, &env, &user);
    match ops::assets::revoke_key(&pool, &auth.ctx(), target, id).await? {
        Some(name) => auth.session.flash(
            FlashKind::Success,
            format!("The key “{name}” was revoked; it stops working at once."),
        ),
        None => auth
            .session
            .flash(FlashKind::Error, "This key was already revoked."),
    }
    Ok(back(&slug, &kind))
}
