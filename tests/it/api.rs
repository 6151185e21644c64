//! The Platform API (first part): personal API keys, bearer authentication, the organizations
//! and environments endpoints, JSON errors, and the OpenAPI document against the server.

use diesel::prelude::*;
use serde_json::Value;

use crate::support::{TestApp, add_member, client, spawn_app};

pub(crate) async fn create_key(app: &TestApp, c: &reqwest::Client, name: &str) -> String {
    let r = app
        .post_form_with(
            c,
            "/account/api-keys",
            "/account/api-keys",
            &[("name", name)],
        )
        .await;
    // Post/redirect/get: the key is shown once, on the page the form redirects to.
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location.as_deref(), Some("/account/api-keys"));
    // On its way to that page the key is never at rest in the database.
    let at_rest: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "SELECT count(*) FROM sessions WHERE state::text LIKE '%gatehouse\\_pk\\_%'",
    )
    .get_result(&mut app.conn())
    .unwrap();
    assert_eq!(at_rest, 0, "the new key was stored in a session row");
    let page = app.get_with(c, "/account/api-keys").await;
    page.body
        .split("<code class=\"revealed\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string()
}

pub(crate) async fn api(app: &TestApp, key: Option<&str>, path: &str) -> (u16, Value) {
    let mut req = reqwest::Client::new().get(app.url(path));
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let body = serde_json::from_str(&r.text().await.unwrap_or_default()).unwrap_or(Value::Null);
    (status, body)
}

#[actix_web::test]
async fn personal_keys_are_shown_once_stored_hashed_and_revocable() {
    let app = spawn_app().await;
    app.signed_up_verified("Ada", "ada@example.com").await;
    let key = create_key(&app, &app.client, "laptop script").await;
    assert!(key.starts_with("gatehouse_pk_") && key.len() > 40);
    let page = app.get("/account/api-keys").await.body;
    assert!(!page.contains(&key), "shown once");
    let keys: i64 = gatehouse::db::schema::personal_api_keys::table
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(keys, 1, "refreshing the page creates nothing");
    assert!(
        page.contains(&key[..17]) && page.contains("<td>never</td>"),
        "prefix and last use listed"
    );
    let stored: Vec<u8> = gatehouse::db::schema::personal_api_keys::table
        .select(gatehouse::db::schema::personal_api_keys::key_hash)
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(stored, gatehouse::db::tokens::hash(&key));

    let (status, body) = api(&app, Some(&key), "/api/v1/organizations").await;
    assert_eq!(status, 200);
    assert_eq!(body["meta"]["version"], "1");
    assert!(
        app.get("/account/api-keys")
            .await
            .body
            .contains("from 127.0.0.1"),
        "last use recorded"
    );

    let id: i64 = gatehouse::db::schema::personal_api_keys::table
        .select(gatehouse::db::schema::personal_api_keys::id)
        .first(&mut app.conn())
        .unwrap();
    let r = app
        .post_form(
            "/account/api-keys",
            &format!("/account/api-keys/{id}/revoke"),
            &[],
        )
        .await;
    assert_eq!(r.status, 303);
    let (status, body) = api(&app, Some(&key), "/api/v1/organizations").await;
    assert_eq!(status, 401, "a revoked key stops working at once");
    assert_eq!(body["error"]["code"], "unauthorized");
    let empty = app
        .post_form("/account/api-keys", "/account/api-keys", &[("name", " ")])
        .await;
    assert_eq!(empty.status, 422);
}

#[actix_web::test]
async fn requests_without_a_valid_key_get_a_json_401() {
    let app = spawn_app().await;
    for key in [None, Some("gatehouse_pk_not-a-key")] {
        let (status, body) = api(&app, key, "/api/v1/organizations").await;
        assert_eq!(status, 401);
        assert_eq!(body["error"]["code"], "unauthorized");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Bearer")
        );
    }
    let (status, body) = api(&app, None, "/api/v1/nowhere").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
}

