//! The authorization matrix: every route (pages and form posts) × every kind of actor, with the
//! outcome each must get. The test fails when the application has a route with no row here.
//!
//! Outcomes: `A` allowed (anything but the four below: the page, a redirect elsewhere, or a
//! form sent back with errors), `S` sent to sign in, `F` forbidden (403), `N` not found (404),
//! `U` unauthorized (401: the API takes bearer keys, never the session cookie).

use std::collections::BTreeSet;

use diesel::prelude::*;

use crate::support::{PASSWORD, TestApp, client, spawn_app};

/// Actor columns, in order.
const ACTORS: [&str; 9] = [
    "visitor",
    "non-member",
    "member",
    "viewer",
    "support",
    "engineer",
    "admin",
    "owner",
    "operator",
];

/// (method, route as registered, outcome per actor). Form posts are sent with a valid CSRF token
/// and no fields; the outcome is about who gets through, not whether the form was complete.
const MATRIX: &[(&str, &str, &str)] = &[
    ("GET", "/", "AAAAAAAAA"),
    ("GET", "/healthz", "AAAAAAAAA"),
    ("GET", "/readyz", "AAAAAAAAA"),
    ("GET", "/static/css/app.css", "AAAAAAAAA"),
    ("GET", "/static/icons/gatehouse.svg", "AAAAAAAAA"),
    ("GET", "/static/manifest.webmanifest", "AAAAAAAAA"),
    ("GET", "/favicon.ico", "AAAAAAAAA"),
    ("GET", "/signup", "AAAAAAAAA"),
    ("POST", "/signup", "AAAAAAAAA"),
    ("GET", "/signin", "AAAAAAAAA"),
    ("POST", "/signin", "AAAAAAAAA"),
    ("GET", "/signin/two-factor", "AAAAAAAAA"),
    ("POST", "/signin/two-factor", "AAAAAAAAA"),
    // The passkey script's JSON: a form post carries no X-CSRF-Token (403) or no JSON (400).
    ("POST", "/signin/passkey/options", "FFFFFFFFF"),
    ("POST", "/signin/passkey", "AAAAAAAAA"),
    ("POST", "/signin/two-factor/passkey/options", "FFFFFFFFF"),
    ("POST", "/signin/two-factor/passkey", "AAAAAAAAA"),
    ("GET", "/static/js/passkeys.js", "AAAAAAAAA"),
    ("POST", "/signout", "AAAAAAAAA"),
    ("GET", "/verify-email", "NNNNNNNNN"),
    ("POST", "/verify-email/resend", "SAAAAAAAA"),
    ("GET", "/password/forgot", "AAAAAAAAA"),
    ("POST", "/password/forgot", "AAAAAAAAA"),
    ("GET", "/password/reset", "AAAAAAAAA"),
    ("POST", "/password/reset", "AAAAAAAAA"),
    ("GET", "/account", "SAAAAAAAA"),
    ("POST", "/account/name", "SAAAAAAAA"),
    ("POST", "/account/email", "SAAAAAAAA"),
    ("GET", "/account/email/confirm", "NNNNNNNNN"),
    ("GET", "/account/password", "SAAAAAAAA"),
    ("POST", "/account/password", "SAAAAAAAA"),
    ("GET", "/orgs", "SAAAAAAAA"),
    ("GET", "/orgs/new", "SAAAAAAAA"),
    ("POST", "/orgs/new", "SAAAAAAAA"),
    ("GET", "/orgs/{slug}", "SNAAAAAAN"),
    ("GET", "/orgs/{slug}/settings", "SNFFFFFAN"),
    ("POST", "/orgs/{slug}/settings", "SNFFFFFAN"),
    ("POST", "/orgs/{slug}/settings/two-factor", "SNFFFFFAN"),
    ("GET", "/orgs/{slug}/leave", "SNAAAAAAN"),
    ("POST", "/orgs/{slug}/leave", "SNAAAAAAN"),
    ("GET", "/orgs/{slug}/access", "SNFFFFAAN"),
    ("GET", "/orgs/{slug}/access/users", "SNFFFFAAN"),
    ("GET", "/orgs/{slug}/access/users/{user_id}", "SNFFFFAAN"),
    (
        "POST",
        "/orgs/{slug}/access/users/{user_id}/remove",
        "SNFFFFAAN",
    ),
    (
        "GET",
        "/orgs/{slug}/access/users/{user_id}/roles",
        "SNFFFFAAN",
    ),
    (
        "POST",
        "/orgs/{slug}/access/users/{user_id}/roles",
        "SNFFFFAAN",
    ),
    ("GET", "/orgs/{slug}/access/invitations", "SNFFFFAAN"),
    ("GET", "/orgs/{slug}/access/invitations/new", "SNFFFFAAN"),
    ("POST", "/orgs/{slug}/access/invitations/new", "SNFFFFAAN"),
    (
        "POST",
        "/orgs/{slug}/access/invitations/{id}/resend",
        "SNFFFFAAN",
    ),
    (
        "POST",
        "/orgs/{slug}/access/invitations/{id}/revoke",
        "SNFFFFAAN",
    ),
    ("GET", "/orgs/{slug}/access/roles", "SNFFFFAAN"),
    ("GET", "/orgs/{slug}/access/environments", "SNFFFFAAN"),
    (
        "GET",
        "/orgs/{slug}/access/environments/{kind}",
        "SNFFFFAAN",
    ),
    ("GET", "/orgs/{slug}/access/grid", "SNFFFFAAN"),
    ("POST", "/orgs/{slug}/access/grid", "SNFFFFAAN"),
    ("GET", "/orgs/{slug}/env/{kind}", "SNFAAAFAN"),
    ("POST", "/orgs/{slug}/env/{kind}/config", "SNFFAAFAN"),
    ("POST", "/orgs/{slug}/env/{kind}/config/{id}", "SNFFAAFAN"),
    (
        "POST",
        "/orgs/{slug}/env/{kind}/config/{id}/delete",
        "SNFFAAFAN",
    ),
    (
        "POST",
        "/orgs/{slug}/env/{kind}/config/{id}/reveal",
        "SNFFAAFAN",
    ),
    ("POST", "/orgs/{slug}/env/{kind}/keys", "SNFFFAFAN"),
    (
        "POST",
        "/orgs/{slug}/env/{kind}/keys/{id}/revoke",
        "SNFFFAFAN",
    ),
    ("GET", "/invitations/{token}", "AAAAAAAAA"),
    ("POST", "/invitations/{token}/accept", "SFFFFFFFF"),
    ("POST", "/invitations/{token}/decline", "SFFFFFFFF"),
    ("POST", "/invitations/{token}/signup", "AAAAAAAAA"),
    ("POST", "/invitations/{token}/switch", "AAAAAAAAA"),
    ("GET", "/orgs/{slug}/delete", "SNFFFFFAN"),
    ("POST", "/orgs/{slug}/delete", "SNFFFFFAN"),
    ("GET", "/orgs/{slug}/audit", "SNFFFFFAN"),
    ("GET", "/orgs/{slug}/audit.csv", "SNFFFFFAN"),
    ("GET", "/operator", "SNNNNNNNA"),
    ("GET", "/operator/orgs/{id}", "SNNNNNNNA"),
    ("POST", "/operator/orgs/{id}/live", "SNNNNNNNA"),
    ("POST", "/operator/orgs/{id}/delete", "SNNNNNNNA"),
    ("GET", "/operator/audit.csv", "SNNNNNNNA"),
    ("GET", "/account/api-keys", "SAAAAAAAA"),
    ("POST", "/account/api-keys", "SAAAAAAAA"),
    ("POST", "/account/api-keys/{id}/revoke", "SNNNNNNAN"),
    ("GET", "/account/two-factor", "SAAAAAAAA"),
    ("POST", "/account/two-factor/setup", "SAAAAAAAA"),
    ("GET", "/account/two-factor/qr.svg", "SAAAAAAAA"),
    ("POST", "/account/two-factor/confirm", "SAAAAAAAA"),
    ("POST", "/account/two-factor/recovery-codes", "SAAAAAAAA"),
    ("POST", "/account/two-factor/disable", "SAAAAAAAA"),
    ("GET", "/account/passkeys", "SAAAAAAAA"),
    ("POST", "/account/passkeys/options", "SFFFFFFFF"),
    ("POST", "/account/passkeys", "AAAAAAAAA"),
    ("POST", "/account/passkeys/{id}/rename", "SAAAAAAAA"),
    ("POST", "/account/passkeys/{id}/delete", "SNNNNNNNN"),
    ("GET", "/account/sessions", "SAAAAAAAA"),
    ("POST", "/account/sessions/revoke-others", "SAAAAAAAA"),
    ("POST", "/account/sessions/{sid}/revoke", "SNNNNNNNN"),
    ("GET", "/api/v1/openapi.json", "AAAAAAAAA"),
    ("GET", "/api/v1/organizations", "UUUUUUUUU"),
    (
        "GET",
        "/api/v1/organizations/{id}/environments",
        "UUUUUUUUU",
    ),
    (
        "GET",
        "/api/v1/organizations/{id}/role-assignment",
        "UUUUUUUUU",
    ),
    (
        "PUT",
        "/api/v1/organizations/{id}/role-assignment",
        "UUUUUUUUU",
    ),
    (
        "DELETE",
        "/api/v1/organizations/{id}/role-assignment",
        "UUUUUUUUU",
    ),
    (
        "GET",
        "/api/v1/environments/{id}/role-assignment",
        "UUUUUUUUU",
    ),
    (
        "POST",
        "/api/v1/environments/{id}/role-assignment",
        "UUUUUUUUU",
    ),
    (
        "PUT",
        "/api/v1/environments/{id}/role-assignment",
        "UUUUUUUUU",
    ),
    (
        "DELETE",
        "/api/v1/environments/{id}/role-assignment",
        "UUUUUUUUU",
    ),
    ("GET", "/api/v1/organizations/{id}/invitations", "UUUUUUUUU"),
    (
        "POST",
        "/api/v1/organizations/{id}/invitations",
        "UUUUUUUUU",
    ),
    (
        "DELETE",
        "/api/v1/organizations/{id}/invitations",
        "UUUUUUUUU",
    ),
    (
        "GET",
        "/api/v1/organizations/{id}/audit-events",
        "UUUUUUUUU",
    ),
    ("GET", "/dev/mailbox", "NNNNNNNNN"),
    ("GET", "/dev/mailbox/{id}", "NNNNNNNNN"),
];

