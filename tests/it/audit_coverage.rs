//! Audit coverage: every state-changing route, performed once, appends exactly the expected
//! events (action and status). Each case is its own test on its own database: a fixture (an
//! owner signed in, organization "Acme Health" where the owner is engineer everywhere, Mia a
//! member), then whatever the case needs, then the one request whose events are checked. A new
//! form post that is not in the lists below fails `every_form_post_is_in_the_audit_coverage_test`.

use std::collections::BTreeSet;

use diesel::prelude::*;

use crate::support::{PASSWORD, Response, TestApp, add_member, client, spawn_app};

const SLUG: &str = "acme-health";

/// Every POST route this test performs.
const COVERED: &[&str] = &[
    "/signup",
    "/signin",
    "/signout",
    "/verify-email/resend",
    "/password/forgot",
    "/password/reset",
    "/account/password",
    "/account/name",
    "/account/email",
    "/orgs/new",
    "/orgs/{slug}/settings",
    "/orgs/{slug}/settings/two-factor",
    "/orgs/{slug}/leave",
    "/orgs/{slug}/delete",
    "/orgs/{slug}/access/users/{user_id}/remove",
    "/orgs/{slug}/access/users/{user_id}/roles",
    "/orgs/{slug}/access/invitations/new",
    "/orgs/{slug}/access/invitations/{id}/resend",
    "/orgs/{slug}/access/invitations/{id}/revoke",
    "/orgs/{slug}/access/grid",
    "/orgs/{slug}/env/{kind}/config",
    "/orgs/{slug}/env/{kind}/config/{id}",
    "/orgs/{slug}/env/{kind}/config/{id}/delete",
    "/orgs/{slug}/env/{kind}/config/{id}/reveal",
    "/orgs/{slug}/env/{kind}/keys",
    "/orgs/{slug}/env/{kind}/keys/{id}/revoke",
    "/invitations/{token}/accept",
    "/invitations/{token}/decline",
    "/invitations/{token}/signup",
    "/invitations/{token}/switch",
    "/account/api-keys",
    "/account/api-keys/{id}/revoke",
    "/account/sessions/revoke-others",
    "/account/two-factor/setup",
    "/account/two-factor/confirm",
    "/account/two-factor/recovery-codes",
    "/account/two-factor/disable",
    "/signin/two-factor",
    "/signin/passkey/options",
    "/signin/passkey",
    "/signin/two-factor/passkey/options",
    "/signin/two-factor/passkey",
    "/account/passkeys/options",
    "/account/passkeys",
    "/account/passkeys/{id}/rename",
    "/account/passkeys/{id}/delete",
    "/account/sessions/{sid}/revoke",
    "/operator/orgs/{id}/live",
    "/operator/orgs/{id}/delete",
];

/// Every changing API route this test performs.
const API_COVERED: &[&str] = &[
    "POST /api/v1/environments/{id}/role-assignment",
    "PUT /api/v1/environments/{id}/role-assignment",
    "DELETE /api/v1/environments/{id}/role-assignment",
    "PUT /api/v1/organizations/{id}/role-assignment",
    "DELETE /api/v1/organizations/{id}/role-assignment",
    "POST /api/v1/organizations/{id}/invitations",
    "DELETE /api/v1/organizations/{id}/invitations",
];

/// A Platform API call as an owner's key, from the same IP and user agent as the forms.
async fn api_call(
    app: &TestApp,
    key: &str,
    method: &str,
    path: &str,
    body: Option<String>,
) -> Response {
    let client = reqwest::Client::builder()
        .user_agent("gatehouse-tests")
        .build()
        .unwrap();
    let mut req = client
        .request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            app.url(path),
        )
        .bearer_auth(key);
    if let Some(body) = body {
        req = req.header("content-type", "application/json").body(body);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    assert_eq!(status, 200, "{method} {path}");
    Response {
        status,
        location: None,
        body: r.text().await.unwrap_or_default(),
    }
}

#[test]
fn every_form_post_is_in_the_audit_coverage_test() {
    let posts: BTreeSet<String> = crate::matrix::registered_routes()
        .into_iter()
        .filter(|(m, _)| m != "GET")
        .map(|(m, p)| {
            if m == "POST" && !p.starts_with("/api/") {
                p
            } else {
                format!("{m} {p}")
            }
        })
        .collect();
    let covered: BTreeSet<String> = COVERED
        .iter()
        .chain(API_COVERED)
        .map(|p| p.to_string())
        .collect();
    let missing: Vec<_> = posts.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "form posts without an audit coverage step: {missing:?}"
    );
}

