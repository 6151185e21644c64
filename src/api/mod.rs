//! The Platform API: JSON over `Authorization: Bearer` personal API keys, through the same
//! database functions and permission table as the pages. Responses are wrapped as
//! `{"meta": {"version": ...}, "payload": ...}`; errors are `{"error": {"code", "message"}}`.

pub mod limit;
pub mod openapi;
pub mod reads;
pub mod writes;

use crate::domain::ids::{EnvId, OrgId};
use std::future::Future;
use std::pin::Pin;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, dev::Payload, web};
use serde::Serialize;

use crate::authz::{EnvKind, EnvRole, OrgPermission};
use crate::db::api_keys::KeyCheck;
use crate::db::orgs::OrgWithRole;
use crate::db::orgs::{Access, OrgRef};
use crate::db::users::User;
use crate::db::{self, PgPool};
use crate::error::AppError;

pub const VERSION: &str = "1";

/// Every error code the API answers with; clients may rely on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    Unauthorized,
    Forbidden,
    NotFound,
    BadRequest,
    Internal,
    RateLimited,
    InvalidParameter,
    InvalidBody,
    BodyTooLarge,
    LastOwner,
    Yourself,
    NotAssigned,
    AlreadyAssigned,
    PasswordRequired,
    PasswordLocked,
    AlreadyMember,
    DailyInvitationLimit,
    NotPending,
    EmailUnverified,
    InvalidCharacter,
    MethodNotAllowed,
    Unavailable,
    TwoFactorRequired,
    KeyExpired,
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = serde_json::to_value(self).ok();
        f.write_str(name.as_ref().and_then(|v| v.as_str()).unwrap_or("error"))
    }
}

/// An API error with a stable code.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    /// Seconds, for 429 answers.
    pub retry_after: Option<i64>,
}

/// The body of every error answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// The error answers of the API, as documented for every endpoint.
#[derive(utoipa::IntoResponses)]
pub enum ErrorResponses {
    /// No valid key
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// The role does not allow this
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// Not found, or not a member
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// Refused by an invariant or the current state
    #[response(status = 409)]
    Conflict(ErrorBody),
    /// The body is larger than 64 KiB
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// A parameter or the body is not valid
    #[response(status = 422)]
    Invalid(ErrorBody),
    /// Rate limited
    #[response(status = 429)]
    RateLimited(ErrorBody),
    /// The database cannot be reached; retry later
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> ApiError {
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
            ErrorCode::Unauthorized,
            "Send a valid personal API key as 'Authorization: Bearer KEY'.",
        )
    }

    pub fn invalid_parameter(message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidParameter,
            message,
        )
    }

    pub fn method_not_allowed(allow: &str) -> ApiError {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::MethodNotAllowed,
            format!("This address answers {allow} only."),
        )
    }

    pub fn unavailable() -> ApiError {
        ApiError {
            retry_after: Some(30),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Unavailable,
                "The database cannot be reached right now; try again shortly.",
            )
        }
    }

    pub fn not_found() -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
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
                ErrorCode::Forbidden,
                "Your role does not allow this.",
            ),
            AppError::TwoFactorRequired => ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::TwoFactorRequired,
                "This organization requires two-factor sign-in; turn it on for your account at /account/two-factor.",
            ),
            AppError::MethodNotAllowed => ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                ErrorCode::MethodNotAllowed,
                "This method is not allowed here.",
            ),
            AppError::BadRequest(m) => {
                ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, m)
            }
            AppError::Csrf | AppError::SignInRequired(_) => ApiError::unauthorized(),
            AppError::Unavailable => ApiError::unavailable(),
            AppError::Unstorable => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidCharacter,
                "A value contains a character that cannot be stored (such as a NUL byte).",
            ),
            AppError::UnstorableField(field) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidCharacter,
                format!("{field}: contains a character that cannot be stored (such as a NUL byte)"),
            ),
            AppError::Internal(e) => {
                tracing::error!(error = ?e, "API request failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorCode::Internal,
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
        response.json(ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message.clone(),
            },
        })
    }
}

/// A required id from the query string (`?userId=7`), or a 422 naming the parameter.
pub fn query_id<T: std::str::FromStr>(req: &HttpRequest, name: &str) -> Result<T, ApiError> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| v.parse().ok())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidParameter,
                format!("{name}: a whole-number id is required"),
            )
        })
}

