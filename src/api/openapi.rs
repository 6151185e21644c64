//! The OpenAPI 3.1 document of the Platform API, served at /api/v1/openapi.json, generated from
//! the handlers' `#[utoipa::path]` attributes and the types they read and answer with, so the
//! document and the server cannot drift apart.

use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{reads, writes};

#[derive(OpenApi)]
#[openapi(
    info(title = "Gatehouse Platform API", version = "1"),
    paths(
        super::organizations,
        super::environments,
        reads::role_assignments,
        writes::put_org_role,
        writes::delete_org_role,
        writes::get_env_roles,
        writes::post_env_role,
        writes::put_env_role,
        writes::delete_env_role,
        reads::invitations,
        writes::post_invitations,
        writes::delete_invitation,
        reads::audit_events,
    ),
    components(schemas(super::ErrorCode, super::ErrorBody, super::ErrorDetail)),
    modifiers(&BearerKey),
    security(("bearer" = []))
)]
pub struct ApiDoc;

/// Personal API keys, sent as `Authorization: Bearer KEY`.
struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some("A personal API key"))
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The document as JSON.
pub fn document() -> serde_json::Value {
    serde_json::to_value(ApiDoc::openapi()).unwrap_or_default()
}

pub async fn get() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_lists_every_error_code() {
        let doc = document();
        let codes = &doc["components"]["schemas"]["ErrorCode"]["enum"];
        assert!(codes.as_array().is_some_and(|c| c.len() >= 18), "{codes}");
        assert!(codes.as_array().unwrap().contains(&"last_owner".into()));
    }
}