fn last_event_id(app: &TestApp) -> i64 {
    diesel::dsl::sql::<diesel::sql_types::BigInt>("SELECT coalesce(max(id), 0) FROM audit_events")
        .get_result(&mut app.conn())
        .unwrap()
}

fn events_after(app: &TestApp, id: i64) -> Vec<(String, String)> {
    use gatehouse::db::schema::audit_events::dsl as a;
    a::audit_events
        .filter(a::id.gt(id))
        .order(a::id)
        .select((a::action, a::status))
        .load(&mut app.conn())
        .unwrap()
}

/// Runs one request and checks the events it appended, exactly.
async fn step(
    app: &TestApp,
    what: &str,
    expected: &[(&str, &str)],
    request: impl std::future::Future<Output = Response>,
) -> Response {
    let before = last_event_id(app);
    let response = request.await;
    assert!(
        response.status < 500,
        "{what}: {} {}",
        response.status,
        response.body
    );
    let recorded: Vec<(Option<String>, Option<String>)> = {
        use gatehouse::db::schema::audit_events::dsl as a;
        a::audit_events
            .filter(a::id.gt(before))
            .select((a::ip, a::user_agent))
            .load(&mut app.conn())
            .unwrap()
    };
    for (ip, agent) in recorded {
        assert_eq!(
            ip.as_deref(),
            Some("127.0.0.1"),
            "{what}: the request's IP is recorded"
        );
        assert_eq!(
            agent.as_deref(),
            Some("gatehouse-tests"),
            "{what}: the user agent is recorded"
        );
    }
    let mut got = events_after(app, before);
    for (action, _) in &got {
        assert!(
            action.parse::<gatehouse::audit::Action>().is_ok(),
            "{what}: {action} is not an audit::Action (the audit page's filter)"
        );
    }
    let mut want: Vec<(String, String)> = expected
        .iter()
        .map(|(a, s)| (a.to_string(), s.to_string()))
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "{what}: the audit events appended");
    response
}

fn id_of(app: &TestApp, sql: &str) -> i64 {
    diesel::dsl::sql::<diesel::sql_types::BigInt>(sql)
        .get_result(&mut app.conn())
        .unwrap()
}

/// The fixture every case starts from.
async fn fixture() -> TestApp {
    let app = spawn_app().await;
    app.signed_up_verified("Olivia Owner", "owner@example.com")
        .await;
    assert_eq!(app.create_org("Acme Health").await, SLUG);
    app.create_account_verified("Mia Member", "mia@example.com");
    add_member(&app, SLUG, "mia@example.com", "member", &[]);
    app
}

/// A signed-in client for an account of the fixture (or one made here).
async fn signed_in(app: &TestApp, name: &str, email: &str) -> reqwest::Client {
    let c = client(&app.address);
    if app.user_id_opt(email).is_none() {
        app.create_account_verified(name, email);
    }
    assert_eq!(app.sign_in(&c, email, PASSWORD).await.status, 303);
    c
}

fn org_id(app: &TestApp) -> i64 {
    id_of(
        app,
        &format!("SELECT id FROM organizations WHERE slug = '{SLUG}'"),
    )
}

fn mia(app: &TestApp) -> i64 {
    id_of(app, "SELECT id FROM users WHERE email = 'mia@example.com'")
}

/// An invitation with a known link token.
fn invitation(app: &TestApp, slug: &str, email: &str, token: &str) {
    diesel::sql_query(
        "INSERT INTO invitations (organization_id, email, role, token_hash, invited_by_name, expires_at, invited_by)
         SELECT id, $1, 'member', sha256(convert_to($2, 'UTF8')), 'Olivia', now() + interval '1 day',
                (SELECT m.user_id FROM memberships m WHERE m.organization_id = organizations.id AND m.role = 'owner' LIMIT 1)
         FROM organizations WHERE slug = $3",
    )
    .bind::<diesel::sql_types::Text, _>(email)
    .bind::<diesel::sql_types::Text, _>(token)
    .bind::<diesel::sql_types::Text, _>(slug)
    .execute(&mut app.conn())
    .unwrap();
}

/// A personal API key of the owner's.
fn owner_key(app: &TestApp) -> String {
    app.personal_key("owner@example.com", "coverage")
}

