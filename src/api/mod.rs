//! The Platform API: JSON over `Authorization: Bearer` personal API keys, through the same
//! database functions and permission table as the pages. Responses are wrapped as
//! `{"meta": {"version": ...}, "payload": ...}`; errors are `{"error": {"code", "message"}}`.

pub mod openapi;
pub mod reads;
pub mod writes;

use std::future::Future;
use std::pin::Pin;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, dev::Payload, web};
use serde::Serialize;

use crate::authz::OrgPermission;
use crate::db::orgs::{Access, OrgRef};
use crate::db::users::User;
use crate::db::{self, PgPool};
use crate::error::AppError;

pub const VERSION: &str = "1";

/// An API error with a stable code.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds, for 429 answers.
    pub retry_after: Option<i64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Send a valid personal API key as 'Authorization: Bearer KEY'.",
        )
    }

    pub fn not_found() -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "There is nothing here, or you do not have access to it.",
        )
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::NotFound => ApiError::not_found(),
            AppError::Forbidden => ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Your role does not allow this.",
            ),
            AppError::BadRequest(m) => ApiError::new(StatusCode::BAD_REQUEST, "bad_request", m),
            AppError::Csrf | AppError::SignInRequired(_) => ApiError::unauthorized(),
            AppError::Internal(e) => {
                tracing::error!(error = ?e, "API request failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "The server could not complete this request.",
                )
            }
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        response
            .json(serde_json::json!({ "error": { "code": self.code, "message": self.message } }))
    }
}

/// A required id from the query string (`?userId=7`), or a 422 naming the parameter.
pub fn query_id(req: &HttpRequest, name: &str) -> Result<i64, ApiError> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| v.parse().ok())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_parameter",
                format!("{name}: a whole-number id is required"),
            )
        })
}

/// A successful answer in the envelope.
pub fn envelope(payload: impl Serialize) -> HttpResponse {
    HttpResponse::Ok()
        .json(serde_json::json!({ "meta": { "version": VERSION }, "payload": payload }))
}

/// The user a valid personal API key acts for, read from the database on every request.
pub struct Caller {
    pub user: User,
    pub key_id: i64,
    pub meta: crate::audit::RequestMeta,
    pub path: String,
}

impl Caller {
    /// Who acts and from which request, for the use cases of `ops`.
    pub fn ctx(&self) -> crate::ops::Ctx {
        crate::ops::Ctx {
            actor: self.actor(),
            meta: self.meta.clone(),
            path: self.path.clone(),
        }
    }

    /// How changes made through the API appear in the audit log.
    pub fn actor(&self) -> crate::audit::Actor {
        crate::audit::Actor::ApiKey {
            key_id: self.key_id,
            user_id: self.user.id,
            email: self.user.email.clone(),
        }
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let key = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|k| k.trim().to_string());
        let pool = req.app_data::<web::Data<PgPool>>().cloned();
        let meta = crate::auth::request_meta(req);
        let path = req.path().to_string();
        let limit = req
            .app_data::<web::Data<crate::config::Settings>>()
            .map(|s| s.api_rate_per_minute)
            .unwrap_or(600);
        Box::pin(async move {
            let (Some(key), Some(pool)) = (key, pool) else {
                return Err(ApiError::unauthorized());
            };
            let found =
                db::run(&pool, move |c| db::api_keys::authenticate_counted(c, &key)).await?;
            match found {
                Some(found) if i64::from(found.requests) > limit => {
                    let retry_after = found.retry_after;
                    Err(ApiError {
                        status: StatusCode::TOO_MANY_REQUESTS,
                        code: "rate_limited",
                        message: format!(
                            "At most {limit} requests a minute per key. Retry after {retry_after} seconds."
                        ),
                        retry_after: Some(retry_after),
                    })
                }
                Some(found) => Ok(Caller {
                    user: found.user,
                    key_id: found.key_id,
                    meta,
                    path,
                }),
                None => Err(ApiError::unauthorized()),
            }
        })
    }
}

/// The API's side of the one enforcement path (`ops::access`): the caller's access to the
/// organization when their role there has `permission`; refusals are audited as on the pages.
pub async fn require_org(
    pool: &PgPool,
    caller: &Caller,
    org: OrgRef,
    permission: OrgPermission,
) -> Result<Access, ApiError> {
    Ok(crate::ops::access::require_org(pool, &caller.ctx(), org, permission).await?)
}

/// GET /api/v1/organizations: the caller's organizations with their role.
pub async fn organizations(
    pool: web::Data<PgPool>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let user_id = caller.user.id;
    let rows = db::run(&pool, move |c| db::orgs::with_roles(c, user_id)).await?;
    Ok(envelope(rows))
}

#[derive(Serialize)]
struct EnvironmentOut {
    id: i64,
    kind: &'static str,
    role: &'static str,
}

/// GET /api/v1/organizations/{id}/environments: the environments the caller can enter.
pub async fn environments(
    pool: web::Data<PgPool>,
    caller: Caller,
    org_id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let access = require_org(
        &pool,
        &caller,
        OrgRef::Id(org_id.into_inner()),
        OrgPermission::ViewOrganization,
    )
    .await?;
    let envs: Vec<EnvironmentOut> = access
        .environments
        .iter()
        .filter_map(|e| {
            Some(EnvironmentOut {
                id: e.id,
                kind: e.kind.as_str(),
                role: e.role?.as_str(),
            })
        })
        .collect();
    Ok(envelope(envs))
}

/// Unknown paths under /api answer in JSON too.
pub async fn not_found() -> ApiError {
    ApiError::not_found()
}
