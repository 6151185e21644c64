//! Active users: the searchable, paginated member list, Quick view, and Remove.

use crate::domain::ids::UserId;
use crate::routes::page::PageRequest;
use crate::routes::pagination::{PAGE_SIZE, Pagination};
use crate::routes::time::{Shown, relative};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{Tabs, user_id};
use crate::auth::Auth;
use crate::auth::csrf::CsrfForm;
use crate::auth::session::FlashKind;
use crate::authz::{self, OrgPermission, OrgRole};
use crate::db::kept::Kept;
use crate::db::members::{ListCache, Member, RemoveOutcome};
use crate::db::{self, PgPool};
use crate::domain::ids::OrgId;
use crate::email::worker::OutboxSignal;
use crate::error::AppError;
use crate::routes::accounts::signin::NoFields;
use crate::routes::layout::Layout;
use crate::routes::{render, render_sized, require_org, see_other};
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
    rows: Live,
    total: i64,
    pagination: Pagination,
    q: String,
}

/// Where a row's last sign-in is shown relative to now (`Live`): text no stored value holds
/// (PostgreSQL's text has no NUL), so a rendered row is cut there.
const LATER: char = '\0';

/// A page of members' rows, rendered by `user_rows.html` (its moments' relative part left as
/// `LATER`), cut into the pieces before, between and after their last sign-ins.
struct Rows {
    pieces: Vec<String>,
    moments: Vec<DateTime<Utc>>,
}

#[derive(Template)]
#[template(path = "access/user_rows.html")]
struct RowsTemplate<'a> {
    members: &'a [Member],
    slug: &'a str,
}

impl RowsTemplate<'_> {
    fn later(&self, at: &DateTime<Utc>) -> Later {
        Later(*at)
    }
}

/// A moment shown as the `when` macro shows it, but for its relative part: `LATER`.
struct Later(DateTime<Utc>);

impl Shown for Later {
    fn iso(&self) -> String {
        self.0.iso()
    }

    fn exact(&self) -> String {
        self.0.exact()
    }

    fn ago(&self) -> String {
        LATER.to_string()
    }
}

impl Rows {
    fn render(members: &[Member], slug: &str) -> Result<Rows, askama::Error> {
        let html = RowsTemplate { members, slug }.render()?;
        let pieces: Vec<String> = html.split(LATER).map(str::to_owned).collect();
        let moments: Vec<DateTime<Utc>> =
            members.iter().filter_map(|m| m.last_sign_in_at).collect();
        if pieces.len() == moments.len() + 1 {
            return Ok(Rows { pieces, moments });
        }
        // A marker more or less than the moments (the template changed): no time is shown out
        // of its row; the cells keep their exact time on hover.
        debug_assert!(
            false,
            "{} pieces for {} moments",
            pieces.len(),
            moments.len()
        );
        Ok(Rows {
            pieces: vec![pieces.concat()],
            moments: Vec::new(),
        })
    }
}

/// The rows of the member list's pages, rendered once per page, organization data version (the
/// version their list is kept at) and slug (in each row's links): the HTML of 50 rows is most of
/// the page's rendering, and only their last sign-ins, shown relative to now, change from one
/// request to the next. At most 32 pages, 8 of one organization's: a page of rows is about
/// 40 KiB, and up to three times that with the longest names.
#[derive(Default)]
pub struct RowsCache(Kept<OrgId, (String, String, i64), Arc<Rows>, 32, 8>);

/// Kept rows with each last sign-in shown relative to the moment of the request.
struct Live {
    rows: Arc<Rows>,
    now: DateTime<Utc>,
}

impl Live {
    /// About how many bytes the rows take (their relative times are short).
    fn len(&self) -> usize {
        let Rows { pieces, moments } = &*self.rows;
        pieces.iter().map(String::len).sum::<usize>() + 16 * moments.len()
    }
}