fn env_id(app: &TestApp, kind: &str) -> i64 {
    let org = org_id(app);
    id_of(
        app,
        &format!("SELECT id FROM environments WHERE organization_id = {org} AND kind = '{kind}'"),
    )
}

/// Mia's roles form, posted by the owner.
async fn roles(app: &TestApp, fields: &[(&str, &str)]) -> Response {
    let roles = format!("/orgs/{SLUG}/access/users/{}/roles", mia(app));
    app.post_form(&roles, &roles, fields).await
}

const OK: &str = "successful";
const DENIED: &str = "denied";

// Accounts.

#[actix_web::test]
async fn sign_up() {
    let app = spawn_app().await;
    let fields = [
        ("name", "Nia New"),
        ("email", "nia@example.com"),
        ("password", PASSWORD),
    ];
    step(
        &app,
        "sign up",
        &[("user.signed_up", OK)],
        app.post_form("/signup", "/signup", &fields),
    )
    .await;
}

#[actix_web::test]
async fn sign_in_and_out() {
    let app = fixture().await;
    let c = client(&app.address);
    step(
        &app,
        "sign in",
        &[("user.signed_in", OK)],
        app.sign_in(&c, "mia@example.com", PASSWORD),
    )
    .await;
    step(
        &app,
        "failed sign in",
        &[("user.sign_in_failed", DENIED)],
        app.sign_in(&client(&app.address), "mia@example.com", "wrong-password-0"),
    )
    .await;
    step(
        &app,
        "sign out",
        &[("user.signed_out", OK)],
        app.post_form_with(&c, "/orgs", "/signout", &[]),
    )
    .await;
}

#[actix_web::test]
async fn resend_verification() {
    let app = spawn_app().await;
    app.sign_up(&app.client, "Ada", "ada@example.com").await;
    step(
        &app,
        "resend verification",
        &[("user.verification_sent", OK)],
        app.post_form("/orgs", "/verify-email/resend", &[]),
    )
    .await;
}

#[actix_web::test]
async fn forgot_and_reset_password() {
    let app = fixture().await;
    let visitor = client(&app.address);
    let forgot = [("email", "mia@example.com")];
    step(
        &app,
        "forgot password",
        &[("user.password_reset_requested", OK)],
        app.post_form_with(&visitor, "/password/forgot", "/password/forgot", &forgot),
    )
    .await;
    let mail = app.mail.wait_for("mia@example.com", "Reset").await;
    let link = mail.link(&app.address).unwrap();
    let token = link.split("token=").nth(1).unwrap().to_string();
    let fields = [
        ("token", token.as_str()),
        ("password", "granite-meadow-lantern-42"),
    ];
    step(
        &app,
        "reset password",
        &[("user.password_reset", OK)],
        app.post_form_with(&visitor, "/password/forgot", "/password/reset", &fields),
    )
    .await;
}

#[actix_web::test]
async fn change_password() {
    let app = fixture().await;
    let fields = [
        ("current_password", PASSWORD),
        ("new_password", "granite-meadow-lantern-42"),
    ];
    step(
        &app,
        "change password",
        &[("user.password_changed", OK)],
        app.post_form("/account/password", "/account/password", &fields),
    )
    .await;
}

#[actix_web::test]
async fn personal_api_keys() {
    let app = fixture().await;
    step(
        &app,
        "create a personal API key",
        &[("api_key.created", OK)],
        app.post_form(
            "/account/api-keys",
            "/account/api-keys",
            &[("name", "script")],
        ),
    )
    .await;
    let id = id_of(&app, "SELECT id FROM personal_api_keys LIMIT 1");
    step(
        &app,
        "revoke a personal API key",
        &[("api_key.revoked", OK)],
        app.post_form(
            "/account/api-keys",
            &format!("/account/api-keys/{id}/revoke"),
            &[],
        ),
    )
    .await;
}

// Organizations.

#[actix_web::test]
async fn create_an_organization() {
    let app = fixture().await;
    step(
        &app,
        "create organization",
        &[("organization.created", OK)],
        app.post_form("/orgs/new", "/orgs/new", &[("name", "Beta")]),
    )
    .await;
}

#[actix_web::test]
async fn rename_and_a_refused_rename() {
    let app = fixture().await;
    let settings = format!("/orgs/{SLUG}/settings");
    step(
        &app,
        "rename",
        &[("organization.renamed", OK)],
        app.post_form(&settings, &settings, &[("name", "Acme Care")]),
    )
    .await;
    let mia = signed_in(&app, "Mia Member", "mia@example.com").await;
    step(
        &app,
        "a member tries the settings",
        &[("permission.denied", DENIED)],
        app.post_form_with(
            &mia,
            &format!("/orgs/{SLUG}"),
            &settings,
            &[("name", "Nope")],
        ),
    )
    .await;
}

