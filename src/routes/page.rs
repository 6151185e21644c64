//! The page context: what every page handler needs (the pool, the settings and who is asking),
//! taken as one extractor and passed to renderers as one value.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};

use crate::auth::Auth;
use crate::authz::OrgPermission;
use crate::config::Settings;
use crate::db::orgs::OrgRef;
use crate::db::{self, PgPool, orgs::Access, users::User};
use crate::error::AppError;
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

    /// An organization page's one trip to the database: the signed-in user's access to `slug`
    /// (the one enforcement path), what `load` reads with it, and the frame of the page titled by
    /// `title`.
    pub async fn org_page<T, F>(
        &self,
        slug: &str,
        permission: OrgPermission,
        load: F,
        title: impl FnOnce(&Access) -> String,
    ) -> Result<(Access, T, Layout), AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut db::PgConn, &Access) -> db::QueryResult<T> + Send + 'static,
    {
        self.auth.require_user()?;
        let org = OrgRef::Slug(slug.to_string());
        let (access, data) =
            crate::ops::access::with_org(&self.pool, &self.auth.ctx(), org, permission, load)
                .await?;
        let layout = Layout::new(self, title(&access))?;
        Ok((access, data, layout))
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
        let pool = req.app_data::<web::Data<PgPool>>().cloned();
        let settings = req.app_data::<web::Data<Settings>>().cloned();
        let auth = Auth::from_request(req, payload);
        let request = req.clone();
        Box::pin(async move {
            let (Some(pool), Some(settings)) = (pool, settings) else {
                return Err(AppError::Internal(anyhow::anyhow!(
                    "the pool and settings are not registered"
                )));
            };
            Ok(Page {
                pool,
                settings,
                auth: auth.await?,
                request,
            })
        })
    }
}
