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
    json!({ "401": error, "403": error, "404": error, "422": error, "429": error })
}

fn page_of(item: &str) -> Value {
    json!({
        "type": "object",
        "required": ["items", "page", "count", "total"],
        "properties": {
            "items": { "type": "array", "items": { "$ref": format!("#/components/schemas/{item}") } },
            "page": { "type": "integer" },
            "count": { "type": "integer" },
            "total": { "type": "integer" }
        }
    })
}

fn paged_get(operation: &str, summary: &str, item: &str, extra_parameters: Vec<Value>) -> Value {
    let mut responses = errors();
    responses["200"] = json!({ "description": summary, "content": { "application/json": { "schema": envelope_of(page_of(item)) } } });
    let mut parameters = vec![
        json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "integer" } }),
        json!({ "name": "_page", "in": "query", "schema": { "type": "integer", "minimum": 1 } }),
        json!({ "name": "_count", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 50 } }),
    ];
    parameters.extend(extra_parameters);
    json!({ "get": { "operationId": operation, "summary": summary, "parameters": parameters, "responses": responses } })
}

fn change(operation: &str, summary: &str, parameters: Vec<Value>, body: Option<&str>) -> Value {
    let mut responses = errors();
    responses["409"] = responses["403"].clone();
    responses["413"] = responses["403"].clone();
    responses["200"] = json!({ "description": summary, "content": { "application/json": { "schema": envelope_of(json!({ "type": "object" })) } } });
    let mut op = json!({ "operationId": operation, "summary": summary, "parameters": parameters, "responses": responses });
    if let Some(schema) = body {
        op["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } });
    }
    op
}

fn id_param() -> Value {
    json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "integer" } })
}

fn user_param() -> Value {
    json!({ "name": "userId", "in": "query", "required": true, "schema": { "type": "integer" } })
}

pub fn document() -> Value {
    let mut env_roles_get = errors();
    env_roles_get["200"] = json!({ "description": "The environment's users", "content": { "application/json": { "schema": envelope_of(json!({ "type": "object", "required": ["environment", "items", "total"] })) } } });
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
            "/api/v1/organizations/{id}/role-assignment": {
                "get": paged_get("listRoleAssignments", "Members with their organization and environment roles (owners and admins)", "Assignment", vec![])["get"],
                "put": change("setOrganizationRole", "Change a member's organization role (owners)", vec![id_param()], Some("OrgRoleBody")),
                "delete": change("removeMember", "Remove a member, under the rules of Remove (owners and admins)", vec![id_param(), user_param()], None)
            },
            "/api/v1/environments/{id}/role-assignment": {
                "get": { "operationId": "listEnvironmentRoles", "summary": "The environment's users and roles (owners and admins)", "parameters": [id_param()], "responses": env_roles_get },
                "post": change("grantEnvironmentRole", "Grant a role in the environment to a member without one", vec![id_param()], Some("EnvRoleBody")),
                "put": change("changeEnvironmentRole", "Change a member's role in the environment", vec![id_param()], Some("EnvRoleBody")),
                "delete": change("revokeEnvironmentRole", "Take a member's role in the environment away", vec![id_param(), user_param()], None)
            },
            "/api/v1/organizations/{id}/invitations": {
                "get": paged_get("listInvitations", "Invitations, newest first (owners and admins)", "Invitation", vec![])["get"],
                "post": change("invite", "Invite one to 50 addresses (owners and admins; admin role by owners)", vec![id_param()], Some("InviteBody")),
                "delete": change("revokeInvitation", "Revoke an open invitation", vec![id_param(), json!({ "name": "invitationId", "in": "query", "required": true, "schema": { "type": "integer" } })], None)
            },
            "/api/v1/organizations/{id}/audit-events": paged_get("listAuditEvents", "Audit events, newest first (owners)", "AuditEvent", vec![
                json!({ "name": "userId", "in": "query", "schema": { "type": "integer" } }),
                json!({ "name": "startDateTime", "in": "query", "schema": { "type": "string", "format": "date-time" } }),
                json!({ "name": "stopDateTime", "in": "query", "schema": { "type": "string", "format": "date-time" } }),
                json!({ "name": "status", "in": "query", "schema": { "enum": ["attempted", "successful", "denied"] } }),
                json!({ "name": "actionType[]", "in": "query", "schema": { "type": "array", "items": { "type": "string" } }, "style": "form", "explode": true }),
            ]),
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
                "InviteBody": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["emails"],
                    "properties": {
                        "emails": { "type": "array", "minItems": 1, "maxItems": 50, "items": { "type": "string", "format": "email" } },
                        "role": { "enum": ["member", "admin"], "default": "member" },
                        "environments": { "type": "object", "additionalProperties": { "enum": ["viewer", "support", "engineer"] } },
                        "password": { "type": "string", "description": "Needed to grant a production role" }
                    }
                },
                "OrgRoleBody": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["userId", "role"],
                    "properties": { "userId": { "type": "integer" }, "role": { "enum": ["owner", "admin", "member"] } }
                },
                "EnvRoleBody": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["userId", "role"],
                    "properties": {
                        "userId": { "type": "integer" },
                        "role": { "enum": ["viewer", "support", "engineer"] },
                        "password": { "type": "string", "description": "Needed to grant or raise a production role" }
                    }
                },
                "Assignment": {
                    "type": "object",
                    "required": ["userId", "name", "email", "role", "environments"],
                    "properties": {
                        "userId": { "type": "integer" },
                        "name": { "type": "string" },
                        "email": { "type": "string" },
                        "role": { "enum": ["owner", "admin", "member"] },
                        "environments": { "type": "object" }
                    }
                },
                "Invitation": {
                    "type": "object",
                    "required": ["id", "email", "role", "state", "delivery", "environments", "expiresAt"],
                    "properties": {
                        "id": { "type": "integer" },
                        "email": { "type": "string" },
                        "role": { "enum": ["admin", "member"] },
                        "state": { "enum": ["pending", "accepted", "declined", "revoked", "expired"] },
                        "delivery": { "enum": ["queued", "sent", "failed"] },
                        "environments": { "type": "object" },
                        "expiresAt": { "type": "string", "format": "date-time" }
                    }
                },
                "AuditEvent": {
                    "type": "object",
                    "required": ["id", "time", "actorKind", "actor", "action", "status", "details"],
                    "properties": {
                        "id": { "type": "integer" },
                        "time": { "type": "string", "format": "date-time" },
                        "actorKind": { "enum": ["visitor", "user", "api_key", "operator", "system"] },
                        "actor": { "type": "string" },
                        "action": { "type": "string" },
                        "status": { "enum": ["attempted", "successful", "denied"] },
                        "details": { "type": "object" }
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