// Invitations.

#[actix_web::test]
async fn invite_resend_and_revoke() {
    let app = fixture().await;
    let new = format!("/orgs/{SLUG}/access/invitations/new");
    let fields = [("emails", "pat@example.com"), ("role", "member")];
    step(
        &app,
        "invite",
        &[("invitation.created", OK)],
        app.post_form(&new, &new, &fields),
    )
    .await;
    let inv = id_of(
        &app,
        "SELECT id FROM invitations WHERE email = 'pat@example.com'",
    );
    diesel::sql_query("UPDATE invitations SET last_sent_at = now() - interval '1 hour'")
        .execute(&mut app.conn())
        .unwrap();
    let list = format!("/orgs/{SLUG}/access/invitations");
    step(
        &app,
        "resend",
        &[("invitation.resent", OK)],
        app.post_form(&list, &format!("{list}/{inv}/resend"), &[]),
    )
    .await;
    step(
        &app,
        "resend too soon",
        &[("invitation.resent", DENIED)],
        app.post_form(&list, &format!("{list}/{inv}/resend"), &[]),
    )
    .await;
    step(
        &app,
        "revoke",
        &[("invitation.revoked", OK)],
        app.post_form(&list, &format!("{list}/{inv}/revoke"), &[]),
    )
    .await;
}

#[actix_web::test]
async fn accept_an_invitation() {
    let app = fixture().await;
    invitation(&app, SLUG, "kim@example.com", "t-accept");
    let kim = signed_in(&app, "Kim Known", "kim@example.com").await;
    step(
        &app,
        "accept",
        &[("invitation.accepted", OK)],
        app.post_form_with(
            &kim,
            "/invitations/t-accept",
            "/invitations/t-accept/accept",
            &[],
        ),
    )
    .await;
}

#[actix_web::test]
async fn decline_an_invitation() {
    let app = fixture().await;
    invitation(&app, SLUG, "kim@example.com", "t-decline");
    let kim = signed_in(&app, "Kim Known", "kim@example.com").await;
    step(
        &app,
        "decline",
        &[("invitation.declined", OK)],
        app.post_form_with(
            &kim,
            "/invitations/t-decline",
            "/invitations/t-decline/decline",
            &[],
        ),
    )
    .await;
}

#[actix_web::test]
async fn switch_account_then_sign_up_from_the_invitation() {
    let app = fixture().await;
    invitation(&app, SLUG, "newbie@example.com", "t-signup");
    step(
        &app,
        "switch account",
        &[("user.signed_out", OK)],
        app.post_form("/invitations/t-signup", "/invitations/t-signup/switch", &[]),
    )
    .await;
    let fields = [("name", "Nia Newbie"), ("password", PASSWORD)];
    let expected = [
        ("user.signed_up", OK),
        ("user.signed_in", OK),
        ("invitation.accepted", OK),
    ];
    step(
        &app,
        "sign up from an invitation",
        &expected,
        app.post_form_with(
            &client(&app.address),
            "/invitations/t-signup",
            "/invitations/t-signup/signup",
            &fields,
        ),
    )
    .await;
}

// Roles, on the pages.

#[actix_web::test]
async fn preview_and_grant_a_role() {
    let app = fixture().await;
    step(
        &app,
        "preview a change",
        &[],
        roles(&app, &[("role", "member"), ("staging", "viewer")]),
    )
    .await;
    step(
        &app,
        "grant a role",
        &[("environment.role_granted", OK)],
        roles(
            &app,
            &[
                ("role", "member"),
                ("staging", "viewer"),
                ("confirm", "yes"),
            ],
        ),
    )
    .await;
}

#[actix_web::test]
async fn change_a_role_in_the_grid() {
    let app = fixture().await;
    crate::support::add_member_env_role(&app, SLUG, "mia@example.com", "staging", "viewer");
    let grid = format!("/orgs/{SLUG}/access/grid");
    let (cell, users) = (format!("r-{}-staging", mia(&app)), mia(&app).to_string());
    let fields = [("users", users.as_str()), (cell.as_str(), "support")];
    step(
        &app,
        "change a role in the grid",
        &[("environment.role_changed", OK)],
        app.post_form(&grid, &grid, &fields),
    )
    .await;
}

