//! One error type at the HTTP edge: rendered error pages for people, never internal details.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    /// The organization requires two-factor sign-in, which the person has not set up.
    #[error("the organization requires two-factor sign-in")]
    TwoFactorRequired,
    #[error("the form expired or did not come from this site")]
    Csrf,
    /// The address exists for other methods (a form's address opened as a page).
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("sign-in required")]
    SignInRequired(String),
    /// A value the database cannot store (a NUL byte in text): refused, never a 500.
    #[error("a value contains a character that cannot be stored")]
    Unstorable,
    /// The same, caught at the edge, naming the field or parameter that holds it.
    #[error("{0} contains a character that cannot be stored")]
    UnstorableField(String),
    /// The database cannot be reached (stopped, restarting, the network) or is too busy to take
    /// the work within `db::WAIT`: 503, try again.
    #[error("the database is unreachable or busy")]
    Unavailable,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => AppError::NotFound,
            // PostgreSQL text cannot hold NUL: "invalid byte sequence for encoding "UTF8": 0x00".
            diesel::result::Error::DatabaseError(_, ref info)
                if info.message().contains("0x00") =>
            {
                AppError::Unstorable
            }
            // The connection went away under the query (the server stopped or restarted).
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::ClosedConnection
                | diesel::result::DatabaseErrorKind::UnableToSendCommand,
                _,
            ) => AppError::Unavailable,
            other => AppError::Internal(anyhow::Error::new(other).context("database query failed")),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: &'a str,
    /// What to do about it: a link and its text.
    action: Option<(String, String)>,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Forbidden | AppError::Csrf | AppError::TwoFactorRequired => {
                StatusCode::FORBIDDEN
            }
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Unstorable | AppError::UnstorableField(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::SignInRequired(_) => StatusCode::SEE_OTHER,
            AppError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let AppError::SignInRequired(next) = self {
            let location = format!(
                "/signin?next={}",
                url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
            );
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .finish();
        }
        let (title, message): (&str, std::borrow::Cow<'_, str>) = match self {
            AppError::NotFound => (
                "Page not found",
                "There is nothing here, or you do not have access to it.".into(),
            ),
            AppError::Forbidden => (
                "Not allowed",
                "Your role does not allow this. Ask an owner or admin of the organization.".into(),
            ),
            AppError::TwoFactorRequired => (
                "Two-factor sign-in required",
                "This organization requires two-factor sign-in of its members. Set it up for your account, then come back: it takes a minute with an authenticator app on your phone.".into(),
            ),
            AppError::Csrf => (
                "Form expired",
                "This form expired or did not come from this site. Go back, reload the page and try again.".into(),
            ),
            AppError::MethodNotAllowed => (
                "Nothing to show here",
                "This address takes form submissions, not visits. Go back to the page with the form and send it from there.".into(),
            ),
            AppError::BadRequest(_) => (
                "Bad request",
                "The request could not be understood. Go back and try again.".into(),
            ),
            AppError::Unstorable => (
                "Character not allowed",
                "A value you sent contains a character that cannot be stored (such as a NUL byte). Go back, remove it and try again. Nothing was changed.".into(),
            ),
            AppError::UnstorableField(field) => (
                "Character not allowed",
                format!("The field “{field}” contains a character that cannot be stored (such as a NUL byte). Go back, remove it from that field and try again. Nothing was changed.").into(),
            ),
            AppError::Unavailable => ("Temporarily unavailable", UNAVAILABLE.into()),
            AppError::Internal(e) => {
                tracing::error!(error = ?e, "request failed");
                (
                    "Something went wrong",
                    "The server could not complete this request. Nothing was lost; try again in a moment."
                        .into(),
                )
            }
            AppError::SignInRequired(_) => ("Sign in", "Sign in to continue.".into()),
        };
        let status = self.status_code();
        let action = matches!(self, AppError::TwoFactorRequired).then(|| {
            (
                "/account/two-factor".to_string(),
                "Set up two-factor sign-in".to_string(),
            )
        });
        let body = ErrorPage {
            status: status.as_u16(),
            title,
            message: &message,
            action: action.clone(),
        }
        .render()
        .unwrap_or_else(|_| title.to_string());
        let mut response = HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(body);
        // For `routes::errors::framed`, which renders it again in the page frame when it can.
        response.extensions_mut().insert(ErrorText {
            title: title.to_string(),
            message: message.into_owned(),
            action,
        });
        response
    }
}

/// What people see while the database cannot be reached.
pub const UNAVAILABLE: &str = "Gatehouse cannot reach its database right now. Nothing you saved is lost; try again in a minute.";

/// The page answered while the database cannot be reached, outside any handler (the session
/// layer needs the database before a handler runs).
pub fn unavailable_page() -> HttpResponse {
    AppError::Unavailable.error_response()
}

/// The title and message of a rendered error page.
#[derive(Debug, Clone)]
pub struct ErrorText {
    pub title: String,
    pub message: String,
    pub action: Option<(String, String)>,
}