#[actix_web::test]
async fn keys_act_as_their_user_with_access_read_on_every_request() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let org: i64 = {
        use gatehouse::db::schema::organizations::dsl as o;
        o::organizations
            .filter(o::slug.eq(&slug))
            .select(o::id)
            .first(&mut app.conn())
            .unwrap()
    };
    let mia = client(&app.address);
    app.account(&mia, "Mia Member", "mia@example.com").await;
    add_member(
        &app,
        &slug,
        "mia@example.com",
        "member",
        &[("production", "viewer")],
    );
    let key = create_key(&app, &mia, "mia's script").await;

    let (status, body) = api(&app, Some(&key), "/api/v1/organizations").await;
    assert_eq!(status, 200);
    assert_eq!(body["payload"][0]["slug"], slug.as_str());
    assert_eq!(body["payload"][0]["role"], "member");
    let (status, body) = api(
        &app,
        Some(&key),
        &format!("/api/v1/organizations/{org}/environments"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["payload"].as_array().unwrap().len(),
        1,
        "only environments the caller can enter"
    );
    assert_eq!(body["payload"][0]["kind"], "production");
    assert_eq!(body["payload"][0]["role"], "viewer");

    let view = format!(
        "/orgs/{slug}/access/users/{}",
        app.user_id("mia@example.com")
    );
    app.post_form(&view, &format!("{view}/remove"), &[]).await;
    let (status, body) = api(
        &app,
        Some(&key),
        &format!("/api/v1/organizations/{org}/environments"),
    )
    .await;
    assert_eq!(status, 404, "removal limits the key on its next request");
    assert_eq!(body["error"]["code"], "not_found");
    let (_, body) = api(&app, Some(&key), "/api/v1/organizations").await;
    assert_eq!(body["payload"].as_array().unwrap().len(), 0);
}