/// Every successful answer: the API version and the payload.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Envelope<T> {
    pub meta: Meta,
    pub payload: T,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Meta {
    pub version: &'static str,
}

/// A successful answer in the envelope.
pub fn envelope<T: Serialize>(payload: T) -> HttpResponse {
    HttpResponse::Ok().json(Envelope {
        meta: Meta { version: VERSION },
        payload,
    })
}

/// A JSON body, read only after the key is checked: a bad key answers 401 whatever the body.
/// Extracting it never fails; `body` gives its value or the 413/422 it earned.
pub struct Body<T> {
    json: Result<serde_json::Value, ApiError>,
    into: std::marker::PhantomData<T>,
}

impl<T> FromRequest for Body<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = web::Json::<serde_json::Value>::from_request(req, payload);
        Box::pin(async move {
            let json = json.await.map(web::Json::into_inner).map_err(|e| {
                e.as_error::<ApiError>()
                    .cloned()
                    .unwrap_or_else(|| invalid_body(e.to_string()))
            });
            Ok(Body {
                json,
                into: std::marker::PhantomData,
            })
        })
    }
}

fn invalid_body(message: String) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidBody,
        message,
    )
}

/// The body of a request whose key was accepted: refused with 422 `invalid_character` naming
/// the field when it holds what the database cannot store (crate::input), else read as `T`.
pub fn body<T: serde::de::DeserializeOwned>(body: Body<T>) -> Result<T, ApiError> {
    let value = body.json?;
    if let Some(field) = crate::input::unstorable_json(&value) {
        return Err(AppError::UnstorableField(field).into());
    }
    serde_json::from_value(value).map_err(|e| invalid_body(format!("Json deserialize error: {e}")))
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

/// The key of an `Authorization: Bearer KEY` value; the scheme's name is case-insensitive
/// (RFC 9110 §11.1).
fn bearer_key(value: &str) -> Option<&str> {
    let (scheme, key) = value.trim().split_once(' ')?;
    let key = key.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !key.is_empty()).then_some(key)
}

/// What an API request brings to be authenticated: its key, and where it comes from.
pub struct CallerRequest {
    key: Option<String>,
    pool: Option<web::Data<PgPool>>,
    limiter: Option<web::Data<limit::RateLimiter>>,
    kept: web::Data<crate::db::orgs::KeptAccess>,
    meta: crate::audit::RequestMeta,
    path: String,
}

impl CallerRequest {
    fn of(req: &HttpRequest) -> CallerRequest {
        CallerRequest {
            key: req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(bearer_key)
                .map(str::to_string),
            pool: req.app_data::<web::Data<PgPool>>().cloned(),
            limiter: req.app_data::<web::Data<limit::RateLimiter>>().cloned(),
            kept: crate::auth::session::kept_access(req),
            meta: crate::auth::request_meta(req),
            path: req.path().to_string(),
        }
    }

    /// Authenticates the key, then runs `then` (given the caller) on the same connection: one
    /// trip to the database for both.
    pub async fn authenticated<R, F>(self, then: F) -> Result<(Caller, R), ApiError>
    where
        R: Send + 'static,
        F: FnOnce(&mut db::PgConn, &Caller) -> Result<R, AppError> + Send + 'static,
    {
        self.authenticated_for(None, move |c, caller, _| then(c, caller))
            .await
    }

    /// `authenticated` for a request naming the organization `org`: `then` is also given the
    /// caller's access to it when the key's check read it (`Some(None)`: not a member).
    async fn authenticated_for<R, F>(
        self,
        org: Option<OrgRef>,
        then: F,
    ) -> Result<(Caller, R), ApiError>
    where
        R: Send + 'static,
        F: FnOnce(&mut db::PgConn, &Caller, Option<Option<Access>>) -> Result<R, AppError>
            + Send
            + 'static,
    {
        let CallerRequest {
            key: Some(key),
            pool: Some(pool),
            limiter: Some(limiter),
            kept,
            meta,
            path,
        } = self
        else {
            return Err(ApiError::unauthorized());
        };
        let ip = meta.ip.clone();
        let admitted = db::run(&pool, move |c| -> Result<_, AppError> {
            let found = db::api_keys::authenticate_counted(
                c,
                &key,
                ip.as_deref(),
                org.as_ref(),
                &kept,
                &limiter,
            )?;
            let (found, access) = match found {
                KeyCheck::Live(((user, key_id, access), decision)) => {
                    (KeyCheck::Live((user, key_id, decision)), access)
                }
                KeyCheck::Expired => (KeyCheck::Expired, None),
                KeyCheck::Unknown => (KeyCheck::Unknown, None),
            };
            let caller = match admit(found, meta, path) {
                Ok(caller) => caller,
                Err(refused) => return Ok(Err(refused)),
            };
            let done = then(c, &caller, access);
            Ok(Ok((caller, done)))
        })
        .await?;
        let (caller, done) = admitted?;
        Ok((caller, done?))
    }

