//! The page context: what every page handler needs (the pool, the settings and who is asking),
//! taken as one extractor and passed to renderers as one value.

use std::future::{Future, Ready, ready};
use std::pin::Pin;

use actix_session::{Session, SessionExt};
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};

use crate::audit::RequestMeta;
use crate::auth::Auth;
use crate::auth::session::{self, TypedSession};
use crate::authz::{EnvKind, EnvPermission, OrgPermission};
use crate::config::Settings;
use crate::db::orgs::{EnvironmentAccess, OrgRef};
use crate::db::sessions::SignedIn;
use crate::db::{self, PgPool, orgs::Access, users::User};
use crate::error::AppError;
use crate::ops::Ctx;
use crate::routes::layout::Layout;

pub struct Page {
    pub pool: web::Data<PgPool>,
    pub settings: web::Data<Settings>,
    pub auth: Auth,
    /// The request, for what only it carries (cookies other than the session's).
    pub request: HttpRequest,
}

impl Page {
    /// The frame of a page titled `title`.
    pub async fn layout(&self, title: impl Into<String>) -> Result<Layout, AppError> {
        Layout::load(self, title).await
    }

    /// The signed-in user and their access to the organization `slug`, through the one
    /// enforcement path.
    pub async fn require_org(
        &self,
        slug: &str,
        permission: OrgPermission,
    ) -> Result<(User, Access), AppError> {
        super::require_org(&self.pool, &self.auth, slug, permission).await
    }
}

impl FromRequest for Page {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let registered = session::registered(req);
        let auth = Auth::from_request(req, payload);
        let request = req.clone();
        Box::pin(async move {
            let (pool, settings) = registered?;
            Ok(Page {
                pool,
                settings,
                auth: auth.await?,
                request,
            })
        })
    }
}

/// A page that reads who is asking with its own data: the session (a stored one, not read yet),
/// the access check and the page's data in one trip to the database. Nothing is known of the
/// asker before that trip, so nothing can be decided before it; the trip gives the `Page`.
pub struct PageRequest {
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    session: Session,
    meta: RequestMeta,
    path: String,
    request: HttpRequest,
}

/// Work done on the page's trip once the session is read: the connection, who the session signs
/// in (None for a visitor), the request's context for the audit log, and, when the session was
/// read on this trip for an organization's page, the signed-in user's access to it read with
/// the session (`Some(None)`: not a member).
type Work<R> = Box<
    dyn FnOnce(
            &mut db::PgConn,
            Option<&SignedIn>,
            &Ctx,
            Option<Option<Access>>,
        ) -> db::QueryResult<Result<R, AppError>>
        + Send,
>;

impl PageRequest {
    /// The request, for what the application registers besides the pool and the settings.
    pub fn request(&self) -> &HttpRequest {
        &self.request
    }