/// Every route the application registers, from its route table.
pub fn registered_routes() -> BTreeSet<(String, String)> {
    gatehouse::routes::ROUTES
        .iter()
        .map(|r| (r.method.to_uppercase(), r.path.to_string()))
        .collect()
}

#[test]
fn every_route_has_a_row_in_the_matrix() {
    let registered = registered_routes();
    assert!(
        registered.len() > 40,
        "the route table was not read: {registered:?}"
    );
    let covered: BTreeSet<(String, String)> = MATRIX
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    let missing: Vec<_> = registered.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "routes without a row in the authorization matrix: {missing:?}"
    );
    let stale: Vec<_> = covered.difference(&registered).collect();
    assert!(
        stale.is_empty(),
        "matrix rows for routes that do not exist: {stale:?}"
    );
}

struct Fixture {
    slug: String,
    org_id: i64,
    personal_key: i64,
    target: i64,
    invitation: i64,
    config: i64,
    key: i64,
    token: String,
    /// Signed-in clients per actor (None for the visitor).
    clients: Vec<Option<reqwest::Client>>,
    emails: Vec<Option<&'static str>>,
    /// The actors' user ids (None for the visitor).
    user_ids: Vec<Option<i64>>,
}

const ROLES: [(Option<&str>, Option<&str>); 9] = [
    (None, None),
    (None, None),
    (Some("member"), None),
    (Some("member"), Some("viewer")),
    (Some("member"), Some("support")),
    (Some("member"), Some("engineer")),
    (Some("admin"), None),
    (Some("owner"), Some("engineer")),
    (None, None),
];