/// Validates `value` against the schema at `pointer` (a JSON pointer) in the OpenAPI document,
/// with the document's own components for its `$ref`s, by a JSON Schema 2020-12 validator.
fn conforms(doc: &Value, pointer: &str, value: &Value) -> Result<(), String> {
    let mut root = doc.clone();
    // A URI fragment: the braces of path templates are percent-encoded.
    let fragment = pointer.replace('{', "%7B").replace('}', "%7D");
    root["$ref"] = Value::String(format!("#{fragment}"));
    let validator = jsonschema::validator_for(&root).map_err(|e| format!("schema: {e}"))?;
    let problems: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// The JSON pointer of a documented response body.
fn response_pointer(path: &str, method: &str, status: u16) -> String {
    format!(
        "/paths/{}/{method}/responses/{status}/content/application~1json/schema",
        path.replace('~', "~0").replace('/', "~1")
    )
}

#[actix_web::test]
async fn the_openapi_document_matches_the_server() {
    let app = spawn_app().await;
    let doc: Value = serde_json::from_str(
        &reqwest::get(app.url("/api/v1/openapi.json"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let documented: std::collections::BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let implemented: std::collections::BTreeSet<(String, String)> =
        crate::matrix::registered_routes()
            .into_iter()
            .filter(|(_, p)| p.starts_with("/api/v1/") && p != "/api/v1/openapi.json")
            .collect();
    assert_eq!(
        documented, implemented,
        "documented routes and implemented routes differ"
    );

    // Real responses against the document's schemas.
    let slug = app.owner_with_org().await;
    let key = create_key(&app, &app.client, "checker").await;
    let org: i64 = {
        use gatehouse::db::schema::organizations::dsl as o;
        o::organizations
            .filter(o::slug.eq(&slug))
            .select(o::id)
            .first(&mut app.conn())
            .unwrap()
    };
    for (path, documented_path, status) in [
        (
            format!("/api/v1/organizations/{org}/role-assignment"),
            "/api/v1/organizations/{id}/role-assignment",
            200,
        ),
        (
            format!("/api/v1/organizations/{org}/invitations"),
            "/api/v1/organizations/{id}/invitations",
            200,
        ),
        (
            format!("/api/v1/organizations/{org}/audit-events?_count=5"),
            "/api/v1/organizations/{id}/audit-events",
            200,
        ),
        (
            format!("/api/v1/organizations/{org}/audit-events?_count=51"),
            "/api/v1/organizations/{id}/audit-events",
            422,
        ),
        (
            "/api/v1/organizations".to_string(),
            "/api/v1/organizations",
            200,
        ),
        (
            format!("/api/v1/organizations/{org}/environments"),
            "/api/v1/organizations/{id}/environments",
            200,
        ),
        (
            "/api/v1/organizations/999999/environments".to_string(),
            "/api/v1/organizations/{id}/environments",
            404,
        ),
    ] {
        let (got, body) = api(&app, Some(&key), &path).await;
        assert_eq!(got, status, "{path}");
        let pointer = response_pointer(documented_path, "get", status);
        assert!(
            doc.pointer(&pointer).is_some(),
            "{path}: {status} is documented"
        );
        conforms(&doc, &pointer, &body).unwrap_or_else(|e| panic!("{path}: {e}\n{body}"));
    }
    let (got, body) = api(&app, None, "/api/v1/organizations").await;
    assert_eq!(got, 401);
    conforms(
        &doc,
        &response_pointer("/api/v1/organizations", "get", 401),
        &body,
    )
    .unwrap();
    // A body the schema refuses is refused: the check is not vacuous.
    let wrong = serde_json::json!({ "meta": { "version": "1" }, "payload": [{ "id": "seven" }] });
    assert!(
        conforms(
            &doc,
            &response_pointer("/api/v1/organizations", "get", 200),
            &wrong
        )
        .is_err()
    );
}

#[actix_web::test]
async fn owners_and_admins_read_assignments_invitations_and_audit_events() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let org: i64 = {
        use gatehouse::db::schema::organizations::dsl as o;
        o::organizations
            .filter(o::slug.eq(&slug))
            .select(o::id)
            .first(&mut app.conn())
            .unwrap()
    };
    app.invite(
        &app.client,
        &slug,
        "pat@example.com",
        &[("staging", "viewer")],
    )
    .await;
    let owner_key = create_key(&app, &app.client, "owner").await;
    let adam = client(&app.address);
    app.account(&adam, "Adam Admin", "adam@example.com").await;
    add_member(
        &app,
        &slug,
        "adam@example.com",
        "admin",
        &[("staging", "support")],
    );
    let admin_key = create_key(&app, &adam, "admin").await;
    let mia = client(&app.address);
    app.account(&mia, "Mia Member", "mia@example.com").await;
    add_member(&app, &slug, "mia@example.com", "member", &[]);
    let member_key = create_key(&app, &mia, "member").await;

    let assignments = format!("/api/v1/organizations/{org}/role-assignment");
    let (status, body) = api(&app, Some(&admin_key), &assignments).await;
    assert_eq!(status, 200);
    assert_eq!(body["payload"]["total"], 3);
    let adam_row = body["payload"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["email"] == "adam@example.com")
        .unwrap()
        .clone();
    assert_eq!(adam_row["role"], "admin");
    assert_eq!(adam_row["environments"]["staging"], "support");
    assert_eq!(
        adam_row["environments"]["production"],
        serde_json::Value::Null
    );
    let (status, body) = api(&app, Some(&member_key), &assignments).await;
    assert_eq!(status, 403, "members cannot");
    assert_eq!(body["error"]["code"], "forbidden");
    // The key comes first: a bad page number without a valid key is a 401, with one a 422.
    let bad_page = format!("{assignments}?_page=0");
    assert_eq!(api(&app, None, &bad_page).await.0, 401);
    assert_eq!(api(&app, Some("gatehouse_pk_nope"), &bad_page).await.0, 401);
    assert_eq!(api(&app, Some(&admin_key), &bad_page).await.0, 422);
    // The key's check and the access check are one statement, on one trip to the database
    // (the fewest of three requests: the outbox worker shares the pool, and the first request
    // reserves a batch of the key's rate limit). The list is read by the first request only:
    // the instance keeps it under the organization's data version, which the check reads.
    let (mut trips, mut statements) = (u64::MAX, u64::MAX);
    for _ in 0..3 {
        let before = (app.statements.checkouts(), app.statements.get());
        assert_eq!(api(&app, Some(&admin_key), &assignments).await.0, 200);
        trips = trips.min(app.statements.checkouts() - before.0);
        statements = statements.min(app.statements.get() - before.1);
    }
    assert_eq!(trips, 1, "trips to the database for one API page");
    assert_eq!(statements, 1, "statements for one API page read before");

    let (status, body) = api(
        &app,
        Some(&admin_key),
        &format!("/api/v1/organizations/{org}/invitations"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["payload"]["items"][0]["email"], "pat@example.com");
    assert_eq!(body["payload"]["items"][0]["state"], "pending");

    let events = format!("/api/v1/organizations/{org}/audit-events");
    assert_eq!(
        api(&app, Some(&admin_key), &events).await.0,
        403,
        "owners only"
    );
    let (status, body) = api(
        &app,
        Some(&owner_key),
        &format!("{events}?actionType[]=invitation.created&actionType[]=organization.created"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["payload"]["total"], 2);
    let owner_id = app.user_id("owner@example.com");
    let (_, body) = api(
        &app,
        Some(&owner_key),
        &format!("{events}?userId={owner_id}&status=successful&_count=1&_page=2"),
    )
    .await;
    assert_eq!(body["payload"]["items"].as_array().unwrap().len(), 1);
    assert_eq!(body["payload"]["count"], 1);
    assert_eq!(body["payload"]["page"], 2);
    let (_, body) = api(
        &app,
        Some(&owner_key),
        &format!("{events}?startDateTime=2999-01-01T00:00:00Z"),
    )
    .await;
    assert_eq!(body["payload"]["total"], 0);
    for bad in [
        "_count=0",
        "_count=51",
        "_page=0",
        "status=maybe",
        "userId=me",
        "startDateTime=yesterday",
    ] {
        let (status, body) = api(&app, Some(&owner_key), &format!("{events}?{bad}")).await;
        assert_eq!(status, 422, "{bad}");
        assert_eq!(body["error"]["code"], "invalid_parameter");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with(bad.split('=').next().unwrap()),
            "the field is named: {body}"
        );
    }
}

pub(crate) async fn send(
    app: &TestApp,
    key: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            app.url(path),
        )
        .bearer_auth(key);
    if let Some(body) = body {
        req = req
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (
        status,
        serde_json::from_str(&r.text().await.unwrap_or_default()).unwrap_or(Value::Null),
    )
}

#[actix_web::test]
async fn roles_change_through_the_api_with_the_same_rules_and_audit() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let (org, staging, production): (i64, i64, i64) = {
        let id = |kind: &str| -> i64 {
            diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!(
                "SELECT e.id FROM environments e JOIN organizations o ON o.id = e.organization_id WHERE o.slug = '{slug}' AND e.kind = '{kind}'"
            ))
            .get_result(&mut app.conn())
            .unwrap()
        };
        let org: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!(
            "SELECT id FROM organizations WHERE slug = '{slug}'"
        ))
        .get_result(&mut app.conn())
        .unwrap();
        (org, id("staging"), id("production"))
    };
    let owner_key = create_key(&app, &app.client, "owner").await;
    let mia = client(&app.address);
    app.account(&mia, "Mia Member", "mia@example.com").await;
    add_member(&app, &slug, "mia@example.com", "member", &[]);
    let mia_id = app.user_id("mia@example.com");
    let adam = client(&app.address);
    app.account(&adam, "Adam Admin", "adam@example.com").await;
    add_member(&app, &slug, "adam@example.com", "admin", &[]);
    let admin_key = create_key(&app, &adam, "admin").await;

    let env_roles = format!("/api/v1/environments/{staging}/role-assignment");
    let grant = format!(r#"{{"userId": {mia_id}, "role": "viewer"}}"#);
    assert_eq!(
        send(&app, &admin_key, "POST", &env_roles, Some(&grant))
            .await
            .0,
        200
    );
    let (status, body) = send(&app, &admin_key, "POST", &env_roles, Some(&grant)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("already_assigned"))
    );
    let change = format!(r#"{{"userId": {mia_id}, "role": "support"}}"#);
    assert_eq!(
        send(&app, &admin_key, "PUT", &env_roles, Some(&change))
            .await
            .0,
        200
    );
    let (status, body) = send(&app, &admin_key, "GET", &env_roles, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["payload"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["userId"] == mia_id)
            .unwrap()["role"],
        "support"
    );
    assert_eq!(
        send(
            &app,
            &admin_key,
            "DELETE",
            &format!("{env_roles}?userId={mia_id}"),
            None
        )
        .await
        .0,
        200
    );
    let (status, body) = send(
        &app,
        &admin_key,
        "DELETE",
        &format!("{env_roles}?userId={mia_id}"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_assigned"))
    );

    let prod = format!("/api/v1/environments/{production}/role-assignment");
    let (status, body) = send(&app, &owner_key, "POST", &prod, Some(&grant)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("password_required"))
    );
    let with_password = format!(
        r#"{{"userId": {mia_id}, "role": "viewer", "password": "{}"}}"#,
        crate::support::PASSWORD
    );
    assert_eq!(
        send(&app, &owner_key, "POST", &prod, Some(&with_password))
            .await
            .0,
        200
    );

    let org_roles = format!("/api/v1/organizations/{org}/role-assignment");
    let promote = format!(r#"{{"userId": {mia_id}, "role": "admin"}}"#);
    let (status, body) = send(&app, &admin_key, "PUT", &org_roles, Some(&promote)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "only owners change organization roles"
    );
    assert_eq!(
        send(&app, &owner_key, "PUT", &org_roles, Some(&promote))
            .await
            .0,
        200
    );
    let owner_id = app.user_id("owner@example.com");
    let (status, body) = send(
        &app,
        &owner_key,
        "PUT",
        &org_roles,
        Some(&format!(r#"{{"userId": {owner_id}, "role": "member"}}"#)),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("last_owner"))
    );

    let (status, _) = send(
        &app,
        &admin_key,
        "DELETE",
        &format!("{org_roles}?userId={owner_id}"),
        None,
    )
    .await;
    assert_eq!(status, 403, "admins cannot remove owners");
    assert_eq!(
        send(
            &app,
            &owner_key,
            "DELETE",
            &format!("{org_roles}?userId={mia_id}"),
            None
        )
        .await
        .0,
        200
    );
    assert_eq!(
        app.get_with(&mia, &format!("/orgs/{slug}")).await.status,
        404
    );

    let by_key: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "SELECT count(*) FROM audit_events WHERE actor_kind = 'api_key' AND status = 'successful'
         AND action IN ('environment.role_granted', 'environment.role_changed', 'environment.role_revoked', 'member.role_changed', 'member.removed')",
    )
    .get_result(&mut app.conn())
    .unwrap();
    assert_eq!(by_key, 6, "each change audited with the API key as actor");
}

#[actix_web::test]
async fn bad_bodies_get_a_422_naming_the_problem_and_huge_ones_a_413() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let staging: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!(
        "SELECT e.id FROM environments e JOIN organizations o ON o.id = e.organization_id WHERE o.slug = '{slug}' AND e.kind = 'staging'"
    ))
    .get_result(&mut app.conn())
    .unwrap();
    let key = create_key(&app, &app.client, "owner").await;
    let path = format!("/api/v1/environments/{staging}/role-assignment");
    for (body, mentions) in [
        ("{not json", "Json deserialize error"),
        (r#"{"userId": "seven", "role": "viewer"}"#, "invalid type"),
        (r#"{"userId": 1, "role": "emperor"}"#, "unknown variant"),
        (
            r#"{"userId": 1, "role": "viewer", "sudo": true}"#,
            "unknown field `sudo`",
        ),
        (r#"{"role": "viewer"}"#, "missing field `userId`"),
    ] {
        let (status, response) = send(&app, &key, "POST", &path, Some(body)).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(response["error"]["code"], "invalid_body");
        assert!(
            response["error"]["message"]
                .as_str()
                .unwrap()
                .contains(mentions),
            "{body}: {response}"
        );
    }
    let huge = format!(
        r#"{{"userId": 1, "role": "viewer", "password": "{}"}}"#,
        "x".repeat(70_000)
    );
    let (status, response) = send(&app, &key, "POST", &path, Some(&huge)).await;
    assert_eq!(status, 413);
    assert_eq!(response["error"]["code"], "body_too_large");
}

#[actix_web::test]
async fn invitations_are_sent_and_revoked_through_the_api() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let org: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!(
        "SELECT id FROM organizations WHERE slug = '{slug}'"
    ))
    .get_result(&mut app.conn())
    .unwrap();
    let key = create_key(&app, &app.client, "owner").await;
    let path = format!("/api/v1/organizations/{org}/invitations");
    let (status, body) = send(
        &app,
        &key,
        "POST",
        &path,
        Some(r#"{"emails": ["pat@example.com", "nope"]}"#),
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("emails[1]"),
        "{body}"
    );
    let (status, body) = send(
        &app,
        &key,
        "POST",
        &path,
        Some(r#"{"emails": ["pat@example.com"], "environments": {"staging": "viewer"}}"#),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["payload"]["created"][0], "pat@example.com");
    let mail = app
        .mail
        .wait_for("pat@example.com", "invited you to Acme")
        .await;
    assert!(mail.raw.contains("staging: viewer"));
    let (status, body) = send(
        &app,
        &key,
        "POST",
        &path,
        Some(r#"{"emails": ["owner@example.com"]}"#),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("already_member"))
    );
    let (status, body) = send(
        &app,
        &key,
        "POST",
        &path,
        Some(r#"{"emails": ["p2@example.com"], "environments": {"production": "viewer"}}"#),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("password_required"))
    );

    let id: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "SELECT id FROM invitations WHERE email = 'pat@example.com'",
    )
    .get_result(&mut app.conn())
    .unwrap();
    assert_eq!(
        send(
            &app,
            &key,
            "DELETE",
            &format!("{path}?invitationId={id}"),
            None
        )
        .await
        .0,
        200
    );
    let (status, body) = send(
        &app,
        &key,
        "DELETE",
        &format!("{path}?invitationId={id}"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_pending"))
    );
    let (_, body) = api(&app, Some(&key), &path).await;
    assert_eq!(body["payload"]["items"][0]["state"], "revoked");
    assert_eq!(app.audit_count("invitation.revoked", "successful"), 1);
}

#[actix_web::test]
async fn each_key_is_rate_limited_with_retry_after() {
    let app = crate::support::spawn_app_with(crate::support::Options {
        api_rate_per_minute: 3,
        ..crate::support::Options::default()
    })
    .await;
    app.signed_up_verified("Ada", "ada@example.com").await;
    let key = create_key(&app, &app.client, "busy").await;
    let other = create_key(&app, &app.client, "quiet").await;
    for _ in 0..3 {
        assert_eq!(api(&app, Some(&key), "/api/v1/organizations").await.0, 200);
    }
    let r = reqwest::Client::new()
        .get(app.url("/api/v1/organizations"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    let retry: i64 = r
        .headers()
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    let body: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    assert_eq!(
        api(&app, Some(&other), "/api/v1/organizations").await.0,
        200,
        "the limit is per key"
    );
    diesel::sql_query("UPDATE api_rate_windows SET window_start = now() - interval '61 seconds'")
        .execute(&mut app.conn())
        .unwrap();
    assert_eq!(
        api(&app, Some(&key), "/api/v1/organizations").await.0,
        200,
        "a new minute, a new window"
    );
}

#[actix_web::test]
async fn the_api_answers_its_edges_as_its_document_says() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let staging = crate::support::env_id(&app, &slug, "staging");
    let key = create_key(&app, &app.client, "owner").await;
    let path = format!("/api/v1/environments/{staging}/role-assignment");
    let raw = |method: &str, path: &str, auth: Option<String>, body: Option<&str>| {
        let mut req = reqwest::Client::new().request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            app.url(path),
        );
        if let Some(auth) = auth {
            req = req.header("authorization", auth);
        }
        if let Some(body) = body {
            req = req
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        req.send()
    };

    // The scheme's name is case-insensitive.
    let r = raw("GET", &path, Some(format!("bearer {key}")), None)
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // A bad key is a 401 whatever the body.
    let r = raw("POST", &path, Some("Bearer nope".into()), Some("{not json"))
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "unauthorized"
    );

    // A malformed or too large id names nothing: a JSON 404, not the HTML page.
    for bad in ["abc", "9223372036854775808", "-"] {
        let r = raw(
            "GET",
            &format!("/api/v1/environments/{bad}/role-assignment"),
            Some(format!("Bearer {key}")),
            None,
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 404, "{bad}");
        assert_eq!(
            r.json::<Value>().await.unwrap()["error"]["code"],
            "not_found",
            "{bad}"
        );
    }

    // A method the path does not take: 405 with Allow, in JSON; pages too.
    let r = raw("PATCH", &path, Some(format!("Bearer {key}")), None)
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "GET, HEAD, POST, PUT, DELETE");
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "method_not_allowed"
    );
    let r = raw("TRACE", "/api/v1/organizations", None, None)
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "GET, HEAD");
    let r = app.client.delete(app.url("/signin")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "GET, HEAD, POST");

    // `password` is a string when sent: null is refused; a whole number written `7.0` is an id.
    let member = crate::support::member(&app, &slug, "Mia", "mia@example.test", "member").await;
    drop(member);
    let mia = app.user_id("mia@example.test");
    let (status, body) = send(
        &app,
        &key,
        "POST",
        &path,
        Some(&format!(
            r#"{{"userId": {mia}, "role": "viewer", "password": null}}"#
        )),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = send(
        &app,
        &key,
        "POST",
        &path,
        Some(&format!(r#"{{"userId": {mia}.0, "role": "viewer"}}"#)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = send(
        &app,
        &key,
        "PUT",
        &path,
        Some(&format!(r#"{{"userId": {mia}.5, "role": "viewer"}}"#)),
    )
    .await;
    assert_eq!(status, 422);

    // Environment names are the document's three; addresses are the documented pattern.
    let org = crate::support::org_id(&app, &slug);
    let invite = format!("/api/v1/organizations/{org}/invitations");
    for body in [
        r#"{"emails": ["ann@example.test"], "environments": {"qa": "viewer"}}"#,
        r#"{"emails": [" ann@example.test"]}"#,
        r#"{"emails": ["ann@example.test"], "environments": {"staging": null}}"#,
    ] {
        let (status, response) = send(&app, &key, "POST", &invite, Some(body)).await;
        assert_eq!(status, 422, "{body}: {response}");
    }
    let doc: Value = reqwest::get(app.url("/api/v1/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let params = &doc["paths"]["/api/v1/organizations/{id}/invitations"]["get"]["parameters"];
    let page = params
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "_page")
        .unwrap();
    assert_eq!(page["schema"]["maximum"], 1_000_000);
    let envs = &doc["components"]["schemas"]["InviteEnvironments"];
    assert_eq!(envs["additionalProperties"], false, "{envs}");
    assert!(envs["properties"]["production"].is_object());
}

#[actix_web::test]
async fn personal_keys_expire_when_chosen_show_their_last_use_and_remind_their_owner() {
    let app = spawn_app().await;
    app.signed_up_verified("Ada", "ada@example.com").await;
    let page = app.get("/account/api-keys").await;
    assert!(
        page.body
            .contains(r#"<option value="90" selected>90 days</option>"#),
        "{}",
        page.body
    );
    // A lifetime that is not offered: the message beside the field, the name kept.
    let bad = app
        .post_form(
            "/account/api-keys",
            "/account/api-keys",
            &[("name", "deploy bot"), ("expires", "9999")],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("Choose how long the key works"));
    assert!(bad.body.contains(r#"value="deploy bot""#));

    let key = create_key(&app, &app.client, "deploy bot").await;
    let expires: chrono::DateTime<chrono::Utc> =
        diesel::dsl::sql::<diesel::sql_types::Timestamptz>(
            "SELECT expires_at FROM personal_api_keys WHERE name = 'deploy bot'",
        )
        .get_result(&mut app.conn())
        .unwrap();
    let days = (expires - chrono::Utc::now()).num_days();
    assert!((89..=90).contains(&days), "90 days by default, got {days}");
    let forever = app
        .post_form(
            "/account/api-keys",
            "/account/api-keys",
            &[("name", "forever"), ("expires", "never")],
        )
        .await;
    assert_eq!(forever.status, 303);
    let unlimited: Option<chrono::DateTime<chrono::Utc>> =
        diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>>(
            "SELECT expires_at FROM personal_api_keys WHERE name = 'forever'",
        )
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(unlimited, None);

    // Last use, with the IP, on the list.
    assert_eq!(
        send(&app, &key, "GET", "/api/v1/organizations", None)
            .await
            .0,
        200
    );
    let list = app.get("/account/api-keys").await;
    assert!(list.body.contains("from 127.0.0.1"), "{}", list.body);

    // A week before expiry the owner is emailed, once.
    diesel::sql_query(
        "UPDATE personal_api_keys SET expires_at = now() + interval '3 days' WHERE name = 'deploy bot'",
    )
    .execute(&mut app.conn())
    .unwrap();
    let mut conn = app.conn();
    let queued = gatehouse::ops::accounts::remind_expiring_keys(&mut conn, &app.settings).unwrap();
    assert_eq!(queued, 1);
    let again = gatehouse::ops::accounts::remind_expiring_keys(&mut conn, &app.settings).unwrap();
    assert_eq!(again, 0, "once per key");
    let mail = app
        .mail
        .wait_for("ada@example.com", "A Gatehouse API key expires in a week")
        .await;
    assert!(mail.raw.contains("deploy bot"), "{}", mail.raw);

    // Expired: 401 key_expired, not a generic 401.
    diesel::sql_query(
        "UPDATE personal_api_keys SET expires_at = now() - interval '1 second' WHERE name = 'deploy bot'",
    )
    .execute(&mut app.conn())
    .unwrap();
    let (status, body) = send(&app, &key, "GET", "/api/v1/organizations", None).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "key_expired", "{body}");
    assert!(
        app.get("/account/api-keys")
            .await
            .body
            .contains(">expired</span>")
    );
}

/// A new key is shown in the session it was made in: when its page did not load and the next
/// person signs in on the same browser, the cookie carrying it shows them nothing.
#[actix_web::test]
async fn a_new_key_is_shown_only_in_the_session_that_made_it() {
    let app = spawn_app().await;
    app.signed_up_verified("Ada", "ada@example.com").await;
    app.create_account_verified("Bob", "bob@example.com");
    let r = app
        .post_form_with(
            &app.client,
            "/account/api-keys",
            "/account/api-keys",
            &[("name", "ci")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    // The page it redirects to is not loaded; Ada signs out and Bob signs in.
    let out = app.post_form("/orgs", "/signout", &[]).await;
    assert_eq!(out.status, 303);
    let signed_in = app
        .sign_in(&app.client, "bob@example.com", crate::support::PASSWORD)
        .await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    let page = app.get("/account/api-keys").await;
    assert_eq!(page.status, 200);
    assert!(
        !page.body.contains("gatehouse_pk_"),
        "Ada's key shown to Bob"
    );
    assert!(!page.body.contains("class=\"revealed\""));
}

#[actix_web::test]
async fn a_keys_last_use_is_written_at_most_once_a_minute_or_from_a_new_address() {
    use gatehouse::db::api_keys::{self, KeyCheck};
    use gatehouse::db::schema::personal_api_keys::dsl as k;
    let app = spawn_app().await;
    app.create_account_verified("Ada", "ada@example.com");
    let mut conn = app.conn();
    let ada = app.user_id("ada@example.com");
    let key = app.personal_key("ada@example.com", "tool");
    let kept = gatehouse::db::orgs::KeptAccess::default();
    type LastUse = (Option<chrono::DateTime<chrono::Utc>>, Option<String>);
    let last_use = |conn: &mut diesel::PgConnection| -> LastUse {
        k::personal_api_keys
            .select((k::last_used_at, k::last_used_ip))
            .first(conn)
            .unwrap()
    };
    let set = |conn: &mut diesel::PgConnection, sql: &str| {
        diesel::sql_query(format!("UPDATE personal_api_keys SET {sql}"))
            .execute(conn)
            .unwrap();
    };
    let live = |conn: &mut diesel::PgConnection, ip: &str| {
        matches!(
            api_keys::authenticate(conn, &key, Some(ip), None, &kept).unwrap(),
            KeyCheck::Live((ref user, _, _)) if user.id.0 == ada
        )
    };
    let just_now = |at: Option<chrono::DateTime<chrono::Utc>>| {
        at.is_some_and(|at| chrono::Utc::now() - at < chrono::Duration::seconds(10))
    };

    let written_now_from = |conn: &mut diesel::PgConnection, ip: &str| {
        let (at, from) = last_use(conn);
        assert!(
            just_now(at) && from.as_deref() == Some(ip),
            "{at:?} {from:?}"
        );
    };
    assert!(live(&mut conn, "10.0.0.1"));
    written_now_from(&mut conn, "10.0.0.1");
    // Within the minute, from the same address: nothing written.
    set(&mut conn, "last_used_at = now() - interval '30 seconds'");
    let within = last_use(&mut conn);
    assert!(live(&mut conn, "10.0.0.1"));
    assert_eq!(last_use(&mut conn), within);
    // From another address: written at once.
    assert!(live(&mut conn, "10.0.0.2"));
    written_now_from(&mut conn, "10.0.0.2");
    // A minute on: written again.
    set(&mut conn, "last_used_at = now() - interval '2 minutes'");
    assert!(live(&mut conn, "10.0.0.2"));
    written_now_from(&mut conn, "10.0.0.2");
    // An expired key is refused, and its use is not recorded.
    set(
        &mut conn,
        "expires_at = now() - interval '1 day', last_used_at = now() - interval '2 minutes'",
    );
    let before = last_use(&mut conn);
    assert!(matches!(
        api_keys::authenticate(&mut conn, &key, Some("10.0.0.3"), None, &kept).unwrap(),
        KeyCheck::Expired
    ));
    assert_eq!(last_use(&mut conn), before);
}
