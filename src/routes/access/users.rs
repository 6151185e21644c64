//! Active users: the searchable, paginated member list, Quick view, and Remove.

use crate::domain::ids::UserId;
use crate::routes::page::PageRequest;
use crate::routes::pagination::{PAGE_SIZE, Pagination};
use crate::routes::time::Shown as _;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{Tabs, user_id};
use crate::auth::Auth;
use crate::auth::csrf::CsrfForm;
use crate::auth::session::FlashKind;
use crate::authz::{self, OrgPermission, OrgRole};
use crate::db::members::{ListCache, Member, RemoveOutcome};
use crate::db::{self, PgPool};
use crate::email::worker::OutboxSignal;
use crate::error::AppError;
use crate::routes::accounts::signin::NoFields;
use crate::routes::layout::Layout;
use crate::routes::{render, require_org, see_other};
use std::sync::Arc;

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    pub q: String,
    pub page: Option<i64>,
}

#[derive(Template)]
#[template(path = "access/users.html")]
struct UsersPage {
    layout: Layout,
    tabs: Tabs,
    org_name: String,
    members: Arc<Vec<Member>>,
    total: i64,
    pagination: Pagination,
    q: String,
}

pub async fn list(
    page_request: PageRequest,
    slug: web::Path<String>,
    query: web::Query<ListQuery>,
    lists: web::Data<ListCache>,
) -> Result<HttpResponse, AppError> {
    let ListQuery { q, page } = query.into_inner();
    let q: String = q.trim().chars().take(100).collect();
    let page = Pagination::page_asked(page);
    let search = q.clone();
    let (_, access, (members, total), layout) = page_request
        .org_page(
            &slug,
            OrgPermission::ViewOrgRoles,
            move |c, access| lists.list(c, access, &search, Pagination::offset(page), PAGE_SIZE),
            |access| format!("Active users · {}", access.org.name),
        )
        .await?;
    let pagination = Pagination::new(
        page,
        total,
        &format!("/orgs/{}/access/users", access.org.slug),
        &format!(
            "q={}",
            url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
        ),
    );
    render(
        StatusCode::OK,
        &UsersPage {
            layout,
            tabs: Tabs::new(&access, "users"),
            org_name: access.org.name.clone(),
            members,
            total,
            pagination,
            q,
        },
    )
}

#[derive(Template)]
#[template(path = "access/member.html")]
struct MemberPage {
    layout: Layout,
    tabs: Tabs,
    org_name: String,
    member: Member,
    can_remove: bool,
}

/// Whether someone with `role` may remove `target` (the rule is checked again, under lock, when
/// removing).
fn may_remove(role: OrgRole, me: UserId, target: &Member) -> bool {
    target.user_id != me && authz::may_remove(role, target.role)
}

pub async fn show(
    page_request: PageRequest,
    path: web::Path<(String, UserId)>,
) -> Result<HttpResponse, AppError> {
    let (slug, member_id) = path.into_inner();
    let (cx, access, member, layout) = super::member_page(
        page_request,
        &slug,
        member_id,
        OrgPermission::ViewOrgRoles,
        |member, access| format!("{} · {}", member.name, access.org.name),
    )
    .await?;
    let can_remove = may_remove(access.role, user_id(&cx.auth), &member);
    render(
        StatusCode::OK,
        &MemberPage {
            layout,
            tabs: Tabs::new(&access, "users"),
            org_name: access.org.name.clone(),
            member,
            can_remove,
        },
    )
}

pub async fn remove(
    pool: web::Data<PgPool>,
    outbox: web::Data<OutboxSignal>,
    auth: Auth,
    path: web::Path<(String, UserId)>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let (slug, member_id) = path.into_inner();
    let (_, access) = require_org(&pool, &auth, &slug, OrgPermission::RemoveUsers).await?;
    let org_id = access.org.id;
    let name = db::run(&pool, move |c| db::members::find(c, org_id, member_id))
        .await?
        .map_or_else(|| "The member".to_string(), |m| m.name);
    let outcome =
        crate::ops::members::remove(&pool, &outbox, &auth.ctx(), access.org.id, member_id).await?;
    let back = format!("/orgs/{slug}/access/users/{member_id}");
    match outcome {
        RemoveOutcome::Removed => {
            auth.session.flash(
                FlashKind::Success,
                format!("{name} was removed from {}. Their access ended at once, and they were told by email.", access.org.name),
            );
            Ok(see_other(&format!("/orgs/{slug}/access/users")))
        }
        RemoveOutcome::NotMember => Err(AppError::NotFound),
        RemoveOutcome::NotAllowed => Err(AppError::Forbidden),
        RemoveOutcome::LastOwner => {
            auth.session.flash(FlashKind::Error, "This is the last owner, who cannot be removed. Make another member an owner first.");
            Ok(see_other(&back))
        }
        RemoveOutcome::Yourself => {
            auth.session.flash(
                FlashKind::Error,
                "To remove yourself, leave the organization from its page.",
            );
            Ok(see_other(&back))
        }
    }
}