async fn fixture(app: &TestApp) -> Fixture {
    let emails = [
        None,
        Some("stranger@example.com"),
        Some("member@example.com"),
        Some("viewer@example.com"),
        Some("support@example.com"),
        Some("engineer@example.com"),
        Some("admin@example.com"),
        Some("owner@example.com"),
        Some("operator@example.com"),
    ];
    let mut clients = Vec::new();
    for (i, email) in emails.iter().enumerate() {
        match email {
            None => clients.push(None),
            Some(email) => {
                let c = client(&app.address);
                app.account(&c, &format!("Actor {}", ACTORS[i]), email)
                    .await;
                clients.push(Some(c));
            }
        }
    }
    let mut conn = app.conn();
    diesel::sql_query("UPDATE users SET email_verified_at = now()")
        .execute(&mut conn)
        .unwrap();
    diesel::sql_query("UPDATE users SET is_operator = true WHERE email = 'operator@example.com'")
        .execute(&mut conn)
        .unwrap();
    let owner = clients[7].as_ref().unwrap();
    let html = app.get_with(owner, "/orgs/new").await.body;
    let token = crate::support::csrf_token(&html);
    let r = owner
        .post(app.url("/orgs/new"))
        .form(&[("csrf_token", token.as_str()), ("name", "Matrix")])
        .send()
        .await
        .unwrap();
    let slug = r
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .trim_start_matches("/orgs/")
        .to_string();
    diesel::sql_query("INSERT INTO users (name, email, password_hash, email_verified_at) VALUES ('Target', 'target@example.com', 'x', now())").execute(&mut conn).unwrap();
    let target = app.user_id("target@example.com");
    let token = "matrix-invitation-token".to_string();
    diesel::sql_query(
        "INSERT INTO invitations (organization_id, email, role, token_hash, invited_by_name, expires_at, invited_by)
         SELECT id, 'invitee@example.com', 'member', sha256(convert_to($1, 'UTF8')), 'Owner', now() + interval '1 day', (SELECT m.user_id FROM memberships m WHERE m.organization_id = organizations.id AND m.role = 'owner' LIMIT 1) FROM organizations WHERE slug = $2",
    )
    .bind::<diesel::sql_types::Text, _>(&token)
    .bind::<diesel::sql_types::Text, _>(&slug)
    .execute(&mut conn)
    .unwrap();
    let invitation: i64 = gatehouse::db::schema::invitations::table
        .select(gatehouse::db::schema::invitations::id)
        .first(&mut conn)
        .unwrap();
    diesel::sql_query(
        "INSERT INTO config_values (environment_id, organization_id, key, value, secret)
         SELECT e.id, e.organization_id, 'MATRIX_KEY', 'v', true FROM environments e JOIN organizations o ON o.id = e.organization_id WHERE o.slug = $1 AND e.kind = 'staging'",
    )
    .bind::<diesel::sql_types::Text, _>(&slug)
    .execute(&mut conn)
    .unwrap();
    diesel::sql_query(
        "INSERT INTO environment_api_keys (environment_id, organization_id, name, prefix, key_hash)
         SELECT e.id, e.organization_id, 'matrix', 'gatehouse_ek_xxxx', sha256('matrix'::bytea) FROM environments e JOIN organizations o ON o.id = e.organization_id WHERE o.slug = $1 AND e.kind = 'staging'",
    )
    .bind::<diesel::sql_types::Text, _>(&slug)
    .execute(&mut conn)
    .unwrap();
    let config: i64 = gatehouse::db::schema::config_values::table
        .select(gatehouse::db::schema::config_values::id)
        .first(&mut conn)
        .unwrap();
    let key: i64 = gatehouse::db::schema::environment_api_keys::table
        .select(gatehouse::db::schema::environment_api_keys::id)
        .first(&mut conn)
        .unwrap();
    let org_id: i64 = gatehouse::db::schema::organizations::table
        .select(gatehouse::db::schema::organizations::id)
        .first(&mut conn)
        .unwrap();
    diesel::sql_query(
        "INSERT INTO personal_api_keys (user_id, name, prefix, key_hash)
         SELECT id, 'owner key', 'gatehouse_pk_xxxx', sha256('owner key'::bytea) FROM users WHERE email = 'owner@example.com'",
    )
    .execute(&mut conn)
    .unwrap();
    let personal_key: i64 = gatehouse::db::schema::personal_api_keys::table
        .select(gatehouse::db::schema::personal_api_keys::id)
        .first(&mut conn)
        .unwrap();
    Fixture {
        slug,
        org_id,
        personal_key,
        target,
        invitation,
        config,
        key,
        token,
        clients,
        user_ids: emails.iter().map(|e| e.map(|e| app.user_id(e))).collect(),
        emails: emails.to_vec(),
    }
}

