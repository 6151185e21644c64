//! Cross-site request forgery defences: every form post carries the session's token (checked by
//! the `CsrfForm` extractor, the only way handlers read a form), and every unsafe request must
//! come from our own origin (checked by `check_origin` middleware).

use std::future::Future;
use std::pin::Pin;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::session::TypedSession;
use crate::config::Settings;
use crate::error::AppError;

#[derive(Deserialize)]
struct WithToken<T> {
    #[serde(default)]
    csrf_token: String,
    #[serde(flatten)]
    form: T,
}

/// A url-encoded form whose CSRF token matched the session's.
pub struct CsrfForm<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let session = TypedSession::from_request(req, payload);
        let form_type = req
            .content_type()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded");
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let session = session.await?;
            let body = body
                .await
                .map_err(|e| AppError::BadRequest(e.to_string()))?;
            if !form_type {
                return Err(AppError::BadRequest("not a form".into()));
            }
            // Input the database cannot store is refused here, for every form (crate::input).
            if let Some(field) = crate::input::unstorable_field(&body) {
                return Err(AppError::UnstorableField(field));
            }
            let form: WithToken<T> = serde_urlencoded::from_bytes(&body)
                .map_err(|e| AppError::BadRequest(e.to_string()))?;
            if !session.csrf_matches(&form.csrf_token) {
                return Err(AppError::Csrf);
            }
            Ok(CsrfForm(form.form))
        })
    }
}

/// Refuses unsafe requests whose Origin (or, lacking it, Referer) is not this site.
pub async fn check_origin(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, actix_web::Error> {
    // The API authenticates with bearer keys, which browsers never attach on their own.
    let api = req.path().starts_with("/api/");
    if !api && !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        let settings = req.app_data::<web::Data<Settings>>().cloned();
        let from_here = |origin: &str| settings.as_ref().is_some_and(|s| s.origin_allowed(origin));
        let origin = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok());
        let allowed = match origin {
            Some(origin) => from_here(origin),
            None => req
                .headers()
                .get(header::REFERER)
                .and_then(|v| v.to_str().ok())
                .and_then(|r| url::Url::parse(r).ok())
                .is_some_and(|r| from_here(&r.origin().ascii_serialization())),
        };
        if !allowed {
            // A response, not an error: it passes back through the security headers.
            return Ok(req.error_response(AppError::Csrf).map_into_right_body());
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}