impl std::fmt::Display for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Rows { pieces, moments } = &*self.rows;
        for (i, piece) in pieces.iter().enumerate() {
            f.write_str(piece)?;
            if let Some(at) = moments.get(i) {
                f.write_str(&relative(*at, self.now))?;
            }
        }
        Ok(())
    }
}

pub async fn list(
    page_request: PageRequest,
    slug: web::Path<String>,
    query: web::Query<ListQuery>,
    lists: web::Data<ListCache>,
    rows: web::Data<RowsCache>,
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
    let slug = &access.org.slug;
    let kept = rows.0.get_or_read(
        access.org.id,
        access.data_version,
        (slug.clone(), q.clone(), page),
        || Rows::render(&members, slug).map(Arc::new),
    );
    let rows = Live {
        rows: kept.map_err(|e| AppError::Internal(anyhow::anyhow!("template: {e}")))?,
        now: Utc::now(),
    };
    let extra = rows.len();
    render_sized(
        StatusCode::OK,
        &UsersPage {
            layout,
            tabs: Tabs::new(&access, "users"),
            org_name: access.org.name.clone(),
            members,
            rows,
            total,
            pagination,
            q,
        },
        extra,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::{EnvKind, EnvRole};

    fn member(id: i64, name: &str, last_sign_in_at: Option<DateTime<Utc>>) -> Member {
        Member {
            user_id: UserId(id),
            name: name.into(),
            email: format!("{}@example.com", name.to_lowercase()),
            role: OrgRole::Member,
            joined_at: Utc::now(),
            last_sign_in_at,
            two_factor: true,
            environments: vec![
                (EnvKind::Development, Some(EnvRole::Engineer)),
                (EnvKind::Production, None),
            ],
        }
    }

    /// Rows are rendered once, but each request shows their last sign-ins relative to its own
    /// moment, and shows the rest as the page's template did.
    #[test]
    fn kept_rows_show_their_last_sign_ins_relative_to_each_request() {
        let at = Utc::now() - chrono::Duration::days(30);
        let members = [
            member(7, "Ada", Some(at)),
            member(8, "Bo <b>", None),
            member(9, "Cy", Some(at - chrono::Duration::hours(1))),
        ];
        let rows = Arc::new(Rows::render(&members, "acme").unwrap());
        let shown = |now| {
            Live {
                rows: rows.clone(),
                now,
            }
            .to_string()
        };
        let cell = |at: DateTime<Utc>, ago: &str| {
            format!(
                "<time datetime=\"{}\" title=\"{}\">{ago}</time>",
                at.iso(),
                at.exact()
            )
        };
        let cy = at - chrono::Duration::hours(1);
        let soon = shown(at + chrono::Duration::minutes(2));
        let (ada_soon, cy_soon) = (cell(at, "2 minutes ago"), cell(cy, "1 hour ago"));
        assert!(
            soon.find(&ada_soon).unwrap() < soon.find("Bo &#60;b&#62;").unwrap()
                && soon.find("Bo &#60;b&#62;").unwrap() < soon.find(&cy_soon).unwrap(),
            "each time in its own row: {soon}"
        );
        let later = shown(at + chrono::Duration::days(3));
        assert!(
            later.contains(&cell(at, "3 days ago")) && later.contains(&cell(cy, "3 days ago")),
            "{later}"
        );
        assert!(!later.contains(LATER), "{later}");
        assert_eq!(
            later
                .replace(&cell(at, "3 days ago"), &ada_soon)
                .replace(&cell(cy, "3 days ago"), &cy_soon),
            soon
        );
        for expected in [
            format!("<time datetime=\"{}\" title=\"{}\">", at.iso(), at.exact()),
            "Bo &#60;b&#62;".to_string(),
            "<span class=\"muted\">never</span>".to_string(),
            "<span class=\"badge\">development: engineer</span>".to_string(),
            "href=\"/orgs/acme/access/users/9/roles\"".to_string(),
        ] {
            assert!(later.contains(&expected), "{expected} in {later}");
        }
        assert!(!later.contains("production:"), "{later}");
    }
}