/// Puts every actor's roles, the invitation, the configuration value and the keys back as the
/// fixture made them, in one round trip (the matrix resets before each of its cells).
fn reset(app: &TestApp, f: &Fixture) {
    use diesel::connection::SimpleConnection;
    let mut people: Vec<(i64, &str, Option<&str>)> = f
        .user_ids
        .iter()
        .zip(ROLES)
        .filter_map(|(id, (role, env))| Some(((*id)?, role?, env)))
        .collect();
    people.push((f.target, "member", None));
    let slug = f.slug.replace('\'', "''");
    let token = f.token.replace('\'', "''");
    let mut sql = String::from("BEGIN;");
    for (user, role, env) in people {
        sql.push_str(&format!(
            "INSERT INTO memberships (organization_id, user_id, role) SELECT id, {user}, '{role}' FROM organizations WHERE slug = '{slug}'
             ON CONFLICT (organization_id, user_id) DO UPDATE SET role = EXCLUDED.role;
             DELETE FROM environment_roles WHERE user_id = {user};"
        ));
        if let Some(env) = env {
            sql.push_str(&format!(
                "INSERT INTO environment_roles (environment_id, organization_id, user_id, role)
                 SELECT e.id, e.organization_id, {user}, '{env}' FROM environments e JOIN organizations o ON o.id = e.organization_id
                 WHERE o.slug = '{slug}' AND e.kind IN ('staging', 'development');"
            ));
        }
    }
    sql.push_str(&format!(
        "UPDATE invitations SET status = 'pending', last_sent_at = now() - interval '1 hour', expires_at = now() + interval '1 day',
         token_hash = sha256(convert_to('{token}', 'UTF8'));
         INSERT INTO config_values (id, environment_id, organization_id, key, value, secret)
         SELECT {config}, e.id, e.organization_id, 'MATRIX_KEY', 'v', true FROM environments e JOIN organizations o ON o.id = e.organization_id
         WHERE o.slug = '{slug}' AND e.kind = 'staging' ON CONFLICT (id) DO NOTHING;
         UPDATE environment_api_keys SET revoked_at = NULL;
         UPDATE personal_api_keys SET revoked_at = NULL;
         COMMIT;",
        config = f.config,
    ));
    app.conn()
        .batch_execute(&sql)
        .expect("reset the matrix fixture");
}