#[actix_web::test]
async fn promote_and_revoke_a_role() {
    let app = fixture().await;
    crate::support::add_member_env_role(&app, SLUG, "mia@example.com", "staging", "support");
    step(
        &app,
        "promote",
        &[("member.role_changed", OK)],
        roles(
            &app,
            &[
                ("role", "admin"),
                ("staging", "support"),
                ("confirm", "yes"),
            ],
        ),
    )
    .await;
    step(
        &app,
        "revoke a role",
        &[("environment.role_revoked", OK)],
        roles(
            &app,
            &[("role", "admin"), ("staging", ""), ("confirm", "yes")],
        ),
    )
    .await;
}

// The same changes through the Platform API, with a key of the owner's.

#[actix_web::test]
async fn environment_roles_through_the_api() {
    let app = fixture().await;
    let (key, mia) = (owner_key(&app), mia(&app));
    let env_api = format!(
        "/api/v1/environments/{}/role-assignment",
        env_id(&app, "development")
    );
    step(
        &app,
        "API: grant",
        &[("environment.role_granted", OK)],
        api_call(
            &app,
            &key,
            "POST",
            &env_api,
            Some(format!(r#"{{"userId": {mia}, "role": "viewer"}}"#)),
        ),
    )
    .await;
    step(
        &app,
        "API: change",
        &[("environment.role_changed", OK)],
        api_call(
            &app,
            &key,
            "PUT",
            &env_api,
            Some(format!(r#"{{"userId": {mia}, "role": "engineer"}}"#)),
        ),
    )
    .await;
    step(
        &app,
        "API: revoke",
        &[("environment.role_revoked", OK)],
        api_call(
            &app,
            &key,
            "DELETE",
            &format!("{env_api}?userId={mia}"),
            None,
        ),
    )
    .await;
}

#[actix_web::test]
async fn organization_roles_and_removal_through_the_api() {
    let app = fixture().await;
    let (key, mia) = (owner_key(&app), mia(&app));
    let org_api = format!("/api/v1/organizations/{}/role-assignment", org_id(&app));
    step(
        &app,
        "API: organization role",
        &[("member.role_changed", OK)],
        api_call(
            &app,
            &key,
            "PUT",
            &org_api,
            Some(format!(r#"{{"userId": {mia}, "role": "admin"}}"#)),
        ),
    )
    .await;
    step(
        &app,
        "API: remove a member",
        &[("member.removed", OK)],
        api_call(
            &app,
            &key,
            "DELETE",
            &format!("{org_api}?userId={mia}"),
            None,
        ),
    )
    .await;
}

#[actix_web::test]
async fn invitations_through_the_api() {
    let app = fixture().await;
    let key = owner_key(&app);
    let invitations_api = format!("/api/v1/organizations/{}/invitations", org_id(&app));
    step(
        &app,
        "API: invite",
        &[("invitation.created", OK)],
        api_call(
            &app,
            &key,
            "POST",
            &invitations_api,
            Some(r#"{"emails": ["api@example.com"]}"#.into()),
        ),
    )
    .await;
    let inv = id_of(
        &app,
        "SELECT id FROM invitations WHERE email = 'api@example.com'",
    );
    step(
        &app,
        "API: revoke an invitation",
        &[("invitation.revoked", OK)],
        api_call(
            &app,
            &key,
            "DELETE",
            &format!("{invitations_api}?invitationId={inv}"),
            None,
        ),
    )
    .await;
}

// Environment assets (the owner is engineer in staging).

#[actix_web::test]
async fn configuration_values() {
    let app = fixture().await;
    let env = format!("/orgs/{SLUG}/env/staging");
    let fields = [("key", "TOKEN"), ("value", "s3cret"), ("secret", "1")];
    step(
        &app,
        "add a value",
        &[("config.changed", OK)],
        app.post_form(&env, &format!("{env}/config"), &fields),
    )
    .await;
    let cfg = id_of(&app, "SELECT id FROM config_values WHERE key = 'TOKEN'");
    step(
        &app,
        "edit a value",
        &[("config.changed", OK)],
        app.post_form(
            &env,
            &format!("{env}/config/{cfg}"),
            &[("value", "other"), ("secret", "1")],
        ),
    )
    .await;
    step(
        &app,
        "reveal a value",
        &[("config.revealed", OK)],
        app.post_form(&env, &format!("{env}/config/{cfg}/reveal"), &[]),
    )
    .await;
    step(
        &app,
        "delete a value",
        &[("config.changed", OK)],
        app.post_form(&env, &format!("{env}/config/{cfg}/delete"), &[]),
    )
    .await;
}

#[actix_web::test]
async fn environment_api_keys() {
    let app = fixture().await;
    let env = format!("/orgs/{SLUG}/env/staging");
    step(
        &app,
        "create a key",
        &[("api_key.created", OK)],
        app.post_form(&env, &format!("{env}/keys"), &[("name", "ci")]),
    )
    .await;
    let key = id_of(&app, "SELECT id FROM environment_api_keys LIMIT 1");
    step(
        &app,
        "revoke a key",
        &[("api_key.revoked", OK)],
        app.post_form(&env, &format!("{env}/keys/{key}/revoke"), &[]),
    )
    .await;
}

// Membership.

#[actix_web::test]
async fn remove_a_member() {
    let app = fixture().await;
    let view = format!("/orgs/{SLUG}/access/users/{}", mia(&app));
    step(
        &app,
        "remove a member",
        &[("member.removed", OK)],
        app.post_form(&view, &format!("{view}/remove"), &[]),
    )
    .await;
}

#[actix_web::test]
async fn leave_and_the_last_owner_cannot() {
    let app = fixture().await;
    let leave = format!("/orgs/{SLUG}/leave");
    let mia = signed_in(&app, "Mia Member", "mia@example.com").await;
    step(
        &app,
        "leave",
        &[("member.left", OK)],
        app.post_form_with(&mia, &leave, &leave, &[]),
    )
    .await;
    step(
        &app,
        "the last owner tries to leave",
        &[("member.left", DENIED)],
        app.post_form(&leave, &leave, &[]),
    )
    .await;
}

// Lifecycle.

#[actix_web::test]
async fn go_live_and_deletion() {
    let app = fixture().await;
    let oscar = signed_in(&app, "Oscar Operator", "oscar@example.com").await;
    diesel::sql_query("UPDATE users SET is_operator = true WHERE email = 'oscar@example.com'")
        .execute(&mut app.conn())
        .unwrap();
    let console = format!("/operator/orgs/{}", org_id(&app));
    let name = [("name", "Acme Health")];
    let settings = format!("/orgs/{SLUG}/settings");
    step(
        &app,
        "a non-operator tries go-live",
        &[("organization.went_live", DENIED)],
        app.post_form(&settings, &format!("{console}/live"), &name),
    )
    .await;
    step(
        &app,
        "go live",
        &[("organization.went_live", OK)],
        app.post_form_with(&oscar, &console, &format!("{console}/live"), &name),
    )
    .await;
    let delete = format!("/orgs/{SLUG}/delete");
    step(
        &app,
        "an owner tries to delete a live organization",
        &[("organization.deleted", DENIED)],
        app.post_form(&delete, &delete, &name),
    )
    .await;
    step(
        &app,
        "an operator deletes it",
        &[("organization.deleted", OK)],
        app.post_form_with(&oscar, &console, &format!("{console}/delete"), &name),
    )
    .await;
}

#[actix_web::test]
async fn an_owner_deletes_a_sandbox_organization() {
    let app = fixture().await;
    let delete = format!("/orgs/{SLUG}/delete");
    step(
        &app,
        "an owner deletes a sandbox organization",
        &[("organization.deleted", OK)],
        app.post_form(&delete, &delete, &[("name", "Acme Health")]),
    )
    .await;
}

#[actix_web::test]
async fn end_sessions() {
    let app = fixture().await;
    signed_in(&app, "Olivia Owner", "owner@example.com").await;
    signed_in(&app, "Olivia Owner", "owner@example.com").await;
    let sid: String = diesel::dsl::sql::<diesel::sql_types::Text>(
        "SELECT sid FROM sessions WHERE sid IS NOT NULL ORDER BY created_at DESC LIMIT 1",
    )
    .get_result(&mut app.conn())
    .unwrap();
    step(
        &app,
        "end a session",
        &[("session.revoked", OK)],
        app.post_form(
            "/account/sessions",
            &format!("/account/sessions/{sid}/revoke"),
            &[],
        ),
    )
    .await;
    step(
        &app,
        "end every other session",
        &[("session.revoked", OK)],
        app.post_form("/account/sessions", "/account/sessions/revoke-others", &[]),
    )
    .await;
}

#[actix_web::test]
async fn two_factor() {
    use crate::two_factor::{code, codes_on, now, second_step, secret_on};
    let app = fixture().await;
    step(
        &app,
        "start setting up two-factor",
        &[],
        app.post_form("/account/two-factor", "/account/two-factor/setup", &[]),
    )
    .await;
    let secret = secret_on(&app.get("/account/two-factor").await.body);
    let confirm = |typed: String| {
        let app = &app;
        async move {
            app.post_form(
                "/account/two-factor",
                "/account/two-factor/confirm",
                &[("code", &typed), ("password", crate::support::PASSWORD)],
            )
            .await
        }
    };
    step(
        &app,
        "a wrong first code",
        &[("user.two_factor_failed", DENIED)],
        confirm("000000".into()),
    )
    .await;
    let at = now();
    step(
        &app,
        "turn two-factor on",
        &[("user.two_factor_enabled", OK)],
        confirm(code(&secret, at)),
    )
    .await;
    step(
        &app,
        "new recovery codes",
        &[("user.recovery_codes_regenerated", OK)],
        app.post_form(
            "/account/two-factor",
            "/account/two-factor/recovery-codes",
            &[("regenerate_code", &code(&secret, at + 30))],
        ),
    )
    .await;
    let codes = codes_on(&app.get("/account/two-factor").await.body);
    let phone = client(&app.address);
    step(
        &app,
        "the password step alone records no sign-in",
        &[],
        app.sign_in(&phone, "owner@example.com", PASSWORD),
    )
    .await;
    step(
        &app,
        "a wrong second step",
        &[("user.two_factor_failed", DENIED)],
        second_step(&app, &phone, "999999"),
    )
    .await;
    step(
        &app,
        "sign in with a recovery code",
        &[("user.recovery_code_used", OK), ("user.signed_in", OK)],
        second_step(&app, &phone, &codes[0]),
    )
    .await;
    step(
        &app,
        "turn two-factor off with a wrong password",
        &[("user.password_reentry_failed", DENIED)],
        app.post_form(
            "/account/two-factor",
            "/account/two-factor/disable",
            &[
                ("password", "not-my-password-9"),
                ("disable_code", &codes[1]),
            ],
        ),
    )
    .await;
    step(
        &app,
        "turn two-factor off",
        &[("user.two_factor_disabled", OK)],
        app.post_form(
            "/account/two-factor",
            "/account/two-factor/disable",
            &[("password", PASSWORD), ("disable_code", &codes[1])],
        ),
    )
    .await;
}

#[actix_web::test]
async fn sign_in_policy() {
    use crate::two_factor::enrol;
    let app = fixture().await;
    enrol(&app, &app.client).await;
    let settings = format!("/orgs/{SLUG}/settings");
    let action = format!("/orgs/{SLUG}/settings/two-factor");
    step(
        &app,
        "require two-factor",
        &[("organization.policy_changed", OK)],
        app.post_form(&settings, &action, &[("require_two_factor", "on")]),
    )
    .await;
    step(
        &app,
        "stop requiring two-factor",
        &[("organization.policy_changed", OK)],
        app.post_form(&settings, &action, &[("require_two_factor", "off")]),
    )
    .await;
    // Mia, a member, is refused like any member asking for an owner's page.
    let mia = signed_in(&app, "Mia Member", "mia@example.com").await;
    step(
        &app,
        "a member tries to change the policy",
        &[("permission.denied", DENIED)],
        app.post_form_with(
            &mia,
            &format!("/orgs/{SLUG}"),
            &action,
            &[("require_two_factor", "on")],
        ),
    )
    .await;
}

#[actix_web::test]
async fn account_name_and_email() {
    let app = fixture().await;
    step(
        &app,
        "rename oneself",
        &[("user.name_changed", OK)],
        app.post_form("/account", "/account/name", &[("name", "Olivia O.")]),
    )
    .await;
    step(
        &app,
        "a new address with a wrong password",
        &[("user.password_reentry_failed", DENIED)],
        app.post_form(
            "/account",
            "/account/email",
            &[
                ("new_email", "olivia@new.example"),
                ("password", "wrong-password-1"),
            ],
        ),
    )
    .await;
    step(
        &app,
        "ask for a new address",
        &[("user.email_change_requested", OK)],
        app.post_form(
            "/account",
            "/account/email",
            &[("new_email", "olivia@new.example"), ("password", PASSWORD)],
        ),
    )
    .await;
    let mail = app
        .mail
        .wait_for(
            "olivia@new.example",
            "Confirm your new email address for Gatehouse",
        )
        .await;
    let link = mail.link(&app.address).expect("link");
    step(
        &app,
        "confirm the new address",
        &[("user.email_changed", OK)],
        app.get(link.trim_start_matches(&app.address)),
    )
    .await;
}

/// A JSON post of the passkey script, with the CSRF token of `page`.
async fn passkey_json(
    app: &TestApp,
    client: &reqwest::Client,
    page: &str,
    action: &str,
    body: serde_json::Value,
) -> Response {
    let token = crate::support::csrf_token(&app.get_with(client, page).await.body);
    let r = client
        .post(app.url(action))
        .header("x-csrf-token", token)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    Response {
        status: r.status().as_u16(),
        location: None,
        body: r.text().await.unwrap_or_default(),
    }
}

/// An answer from a browser that no authenticator made.
fn forged_assertion(user_handle: &str) -> serde_json::Value {
    serde_json::json!({
        "id": "AAAA",
        "rawId": "AAAA",
        "type": "public-key",
        "response": {
            "authenticatorData": "AAAA",
            "clientDataJSON": "AAAA",
            "signature": "AAAA",
            "userHandle": user_handle,
        },
        "extensions": {},
    })
}

#[actix_web::test]
async fn passkeys() {
    let app = crate::support::spawn_app_with(crate::support::Options {
        localhost: true,
        ..crate::support::Options::default()
    })
    .await;
    app.signed_up_verified("Olivia Owner", "owner@example.com")
        .await;
    let c = &app.client;
    step(
        &app,
        "start adding a passkey",
        &[],
        passkey_json(
            &app,
            c,
            "/account/passkeys",
            "/account/passkeys/options",
            serde_json::json!({ "password": crate::support::PASSWORD }),
        ),
    )
    .await;
    let forged_registration = serde_json::json!({
        "name": "Forged",
        "credential": {
            "id": "AAAA", "rawId": "AAAA", "type": "public-key",
            "response": { "attestationObject": "AAAA", "clientDataJSON": "AAAA" },
            "extensions": {},
        },
    });
    let refused = step(
        &app,
        "a forged new passkey",
        &[],
        passkey_json(
            &app,
            c,
            "/account/passkeys",
            "/account/passkeys",
            forged_registration,
        ),
    )
    .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    // A passkey row as webauthn-rs would leave it is not needed to rename and remove one.
    let id = crate::two_factor::passkey_row(&app, "owner@example.com");
    step(
        &app,
        "rename a passkey",
        &[("user.passkey_renamed", OK)],
        app.post_form(
            "/account/passkeys",
            &format!("/account/passkeys/{id}/rename"),
            &[("name", "Desk")],
        ),
    )
    .await;
    // A password with a passkey on the account waits for its second step.
    let phone = client(&app.address);
    step(
        &app,
        "the password step of an account with a passkey",
        &[],
        app.sign_in(&phone, "owner@example.com", PASSWORD),
    )
    .await;
    step(
        &app,
        "second-step options (no usable passkey stored)",
        &[],
        passkey_json(
            &app,
            &phone,
            "/signin/two-factor",
            "/signin/two-factor/passkey/options",
            serde_json::json!({}),
        ),
    )
    .await;
    step(
        &app,
        "a second step with no ceremony started",
        &[],
        passkey_json(
            &app,
            &phone,
            "/signin/two-factor",
            "/signin/two-factor/passkey",
            serde_json::json!({ "credential": forged_assertion("AAAA") }),
        ),
    )
    .await;
    let visitor = client(&app.address);
    step(
        &app,
        "start signing in with a passkey",
        &[],
        passkey_json(
            &app,
            &visitor,
            "/signin",
            "/signin/passkey/options",
            serde_json::json!({}),
        ),
    )
    .await;
    let forged = step(
        &app,
        "a forged passkey sign-in",
        &[("user.sign_in_failed", DENIED)],
        passkey_json(
            &app,
            &visitor,
            "/signin",
            "/signin/passkey",
            serde_json::json!({ "credential": forged_assertion("AAAAAAAAAAAAAAAAAAAAAA") }),
        ),
    )
    .await;
    assert_eq!(forged.status, 422);
    step(
        &app,
        "remove a passkey",
        &[("user.passkey_removed", OK)],
        app.post_form(
            "/account/passkeys",
            &format!("/account/passkeys/{id}/delete"),
            &[("password", crate::support::PASSWORD)],
        ),
    )
    .await;
}