    /// The caller's access to the organization (the one enforcement path) and what `load` reads
    /// with it, in the same trip as the key's check (and, for an organization named by id or
    /// environment, the same statement).
    pub async fn with_org<T, F>(
        self,
        org: OrgRef,
        permission: OrgPermission,
        load: F,
    ) -> Result<(Caller, Access, T), ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut db::PgConn, &Access) -> db::QueryResult<T> + Send + 'static,
    {
        let (caller, (access, data)) = self
            .authenticated_for(Some(org.clone()), move |c, caller, read| {
                crate::ops::access::decide_and_load(
                    c,
                    &caller.ctx(),
                    caller.user.id,
                    &org,
                    read,
                    permission,
                    load,
                )?
            })
            .await?;
        Ok((caller, access, data))
    }
}

/// The caller a key check found, or why the key acts for nobody.
fn admit(
    found: KeyCheck<(User, i64, limit::Decision)>,
    meta: crate::audit::RequestMeta,
    path: String,
) -> Result<Caller, ApiError> {
    let (user, key_id, decision) = match found {
        KeyCheck::Live(found) => found,
        KeyCheck::Expired => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::KeyExpired,
                "This API key has expired. Create a new one at /account/api-keys.",
            ));
        }
        KeyCheck::Unknown => return Err(ApiError::unauthorized()),
    };
    if let limit::Decision::Limited(retry_after) = decision {
        return Err(ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: ErrorCode::RateLimited,
            message: format!(
                "Too many requests with this key this minute. Retry after {retry_after} seconds."
            ),
            retry_after: Some(retry_after),
        });
    }
    // An unverified account may be someone else's address (DESIGN §7): its keys act for
    // nobody until the address is proven.
    if !user.is_verified() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::EmailUnverified,
            "Verify the account's email address before using its API keys.",
        ));
    }
    Ok(Caller {
        user,
        key_id,
        meta,
        path,
    })
}

impl FromRequest for CallerRequest {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(CallerRequest::of(req)))
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let request = CallerRequest::of(req);
        Box::pin(async move { Ok(request.authenticated(|_, _| Ok(())).await?.0) })
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
#[utoipa::path(
    get,
    path = "/api/v1/organizations",
    operation_id = "listOrganizations",
    summary = "Organizations the caller belongs to",
    responses((status = 200, description = "Organizations the caller belongs to", body = Envelope<Vec<OrgWithRole>>), ErrorResponses)
)]
pub async fn organizations(
    pool: web::Data<PgPool>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let user_id = caller.user.id;
    let rows = db::run(&pool, move |c| db::orgs::with_roles(c, user_id)).await?;
    Ok(envelope(rows))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EnvironmentOut {
    id: EnvId,
    kind: EnvKind,
    role: EnvRole,
}

/// GET /api/v1/organizations/{id}/environments: the environments the caller can enter.
#[utoipa::path(
    get,
    path = "/api/v1/organizations/{id}/environments",
    operation_id = "listEnvironments",
    summary = "Environments of an organization the caller can enter",
    params(("id" = i64, Path, description = "Organization id")),
    responses((status = 200, description = "Environments of an organization the caller can enter", body = Envelope<Vec<EnvironmentOut>>), ErrorResponses)
)]
pub async fn environments(
    pool: web::Data<PgPool>,
    caller: Caller,
    org_id: web::Path<OrgId>,
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
                kind: e.kind,
                role: e.role?,
            })
        })
        .collect();
    Ok(envelope(envs))
}

/// Unknown paths under /api answer in JSON too.
pub async fn not_found() -> ApiError {
    ApiError::not_found()
}