fn concrete(path: &str, f: &Fixture) -> String {
    let id = if path.starts_with("/operator/orgs/{id}")
        || path.starts_with("/api/v1/organizations/{id}")
    {
        f.org_id
    } else if path.starts_with("/account/api-keys/{id}") {
        f.personal_key
    } else if path.contains("/invitations/{id}") {
        f.invitation
    } else if path.contains("/keys/{id}") {
        f.key
    } else if path.contains("/config/{id}") {
        f.config
    } else {
        1
    };
    let path = path
        .replace("{slug}", &f.slug)
        .replace("{user_id}", &f.target.to_string())
        .replace("{kind}", "staging")
        .replace("{sid}", "no-such-session")
        .replace("{token}", &f.token)
        .replace("{id}", &id.to_string());
    match path.as_str() {
        "/verify-email" | "/password/reset" => format!("{path}?token=not-a-real-token"),
        _ => path,
    }
}

fn outcome(status: u16, location: Option<&str>) -> char {
    match (status, location) {
        (303, Some(l)) if l.starts_with("/signin?next=") => 'S',
        (401, _) => 'U',
        (403, _) => 'F',
        (404, _) => 'N',
        _ => 'A',
    }
}

#[actix_web::test]
async fn every_route_gives_every_actor_the_expected_outcome() {
    let app = spawn_app().await;
    let mut f = fixture(&app).await;
    let visitor = client(&app.address);
    let mut wrong = Vec::new();
    // A GET changes nothing the next cell depends on: the fixture is put back only after a
    // request that may have changed something.
    let mut changed = true;
    for (method, route, expected) in MATRIX {
        let path = concrete(route, &f);
        for (i, want) in expected.chars().enumerate() {
            if changed {
                reset(&app, &f);
            }
            changed = *method != "GET";
            let c = f.clients[i].clone().unwrap_or_else(|| visitor.clone());
            let response = if *method == "GET" {
                c.get(app.url(&path)).send().await.unwrap()
            } else if path.starts_with("/api/") {
                let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
                c.request(method, app.url(&path)).send().await.unwrap()
            } else {
                // A token from a page this actor can open.
                let page = app.get_with(&c, "/password/forgot").await.body;
                let token = crate::support::csrf_token(&page);
                c.post(app.url(&path))
                    .form(&[("csrf_token", token.as_str())])
                    .send()
                    .await
                    .unwrap()
            };
            let status = response.status().as_u16();
            let location = response
                .headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .map(str::to_string);
            let got = outcome(status, location.as_deref());
            if got != want {
                wrong.push(format!(
                    "{method} {route} as {}: expected {want}, got {got} ({status})",
                    ACTORS[i]
                ));
            }
            // Signing out ends the actor's session; sign them in again for the next rows.
            if (route.ends_with("/signout") || route.ends_with("/switch")) && f.emails[i].is_some()
            {
                let fresh = client(&app.address);
                let r = app.sign_in(&fresh, f.emails[i].unwrap(), PASSWORD).await;
                assert_eq!(r.status, 303);
                f.clients[i] = Some(fresh);
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} cells differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// Every page any actor can reach, fetched as served, is valid HTML (Nu Html Checker), beyond
/// the pages the browser journeys pass through.
#[actix_web::test]
async fn every_page_is_valid_html_for_every_actor() {
    if !crate::support::browser::tools_ready("HTML check of every page") {
        return;
    }
    let app = spawn_app().await;
    let f = fixture(&app).await;
    reset(&app, &f);
    let visitor = client(&app.address);
    let mut pages = Vec::new();
    for (method, route, _) in MATRIX.iter().filter(|(m, _, _)| *m == "GET") {
        let path = concrete(route, &f);
        for (i, c) in f.clients.iter().enumerate() {
            let c = c.clone().unwrap_or_else(|| visitor.clone());
            let r = c.get(app.url(&path)).send().await.unwrap();
            let html = r
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|t| t.starts_with("text/html"));
            if html {
                pages.push((
                    format!("{method} {path} as {}", ACTORS[i]),
                    r.text().await.unwrap(),
                ));
            }
        }
    }
    assert!(pages.len() > 150, "only {} pages fetched", pages.len());
    let errors = crate::support::browser::validate_html(&pages).await;
    let broken = [("a broken page".to_string(), "<p>no doctype".to_string())];
    assert!(
        !crate::support::browser::validate_html(&broken)
            .await
            .is_empty(),
        "the checker reports errors"
    );
    assert!(
        errors.is_empty(),
        "Nu Html Checker errors:\n{}",
        errors.join("\n")
    );
}
