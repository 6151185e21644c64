//! Input the database cannot store (a NUL byte in text), refused at the edge in one place for
//! every path: query strings by a middleware, form bodies by `CsrfForm`, JSON bodies by the
//! API's `Body`. The answer is a 422 naming the field or parameter, before any handler runs, so
//! nothing is half-saved and nothing reaches PostgreSQL to fail there.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;

use crate::error::AppError;

/// Whether text holds a character PostgreSQL text cannot.
fn unstorable(text: &str) -> bool {
    text.contains('\0')
}

/// The first field of url-encoded data (a query string or a form body) whose name or value
/// holds an unstorable character.
pub fn unstorable_field(encoded: &[u8]) -> Option<String> {
    url::form_urlencoded::parse(encoded)
        .find(|(k, v)| unstorable(k) || unstorable(v))
        .map(|(k, _)| k.replace('\0', "\u{FFFD}"))
}

/// The path (`emails[0]`, `environments.staging`) of the first JSON string, or key, holding an
/// unstorable character.
pub fn unstorable_json(value: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(s) => unstorable(s).then(String::new),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            unstorable_json(item).map(|rest| format!("[{i}]{}", dotted(&rest)))
        }),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if unstorable(k) {
                return Some(k.replace('\0', "\u{FFFD}"));
            }
            unstorable_json(v).map(|rest| format!("{k}{}", dotted(&rest)))
        }),
        _ => None,
    }
}

fn dotted(rest: &str) -> String {
    if rest.is_empty() || rest.starts_with('[') {
        rest.to_string()
    } else {
        format!(".{rest}")
    }
}

/// Refuses a request whose query string holds an unstorable character: 422 naming the
/// parameter, as a page or, under /api, as JSON.
pub async fn refuse_unstorable_query(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, actix_web::Error> {
    if let Some(field) = unstorable_field(req.query_string().as_bytes()) {
        let error = AppError::UnstorableField(field);
        let response = if req.path().starts_with("/api/") {
            req.error_response(crate::api::ApiError::from(error))
        } else {
            req.error_response(error)
        };
        return Ok(response.map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_field_holding_a_nul_is_named() {
        assert_eq!(unstorable_field(b"a=1&q=x%00y"), Some("q".into()));
        assert_eq!(unstorable_field(b"a=1&q=xy"), None);
        let json = serde_json::json!({
            "emails": ["ok@example.com", "bad\u{0}@example.com"],
            "role": "member"
        });
        assert_eq!(unstorable_json(&json), Some("emails[1]".into()));
        let nested = serde_json::json!({ "environments": { "staging": "x\u{0}" } });
        assert_eq!(
            unstorable_json(&nested),
            Some("environments.staging".into())
        );
        assert_eq!(unstorable_json(&serde_json::json!({ "a": [1, "b"] })), None);
    }
}