    /// The one trip: the session if it is still to be read (with the access to the organization
    /// `org` names, for its page), then `work`; then the page context.
    async fn trip<R: Send + 'static>(
        self,
        org: Option<String>,
        work: Work<R>,
    ) -> Result<(Page, R), AppError> {
        let pending = session::pending(&self.session);
        let known = match pending {
            Some(_) => None,
            None => session::signed_in(&self.request),
        };
        let lifetimes = self.settings.session_lifetimes();
        let switchers = session::switchers(&self.request);
        let kept = session::kept_access(&self.request);
        let (meta, path) = (self.meta.clone(), self.path.clone());
        let (read, done) = db::run(&self.pool, move |c| -> Result<_, AppError> {
            let (read, access) = match pending {
                Some(hash) => {
                    let read = db::sessions::read(
                        c,
                        &hash,
                        lifetimes,
                        org.as_deref().map(|slug| (slug, kept.get_ref())),
                        switchers.as_ref().map(|s| s.get_ref()),
                    )?;
                    (Some((read.state, read.who)), org.map(|_| read.access))
                }
                None => (None, None),
            };
            let (read, who) = match read {
                Some((state, who)) => (Some(state), who),
                None => (None, known),
            };
            let ctx = Ctx {
                actor: crate::auth::actor_of(who.as_ref().map(|w| &w.user)),
                meta,
                path,
            };
            let done = work(c, who.as_ref(), &ctx, access)?;
            Ok((read, (who, done)))
        })
        .await?;
        let (who, done) = done;
        if let Some(read) = read {
            session::hand_over(&self.request, who.clone());
            session::fill(&self.session, read)?;
        }
        let auth = Auth::with(TypedSession::read(self.session), who, self.meta, self.path)?;
        let page = Page {
            pool: self.pool,
            settings: self.settings,
            auth,
            request: self.request,
        };
        Ok((page, done?))
    }

    /// An organization page: the signed-in user's access to `slug` (the one enforcement path),
    /// what `load` reads with it, and the frame of the page titled by `title`.
    pub async fn org_page<T, F>(
        self,
        slug: &str,
        permission: OrgPermission,
        load: F,
        title: impl FnOnce(&Access) -> String,
    ) -> Result<(Page, Access, T, Layout), AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut db::PgConn, &Access) -> db::QueryResult<T> + Send + 'static,
    {
        let org = OrgRef::Slug(slug.to_string());
        let sign_in = AppError::SignInRequired(self.path.clone());
        let (cx, (access, data)) = self
            .trip(
                Some(slug.to_string()),
                Box::new(move |c, who, ctx, read| match who {
                    Some(who) => crate::ops::access::decide_and_load(
                        c,
                        ctx,
                        who.user.id,
                        &org,
                        read,
                        permission,
                        load,
                    ),
                    None => Ok(Err(sign_in)),
                }),
            )
            .await?;
        let layout = Layout::new(&cx, title(&access))?;
        Ok((cx, access, data, layout))
    }

    /// An organization page that shows what the access check reads (the organization, the
    /// asker's roles): the check and the frame titled by `title`.
    pub async fn org_frame(
        self,
        slug: &str,
        permission: OrgPermission,
        title: impl FnOnce(&Access) -> String,
    ) -> Result<(Page, Access, Layout), AppError> {
        let (cx, access, (), layout) = self
            .org_page(slug, permission, |_, _| Ok(()), title)
            .await?;
        Ok((cx, access, layout))
    }

    /// An environment's page: the signed-in user's access to the organization and to its
    /// environment `kind` (the same decision as `ops::access::require_env`), what `load` reads
    /// with them, and the frame of the page titled by `title`.
    pub async fn env_page<T, F>(
        self,
        slug: &str,
        kind: EnvKind,
        permission: EnvPermission,
        load: F,
        title: impl FnOnce(&Access, &EnvironmentAccess) -> String,
    ) -> Result<(Page, Access, EnvironmentAccess, T, Layout), AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut db::PgConn, &Access, &EnvironmentAccess) -> db::QueryResult<T>
            + Send
            + 'static,
    {
        let (cx, access, entered, layout) = self
            .org_page(
                slug,
                OrgPermission::ViewOrganization,
                move |c, access| match crate::ops::access::environment(access, kind, permission) {
                    Ok(env) => load(c, access, &env).map(|data| Ok((env, data))),
                    Err(refused) => Ok(Err(refused)),
                },
                |access| access.org.name.clone(),
            )
            .await?;
        let (env, data) = entered?;
        let mut layout = layout;
        layout.title = title(&access, &env);
        Ok((cx, access, env, data, layout))
    }

    /// A page of the signed-in user's own: what `load` reads for them.
    pub async fn signed_in_page<T, F>(self, load: F) -> Result<(Page, T), AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut db::PgConn, &SignedIn) -> db::QueryResult<T> + Send + 'static,
    {
        let sign_in = AppError::SignInRequired(self.path.clone());
        self.trip(
            None,
            Box::new(move |c, who, _, _| match who {
                Some(who) => load(c, who).map(Ok),
                None => Ok(Err(sign_in)),
            }),
        )
        .await
    }
}

impl FromRequest for PageRequest {
    type Error = AppError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let (pool, settings) = match session::registered(req) {
            Ok(registered) => registered,
            Err(e) => return ready(Err(e)),
        };
        ready(Ok(PageRequest {
            pool,
            settings,
            session: req.get_session(),
            meta: crate::auth::request_meta(req),
            path: crate::auth::request_path(req),
            request: req.clone(),
        }))
    }
}
