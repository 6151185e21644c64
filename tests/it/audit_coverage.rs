//! Audit coverage: every state-changing route, performed once, appends exactly the expected
//! events (action and status). A new form post that is not in the list below fails the test.

use std::collections::BTreeSet;

use diesel::prelude::*;

use crate::support::{PASSWORD, Response, TestApp, add_member, client, spawn_app};

/// Every POST route this test performs.
const COVERED: &[&str] = &[
    "/signup",
    "/signin",
    "/signout",
    "/verify-email/resend",
    "/password/forgot",
    "/password/reset",
    "/account/password",
    "/orgs/new",
    "/orgs/{slug}/settings",
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

#[actix_web::test]
async fn every_state_change_appends_exactly_its_audit_events() {
    let app = spawn_app().await;
    // Accounts.
    step(
        &app,
        "sign up",
        &[("user.signed_up", "successful")],
        app.post_form(
            "/signup",
            "/signup",
            &[
                ("name", "Olivia Owner"),
                ("email", "owner@example.com"),
                ("password", PASSWORD),
            ],
        ),
    )
    .await;
    step(
        &app,
        "sign in after sign-up",
        &[("user.signed_in", "successful")],
        app.sign_in(&app.client, "owner@example.com", PASSWORD),
    )
    .await;
    step(
        &app,
        "resend verification",
        &[("user.verification_sent", "successful")],
        app.post_form("/orgs", "/verify-email/resend", &[]),
    )
    .await;
    diesel::sql_query("UPDATE users SET email_verified_at = now()")
        .execute(&mut app.conn())
        .unwrap();
    step(
        &app,
        "sign out",
        &[("user.signed_out", "successful")],
        app.post_form("/orgs", "/signout", &[]),
    )
    .await;
    step(
        &app,
        "failed sign in",
        &[("user.sign_in_failed", "denied")],
        app.sign_in(&app.client, "owner@example.com", "wrong-password-0"),
    )
    .await;
    step(
        &app,
        "sign in",
        &[("user.signed_in", "successful")],
        app.sign_in(&app.client, "owner@example.com", PASSWORD),
    )
    .await;
    let visitor = client(&app.address);
    step(
        &app,
        "forgot password",
        &[("user.password_reset_requested", "successful")],
        app.post_form_with(
            &visitor,
            "/password/forgot",
            "/password/forgot",
            &[("email", "owner@example.com")],
        ),
    )
    .await;
    let mail = app.mail.wait_for("owner@example.com", "Reset").await;
    let link = mail.link(&app.address).unwrap();
    let token = link.split("token=").nth(1).unwrap().to_string();
    let new_password = "granite-meadow-lantern-42";
    step(
        &app,
        "reset password",
        &[("user.password_reset", "successful")],
        app.post_form_with(
            &visitor,
            "/password/forgot",
            "/password/reset",
            &[("token", &token), ("password", new_password)],
        ),
    )
    .await;
    app.sign_in(&app.client, "owner@example.com", new_password)
        .await;
    step(
        &app,
        "change password",
        &[("user.password_changed", "successful")],
        app.post_form(
            "/account/password",
            "/account/password",
            &[
                ("current_password", new_password),
                ("new_password", PASSWORD),
            ],
        ),
    )
    .await;

    step(
        &app,
        "create a personal API key",
        &[("api_key.created", "successful")],
        app.post_form(
            "/account/api-keys",
            "/account/api-keys",
            &[("name", "script")],
        ),
    )
    .await;
    let personal = id_of(&app, "SELECT id FROM personal_api_keys LIMIT 1");
    step(
        &app,
        "revoke a personal API key",
        &[("api_key.revoked", "successful")],
        app.post_form(
            "/account/api-keys",
            &format!("/account/api-keys/{personal}/revoke"),
            &[],
        ),
    )
    .await;

    // Organizations.
    let created = step(
        &app,
        "create organization",
        &[("organization.created", "successful")],
        app.post_form("/orgs/new", "/orgs/new", &[("name", "Acme")]),
    )
    .await;
    let slug = created
        .location
        .unwrap()
        .trim_start_matches("/orgs/")
        .to_string();
    let settings = format!("/orgs/{slug}/settings");
    step(
        &app,
        "rename",
        &[("organization.renamed", "successful")],
        app.post_form(&settings, &settings, &[("name", "Acme Health")]),
    )
    .await;
    let mia = client(&app.address);
    app.account(&mia, "Mia Member", "mia@example.com").await;
    add_member(&app, &slug, "mia@example.com", "member", &[]);
    step(
        &app,
        "a member tries the settings",
        &[("permission.denied", "denied")],
        app.post_form_with(
            &mia,
            &format!("/orgs/{slug}"),
            &settings,
            &[("name", "Nope")],
        ),
    )
    .await;

    // Invitations.
    let new = format!("/orgs/{slug}/access/invitations/new");
    step(
        &app,
        "invite",
        &[("invitation.created", "successful")],
        app.post_form(
            &new,
            &new,
            &[("emails", "pat@example.com"), ("role", "member")],
        ),
    )
    .await;
    let inv = id_of(
        &app,
        "SELECT id FROM invitations WHERE email = 'pat@example.com'",
    );
    diesel::sql_query("UPDATE invitations SET last_sent_at = now() - interval '1 hour'")
        .execute(&mut app.conn())
        .unwrap();
    let list = format!("/orgs/{slug}/access/invitations");
    step(
        &app,
        "resend",
        &[("invitation.resent", "successful")],
        app.post_form(&list, &format!("{list}/{inv}/resend"), &[]),
    )
    .await;
    step(
        &app,
        "resend too soon",
        &[("invitation.resent", "denied")],
        app.post_form(&list, &format!("{list}/{inv}/resend"), &[]),
    )
    .await;
    step(
        &app,
        "revoke",
        &[("invitation.revoked", "successful")],
        app.post_form(&list, &format!("{list}/{inv}/revoke"), &[]),
    )
    .await;

    for (email, token) in [
        ("kim@example.com", "t-accept"),
        ("kim@example.com", "t-decline"),
        ("newbie@example.com", "t-signup"),
    ] {
        let org = if token == "t-decline" {
            app.create_org("Other").await
        } else {
            slug.clone()
        };
        diesel::sql_query(
            "INSERT INTO invitations (organization_id, email, role, token_hash, invited_by_name, expires_at, invited_by)
             SELECT id, $1, 'member', sha256(convert_to($2, 'UTF8')), 'Olivia', now() + interval '1 day', (SELECT m.user_id FROM memberships m WHERE m.organization_id = organizations.id AND m.role = 'owner' LIMIT 1) FROM organizations WHERE slug = $3",
        )
        .bind::<diesel::sql_types::Text, _>(email)
        .bind::<diesel::sql_types::Text, _>(token)
        .bind::<diesel::sql_types::Text, _>(&org)
        .execute(&mut app.conn())
        .unwrap();
    }
    let kim = client(&app.address);
    app.account(&kim, "Kim Known", "kim@example.com").await;
    step(
        &app,
        "accept",
        &[("invitation.accepted", "successful")],
        app.post_form_with(
            &kim,
            "/invitations/t-accept",
            "/invitations/t-accept/accept",
            &[],
        ),
    )
    .await;
    step(
        &app,
        "decline",
        &[("invitation.declined", "successful")],
        app.post_form_with(
            &kim,
            "/invitations/t-decline",
            "/invitations/t-decline/decline",
            &[],
        ),
    )
    .await;
    step(
        &app,
        "switch account",
        &[("user.signed_out", "successful")],
        app.post_form_with(
            &kim,
            "/invitations/t-signup",
            "/invitations/t-signup/switch",
            &[],
        ),
    )
    .await;
    let newbie = client(&app.address);
    step(
        &app,
        "sign up from an invitation",
        &[
            ("user.signed_up", "successful"),
            ("user.signed_in", "successful"),
            ("invitation.accepted", "successful"),
        ],
        app.post_form_with(
            &newbie,
            "/invitations/t-signup",
            "/invitations/t-signup/signup",
            &[("name", "Nia Newbie"), ("password", PASSWORD)],
        ),
    )
    .await;

    // Roles.
    let mia_id = id_of(&app, "SELECT id FROM users WHERE email = 'mia@example.com'");
    let roles = format!("/orgs/{slug}/access/users/{mia_id}/roles");
    step(
        &app,
        "preview a change",
        &[],
        app.post_form(&roles, &roles, &[("role", "member"), ("staging", "viewer")]),
    )
    .await;
    step(
        &app,
        "grant a role",
        &[("environment.role_granted", "successful")],
        app.post_form(
            &roles,
            &roles,
            &[
                ("role", "member"),
                ("staging", "viewer"),
                ("confirm", "yes"),
            ],
        ),
    )
    .await;
    let grid = format!("/orgs/{slug}/access/grid");
    let cell = format!("r-{mia_id}-staging");
    let users = mia_id.to_string();
    step(
        &app,
        "change a role in the grid",
        &[("environment.role_changed", "successful")],
        app.post_form(
            &grid,
            &grid,
            &[("users", users.as_str()), (cell.as_str(), "support")],
        ),
    )
    .await;
    step(
        &app,
        "promote",
        &[("member.role_changed", "successful")],
        app.post_form(
            &roles,
            &roles,
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
        &[("environment.role_revoked", "successful")],
        app.post_form(
            &roles,
            &roles,
            &[("role", "admin"), ("staging", ""), ("confirm", "yes")],
        ),
    )
    .await;

    // The same changes through the Platform API, with a key of the owner's.
    let owner = gatehouse::db::users::find_by_email(&mut app.conn(), "owner@example.com")
        .unwrap()
        .unwrap();
    let key =
        gatehouse::db::api_keys::create(&mut app.conn(), &owner, "coverage", &Default::default())
            .unwrap();
    let org = id_of(
        &app,
        &format!("SELECT id FROM organizations WHERE slug = '{slug}'"),
    );
    let dev = id_of(
        &app,
        &format!(
            "SELECT id FROM environments WHERE organization_id = {org} AND kind = 'development'"
        ),
    );
    let env_api = format!("/api/v1/environments/{dev}/role-assignment");
    step(
        &app,
        "API: grant",
        &[("environment.role_granted", "successful")],
        api_call(
            &app,
            &key,
            "POST",
            &env_api,
            Some(format!(r#"{{"userId": {mia_id}, "role": "viewer"}}"#)),
        ),
    )
    .await;
    step(
        &app,
        "API: change",
        &[("environment.role_changed", "successful")],
        api_call(
            &app,
            &key,
            "PUT",
            &env_api,
            Some(format!(r#"{{"userId": {mia_id}, "role": "engineer"}}"#)),
        ),
    )
    .await;
    step(
        &app,
        "API: revoke",
        &[("environment.role_revoked", "successful")],
        api_call(
            &app,
            &key,
            "DELETE",
            &format!("{env_api}?userId={mia_id}"),
            None,
        ),
    )
    .await;
    let org_api = format!("/api/v1/organizations/{org}/role-assignment");
    step(
        &app,
        "API: organization role",
        &[("member.role_changed", "successful")],
        api_call(
            &app,
            &key,
            "PUT",
            &org_api,
            Some(format!(r#"{{"userId": {mia_id}, "role": "member"}}"#)),
        ),
    )
    .await;
    let invitations_api = format!("/api/v1/organizations/{org}/invitations");
    step(
        &app,
        "API: invite",
        &[("invitation.created", "successful")],
        api_call(
            &app,
            &key,
            "POST",
            &invitations_api,
            Some(r#"{"emails": ["api@example.com"]}"#.into()),
        ),
    )
    .await;
    let api_invitation = id_of(
        &app,
        "SELECT id FROM invitations WHERE email = 'api@example.com'",
    );
    step(
        &app,
        "API: revoke an invitation",
        &[("invitation.revoked", "successful")],
        api_call(
            &app,
            &key,
            "DELETE",
            &format!("{invitations_api}?invitationId={api_invitation}"),
            None,
        ),
    )
    .await;
    let removable = client(&app.address);
    app.account(&removable, "Rae Removable", "rae@example.com")
        .await;
    add_member(&app, &slug, "rae@example.com", "member", &[]);
    let rae = id_of(&app, "SELECT id FROM users WHERE email = 'rae@example.com'");
    step(
        &app,
        "API: remove a member",
        &[("member.removed", "successful")],
        api_call(
            &app,
            &key,
            "DELETE",
            &format!("{org_api}?userId={rae}"),
            None,
        ),
    )
    .await;

    // Environment assets (the owner is engineer in staging).
    let env = format!("/orgs/{slug}/env/staging");
    step(
        &app,
        "add a value",
        &[("config.changed", "successful")],
        app.post_form(
            &env,
            &format!("{env}/config"),
            &[("key", "TOKEN"), ("value", "s3cret"), ("secret", "1")],
        ),
    )
    .await;
    let cfg = id_of(&app, "SELECT id FROM config_values WHERE key = 'TOKEN'");
    step(
        &app,
        "edit a value",
        &[("config.changed", "successful")],
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
        &[("config.revealed", "successful")],
        app.post_form(&env, &format!("{env}/config/{cfg}/reveal"), &[]),
    )
    .await;
    step(
        &app,
        "delete a value",
        &[("config.changed", "successful")],
        app.post_form(&env, &format!("{env}/config/{cfg}/delete"), &[]),
    )
    .await;
    step(
        &app,
        "create a key",
        &[("api_key.created", "successful")],
        app.post_form(&env, &format!("{env}/keys"), &[("name", "ci")]),
    )
    .await;
    let key = id_of(&app, "SELECT id FROM environment_api_keys LIMIT 1");
    step(
        &app,
        "revoke a key",
        &[("api_key.revoked", "successful")],
        app.post_form(&env, &format!("{env}/keys/{key}/revoke"), &[]),
    )
    .await;

    // Membership.
    let kim_id = id_of(&app, "SELECT id FROM users WHERE email = 'kim@example.com'");
    let kim_view = format!("/orgs/{slug}/access/users/{kim_id}");
    step(
        &app,
        "remove a member",
        &[("member.removed", "successful")],
        app.post_form(&kim_view, &format!("{kim_view}/remove"), &[]),
    )
    .await;
    let leave = format!("/orgs/{slug}/leave");
    step(
        &app,
        "leave",
        &[("member.left", "successful")],
        app.post_form_with(&newbie, &leave, &leave, &[]),
    )
    .await;
    step(
        &app,
        "the last owner tries to leave",
        &[("member.left", "denied")],
        app.post_form(&leave, &leave, &[]),
    )
    .await;

    // Lifecycle.
    let oscar = client(&app.address);
    app.account(&oscar, "Oscar Operator", "oscar@example.com")
        .await;
    diesel::sql_query("UPDATE users SET is_operator = true WHERE email = 'oscar@example.com'")
        .execute(&mut app.conn())
        .unwrap();
    let org = id_of(
        &app,
        &format!("SELECT id FROM organizations WHERE slug = '{slug}'"),
    );
    let console = format!("/operator/orgs/{org}");
    step(
        &app,
        "a non-operator tries go-live",
        &[("organization.went_live", "denied")],
        app.post_form(
            &settings,
            &format!("{console}/live"),
            &[("name", "Acme Health")],
        ),
    )
    .await;
    step(
        &app,
        "go live",
        &[("organization.went_live", "successful")],
        app.post_form_with(
            &oscar,
            &console,
            &format!("{console}/live"),
            &[("name", "Acme Health")],
        ),
    )
    .await;
    let delete = format!("/orgs/{slug}/delete");
    step(
        &app,
        "an owner tries to delete a live organization",
        &[("organization.deleted", "denied")],
        app.post_form(&delete, &delete, &[("name", "Acme Health")]),
    )
    .await;
    step(
        &app,
        "an operator deletes it",
        &[("organization.deleted", "successful")],
        app.post_form_with(
            &oscar,
            &console,
            &format!("{console}/delete"),
            &[("name", "Acme Health")],
        ),
    )
    .await;
    let other = id_of(&app, "SELECT id FROM organizations WHERE name = 'Other'");
    let other_slug: String = diesel::dsl::sql::<diesel::sql_types::Text>(&format!(
        "SELECT slug FROM organizations WHERE id = {other}"
    ))
    .get_result(&mut app.conn())
    .unwrap();
    let delete = format!("/orgs/{other_slug}/delete");
    step(
        &app,
        "an owner deletes a sandbox organization",
        &[("organization.deleted", "successful")],
        app.post_form(&delete, &delete, &[("name", "Other")]),
    )
    .await;
}
