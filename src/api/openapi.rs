//! The OpenAPI 3.1 document of the Platform API, served at /api/v1/openapi.json.

use actix_web::HttpResponse;
use serde_json::{Value, json};

fn envelope_of(payload: Value) -> Value {
    json!({
        "type": "object",
        "required": ["meta", "payload"],
        "properties": {
            "meta": { "type": "object", "required": ["version"], "properties": { "version": { "type": "string" } } },
            "payload": payload
        }
    })
}

fn errors() -> Value {
    let error = json!({ "description": "Error", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } });
    json!({ "401": error, "403": error, "404": error })
}

pub fn document() -> Value {
    let mut get_orgs_responses = errors();
    get_orgs_responses["200"] = json!({
        "description": "The caller's organizations",
        "content": { "application/json": { "schema": envelope_of(json!({ "type": "array", "items": { "$ref": "#/components/schemas/Organization" } })) } }
    });
    let mut get_envs_responses = errors();
    get_envs_responses["200"] = json!({
        "description": "The environments the caller can enter",
        "content": { "application/json": { "schema": envelope_of(json!({ "type": "array", "items": { "$ref": "#/components/schemas/Environment" } })) } }
    });
    json!({
        "openapi": "3.1.0",
        "info": { "title": "Gatehouse Platform API", "version": super::VERSION },
        "security": [{ "bearer": [] }],
        "paths": {
            "/api/v1/organizations": {
                "get": { "operationId": "listOrganizations", "summary": "Organizations the caller belongs to", "responses": get_orgs_responses }
            },
            "/api/v1/organizations/{id}/environments": {
                "get": {
                    "operationId": "listEnvironments",
                    "summary": "Environments of an organization the caller can enter",
                    "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "integer" } }],
                    "responses": get_envs_responses
                }
            }
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "description": "A personal API key" } },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": { "error": { "type": "object", "required": ["code", "message"], "properties": { "code": { "type": "string" }, "message": { "type": "string" } } } }
                },
                "Organization": {
                    "type": "object",
                    "required": ["id", "name", "slug", "status", "role"],
                    "properties": {
                        "id": { "type": "integer" },
                        "name": { "type": "string" },
                        "slug": { "type": "string" },
                        "status": { "enum": ["sandbox", "live"] },
                        "role": { "enum": ["owner", "admin", "member"] }
                    }
                },
                "Environment": {
                    "type": "object",
                    "required": ["id", "kind", "role"],
                    "properties": {
                        "id": { "type": "integer" },
                        "kind": { "enum": ["development", "staging", "production"] },
                        "role": { "enum": ["viewer", "support", "engineer"] }
                    }
                }
            }
        }
    })
}

pub async fn get() -> HttpResponse {
    HttpResponse::Ok().json(document())
}
