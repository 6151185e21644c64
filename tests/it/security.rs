//! Ways around the rules, tried as an attacker would and now refused.

use crate::support::{PASSWORD, client, csrf_token, spawn_app};

#[actix_web::test]
async fn next_after_sign_in_never_leaves_the_site() {
    let app = spawn_app().await;
    app.signed_up_verified("Ada", "ada@example.com").await;
    for (next, expected) in [
        ("/orgs", "/orgs"),
        ("/%09/evil.example", "/"),
        ("%2F%2Fevil.example", "/"),
        ("/%5Cevil.example", "/"),
        ("https://evil.example/x", "/"),
        ("/%0a/x", "/"),
        // Line breaks are dropped as a browser drops them: no header can be injected.
        ("/%0d%0aSet-Cookie:%20x=1", "/Set-Cookie:%20x=1"),
    ] {
        let r = app.get(&format!("/signin?next={next}")).await;
        assert_eq!(r.status, 303, "{next}: {}", r.body);
        assert_eq!(r.location.as_deref(), Some(expected), "{next}");
    }

    // The same through the sign-in form.
    let visitor = client(&app.address);
    let r = app
        .post_form_with(
            &visitor,
            "/signin",
            "/signin",
            &[
                ("email", "ada@example.com"),
                ("password", PASSWORD),
                ("next", "/\t/evil.example"),
            ],
        )
        .await;
    assert_eq!((r.status, r.location.as_deref()), (303, Some("/")));
}

#[actix_web::test]
async fn parallel_guesses_cannot_outrun_the_sign_in_throttle() {
    let app = spawn_app().await;
    app.signed_up_verified("Ada", "ada@example.com").await;
    let limit = app.settings.signin_max_failures;
    let mut guesses = Vec::new();
    for _ in 0..60 {
        let guesser = client(&app.address);
        let page = app.get_with(&guesser, "/signin").await.body;
        guesses.push((guesser, csrf_token(&page)));
    }
    let statuses = futures::future::join_all(guesses.iter().enumerate().map(|(i, (c, token))| {
        let wrong = format!("wrong-guess-{i}-zebra");
        let url = app.url("/signin");
        async move {
            let form = [
                ("csrf_token", token.as_str()),
                ("email", "ada@example.com"),
                ("password", wrong.as_str()),
            ];
            c.post(url)
                .form(&form)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    }))
    .await;
    let checked = statuses.iter().filter(|s| **s == 422).count() as i64;
    let locked = statuses.iter().filter(|s| **s == 429).count() as i64;
    assert_eq!(checked + locked, 60, "{statuses:?}");
    assert!(
        checked <= limit,
        "{checked} of 60 parallel guesses were checked; the limit is {limit}"
    );
    assert!(app.audit_count("user.sign_in_failed", "denied") <= limit);
    // The right password is not checked while the lock holds.
    let late = client(&app.address);
    let r = app.sign_in(&late, "ada@example.com", PASSWORD).await;
    assert_eq!(r.status, 429);
}

/// The pre-hijacking attack: someone signs up with another person's address (it stays
/// unverified) and makes a personal API key, waiting for the real person to take the account
/// over with a password reset.
#[actix_web::test]
async fn a_key_made_before_a_password_reset_acts_for_nobody() {
    let app = spawn_app().await;
    let attacker = client(&app.address);
    app.sign_up(&attacker, "Vic Tim", "victim@example.com")
        .await;
    let keys = "/account/api-keys";
    let refused = app
        .post_form_with(&attacker, keys, keys, &[("name", "mine")])
        .await;
    assert_eq!(
        refused.status, 403,
        "unverified accounts cannot create keys"
    );
    assert!(refused.body.contains("Verify your email address"));
    assert!(!refused.body.contains("class=\"revealed\""));

    // A key that exists anyway (made before this rule) does not work while unverified.
    let key = app.personal_key("victim@example.com", "planted");
    let call = |key: String| {
        let url = app.url("/api/v1/organizations");
        async move {
            let r = reqwest::Client::new()
                .get(url)
                .bearer_auth(key)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body: serde_json::Value = r.json().await.unwrap();
            (status, body["error"]["code"].as_str().map(str::to_string))
        }
    };
    assert_eq!(
        call(key.clone()).await,
        (403, Some("email_unverified".to_string()))
    );

    // The real person resets the password: every key is revoked, and the email said it would.
    let visitor = client(&app.address);
    app.post_form_with(
        &visitor,
        "/password/forgot",
        "/password/forgot",
        &[("email", "victim@example.com")],
    )
    .await;
    let mail = app
        .mail
        .wait_for("victim@example.com", "Reset your Gatehouse password")
        .await;
    assert!(
        mail.raw.contains("revokes every"),
        "the email says keys are revoked"
    );
    let path = mail
        .link(&app.address)
        .unwrap()
        .trim_start_matches(&app.address)
        .to_string();
    let token = path.split("token=").nth(1).unwrap().to_string();
    let done = app
        .post_form_with(
            &visitor,
            &path,
            "/password/reset",
            &[("token", &token), ("password", "granite-meadow-lantern-42")],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    diesel::RunQueryDsl::execute(
        diesel::sql_query("UPDATE users SET email_verified_at = now()"),
        &mut app.conn(),
    )
    .unwrap();
    assert_eq!(
        call(key).await.0,
        401,
        "the planted key was revoked by the reset"
    );
}

async fn reset_link(app: &crate::support::TestApp, visitor: &reqwest::Client) -> (String, String) {
    let resets = || {
        app.mail
            .all()
            .into_iter()
            .filter(|m| m.subject().contains("Reset"))
            .collect::<Vec<_>>()
    };
    let before = resets().len();
    app.post_form_with(
        visitor,
        "/password/forgot",
        "/password/forgot",
        &[("email", "ada@example.com")],
    )
    .await;
    let mail = crate::support::eventually("a new reset email", || async {
        resets().into_iter().nth(before)
    })
    .await;
    let path = mail
        .link(&app.address)
        .unwrap()
        .trim_start_matches(&app.address)
        .to_string();
    let token = path.split("token=").nth(1).unwrap().to_string();
    (path, token)
}

/// Using a link takes the account's row before the link's: using a reset link and an email
/// change's link at once (each voids the other's kind) cannot deadlock. While another
/// transaction holds the account, a reset waits without holding its link.
#[actix_web::test]
async fn a_link_is_used_under_its_accounts_lock_taken_first() {
    let app = spawn_app().await;
    app.signed_up_verified("Ada", "ada@example.com").await;
    let visitor = client(&app.address);
    let (path, token) = reset_link(&app, &visitor).await;
    let csrf = csrf_token(&app.get_with(&visitor, &path).await.body);
    let reset = async {
        let fields = [
            ("csrf_token", csrf.as_str()),
            ("token", token.as_str()),
            ("password", "granite-meadow-lantern-42"),
        ];
        let r = visitor
            .post(app.url("/password/reset"))
            .form(&fields)
            .send();
        r.await.unwrap().status().as_u16()
    };
    let (done, free) = crate::support::while_held(
        &app,
        "SELECT id FROM users WHERE email = 'ada@example.com' FOR UPDATE",
        "SELECT id FROM account_tokens WHERE purpose = 'reset_password' AND used_at IS NULL FOR UPDATE NOWAIT",
        reset,
    )
    .await;
    assert!(free.is_ok(), "the link was held while waiting: {free:?}");
    assert_eq!(done, 303);
}

#[actix_web::test]
async fn only_the_newest_reset_link_works() {
    let app = spawn_app().await;
    app.signed_up_verified("Ada", "ada@example.com").await;
    let visitor = client(&app.address);
    let (old_path, old_token) = reset_link(&app, &visitor).await;
    let (new_path, new_token) = reset_link(&app, &visitor).await;
    assert_ne!(old_token, new_token);
    assert_eq!(
        app.get(&old_path).await.status,
        410,
        "issuing a new link voids the older one"
    );
    let new = app
        .post_form_with(
            &visitor,
            &new_path,
            "/password/reset",
            &[
                ("token", &new_token),
                ("password", "granite-meadow-lantern-42"),
            ],
        )
        .await;
    assert_eq!(new.status, 303, "{}", new.body);
    assert_eq!(
        app.get(&old_path).await.status,
        410,
        "the older link no longer works"
    );
}

#[actix_web::test]
async fn nothing_of_a_session_carries_over_into_the_next_sign_in() {
    use diesel::prelude::*;
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    crate::support::member(&app, &slug, "Mia Member", "mia@example.com", "member").await;
    let mia = app.user_id("mia@example.com");
    // The owner re-enters the password for a production grant: the session is marked fresh,
    // and a flash waits for the next page.
    let edit = format!("/orgs/{slug}/access/users/{mia}/roles");
    let saved = app
        .post_form(
            &edit,
            &edit,
            &[
                ("role", "member"),
                ("production", "viewer"),
                ("confirm", "yes"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    // Someone else signs in on the same browser.
    let bob = client(&app.address);
    app.account(&bob, "Bob", "bob@example.com").await;
    // (Signed in, the sign-in page redirects: the form is posted with the token of /orgs.)
    let r = app
        .post_form_with(
            &app.client,
            "/orgs",
            "/signin",
            &[("email", "bob@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let bob_id = app.user_id("bob@example.com");
    let states: Vec<serde_json::Value> = gatehouse::db::schema::sessions::table
        .filter(gatehouse::db::schema::sessions::user_id.eq(bob_id))
        .select(gatehouse::db::schema::sessions::state)
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(
        states.len(),
        2,
        "Bob's own session and the shared browser's"
    );
    for state in states {
        assert!(state.get("sudo_at").is_none(), "{state}");
        assert!(state.get("flash").is_none(), "{state}");
        assert!(state.get("current_org").is_none(), "{state}");
    }
}

#[actix_web::test]
async fn an_organization_named_like_a_page_gets_a_reachable_slug() {
    let app = spawn_app().await;
    app.signed_up_verified("Ada", "ada@example.com").await;
    let slug = app.create_org("New").await;
    assert_eq!(slug, "new-org");
    assert_eq!(app.get(&format!("/orgs/{slug}")).await.status, 200);
}

#[actix_web::test]
async fn exporting_the_audit_log_is_itself_audited() {
    use diesel::prelude::*;
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let id = crate::support::org_id(&app, &slug);
    assert_eq!(
        app.get(&format!("/orgs/{slug}/audit.csv")).await.status,
        200
    );
    let oscar = client(&app.address);
    app.account(&oscar, "Oscar Operator", "oscar@example.com")
        .await;
    diesel::sql_query("UPDATE users SET is_operator = true WHERE email = 'oscar@example.com'")
        .execute(&mut app.conn())
        .unwrap();
    let csv = app
        .get_with(&oscar, &format!("/operator/audit.csv?organization={id}"))
        .await;
    assert_eq!(csv.status, 200);
    let kinds: Vec<String> = diesel::sql_query(
        "SELECT actor_kind AS name FROM audit_events WHERE action = 'audit.exported' ORDER BY id",
    )
    .load::<Name>(&mut app.conn())
    .unwrap()
    .into_iter()
    .map(|n| n.name)
    .collect();
    assert_eq!(kinds, ["user", "operator"]);
    // Anyone else asking for it is refused like any operator action, and it is recorded.
    let refused = app
        .get(&format!("/operator/audit.csv?organization={id}"))
        .await;
    assert_eq!(refused.status, 404);
    assert_eq!(app.audit_count("audit.exported", "denied"), 1);
}

#[derive(diesel::QueryableByName)]
struct Name {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

#[actix_web::test]
async fn refusals_carry_the_security_headers_and_pages_are_never_cached() {
    let app = spawn_app().await;
    let page = app.client.get(app.url("/signin")).send().await.unwrap();
    let token = csrf_token(&page.text().await.unwrap());
    let foreign = app
        .client
        .post(app.url("/signin"))
        .header("Origin", "https://evil.example")
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    for header in [
        "x-frame-options",
        "content-security-policy",
        "x-content-type-options",
    ] {
        assert!(
            foreign.headers().contains_key(header),
            "403 without {header}"
        );
    }
    let signin = app.client.get(app.url("/signin")).send().await.unwrap();
    assert_eq!(signin.headers()["cache-control"], "no-store");
    assert!(
        !signin.headers().contains_key("strict-transport-security"),
        "plain http"
    );
    let css = app
        .client
        .get(app.url("/static/css/app.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.headers()["cache-control"], "public, max-age=3600");
}

/// HEAD is answered wherever GET is, as that GET without its body: through the same checks
/// (a visitor is sent to sign in, a stranger gets 404), with the same headers; a path without
/// GET answers 405 and says which methods it takes.
#[actix_web::test]
async fn head_is_answered_as_its_get_without_a_body() {
    let app = spawn_app().await;
    let head = |c: &reqwest::Client, path: &str| c.head(app.url(path)).send();
    let r = head(&app.client, "/healthz").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-length"], "2");
    assert_eq!(r.text().await.unwrap(), "");

    let slug = app.owner_with_org().await;
    let page = format!("/orgs/{slug}/access/users");
    let r = head(&app.client, &page).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(r.headers().contains_key("content-security-policy"));
    let length: usize = r.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(length > 1000, "the page's length, {length}");
    assert_eq!(r.text().await.unwrap(), "");

    let visitor = client(&app.address);
    let r = head(&visitor, &page).await.unwrap();
    assert_eq!(r.status(), 303);
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/signin")
    );
    let stranger = client(&app.address);
    app.create_account_verified("Sam Stranger", "sam@example.com");
    assert_eq!(
        app.sign_in(&stranger, "sam@example.com", PASSWORD)
            .await
            .status,
        303
    );
    assert_eq!(head(&stranger, &page).await.unwrap().status(), 404);

    let key = crate::api::create_key(&app, &app.client, "tool").await;
    let r = app
        .client
        .head(app.url("/api/v1/organizations"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.text().await.unwrap(), "");

    let r = head(&app.client, "/signout").await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "POST");

    // The GETs that act are not answered for HEAD: a link checker neither uses up an email's
    // link nor is recorded exporting the audit log.
    for path in gatehouse::routes::GETS_THAT_ACT {
        assert!(
            gatehouse::routes::ROUTES
                .iter()
                .any(|r| r.method == "get" && r.path == *path),
            "{path} is a GET route"
        );
    }
    let exports = app.audit_count("audit.exported", "successful");
    let r = head(&app.client, &format!("/orgs/{slug}/audit.csv"))
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "GET");
    assert_eq!(app.audit_count("audit.exported", "successful"), exports);
    assert_eq!(
        app.get(&format!("/orgs/{slug}/audit.csv")).await.status,
        200
    );
    assert_eq!(app.audit_count("audit.exported", "successful"), exports + 1);
    let r = head(&app.client, "/verify-email?token=abc").await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "GET");
    // The path as routed, not as written: percent-encoding does not get around the list.
    let r = head(&app.client, "/verify%2Demail?token=abc")
        .await
        .unwrap();
    assert_eq!(r.status(), 405);

    // A HEAD uses up nothing shown once: the flash, a new key.
    let renamed = app
        .post_form("/account", "/account/name", &[("name", "Olivia O.")])
        .await;
    assert_eq!(renamed.status, 303, "{}", renamed.body);
    assert_eq!(head(&app.client, "/account").await.unwrap().status(), 200);
    assert!(
        app.get("/account")
            .await
            .body
            .contains("Your name was changed.")
    );
    let created = app
        .post_form("/account/api-keys", "/account/api-keys", &[("name", "ci")])
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let r = head(&app.client, "/account/api-keys").await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(!r.headers().contains_key("set-cookie"), "{:?}", r.headers());
    assert!(
        app.get("/account/api-keys")
            .await
            .body
            .contains("<code class=\"revealed\">gatehouse_pk_")
    );
}

/// NUL bytes, which PostgreSQL text cannot hold, are refused with 422 on every path that used to
/// answer 500: sign-in, member search, audit filters, configuration values and the API.
#[actix_web::test]
async fn a_nul_byte_is_refused_never_a_server_error() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let id = crate::support::org_id(&app, &slug);
    let key = crate::api::create_key(&app, &app.client, "tool").await;
    let search = app.get(&format!("/orgs/{slug}/access/users?q=a%00b")).await;
    assert_eq!(search.status, 422, "member search");
    assert!(search.body.contains("The field “q”"), "{}", search.body);
    let audit = app.get(&format!("/orgs/{slug}/audit?action=x%00")).await;
    assert_ne!(audit.status, 500, "audit filter");
    let config = format!("/orgs/{slug}/env/development");
    let value = app
        .post_form(
            &config,
            &format!("{config}/config"),
            &[("key", "NUL_VALUE"), ("value", "a\0b")],
        )
        .await;
    assert_eq!(value.status, 422, "configuration value: {}", value.body);
    assert!(value.body.contains("The field “value”"), "{}", value.body);
    let (status, body) = crate::api::send(
        &app,
        &key,
        "POST",
        &format!("/api/v1/organizations/{id}/invitations"),
        Some(r#"{"emails": ["ok@example.com", "bad\u0000@example.com"]}"#),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_character");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("emails[1]"),
        "{body}"
    );
    let (status, body) = crate::api::send(
        &app,
        &key,
        "GET",
        &format!("/api/v1/organizations/{id}/audit-events?actionType[]=a%00b"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_character"))
    );
    let visitor = client(&app.address);
    let signin = app
        .post_form_with(
            &visitor,
            "/signin",
            "/signin",
            &[("email", "ada\0@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(signin.status, 422, "sign-in");
    assert!(signin.body.contains("The field “email”"), "{}", signin.body);
    // What was saved before is still there.
    assert_eq!(app.get(&format!("/orgs/{slug}")).await.status, 200);
}

/// An admin cannot renew an invitation as admin (only owners invite admins), even one an
/// owner sent: the sender's role is read again under the organization's lock.
#[actix_web::test]
async fn an_admin_cannot_renew_an_invitation_as_admin() {
    use diesel::prelude::*;
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let r = app
        .invite(&app.client, &slug, "ann@example.com", &[("role", "admin")])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let adam = crate::support::member(&app, &slug, "Adam Admin", "adam@example.com", "admin").await;
    diesel::sql_query("UPDATE invitations SET last_sent_at = now() - interval '1 hour'")
        .execute(&mut app.conn())
        .unwrap();
    let id: i64 = gatehouse::db::schema::invitations::table
        .select(gatehouse::db::schema::invitations::id)
        .first(&mut app.conn())
        .unwrap();
    let tab = format!("/orgs/{slug}/access/invitations");
    let r = app
        .post_form_with(&adam, &tab, &format!("{tab}/{id}/resend"), &[])
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(app.audit_count("invitation.resent", "denied"), 1);
    assert_eq!(app.audit_count("invitation.resent", "successful"), 0);
    let page = app.get_with(&adam, &tab).await.body;
    assert!(page.contains("Only owners can send an invitation as admin again."));
}

/// A production grant is judged against the roles read under the lock: without the password,
/// a change that grants production is refused however it was prepared.
#[actix_web::test]
async fn production_is_never_granted_without_the_password() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    crate::support::member(&app, &slug, "Mia Member", "mia@example.com", "member").await;
    let mia = gatehouse::domain::ids::UserId(app.user_id("mia@example.com"));
    let owner = gatehouse::db::users::find_by_email(&mut app.conn(), "owner@example.com")
        .unwrap()
        .unwrap();
    let org = gatehouse::db::orgs::access(
        &mut app.conn(),
        owner.id,
        &gatehouse::db::orgs::OrgRef::Slug(slug.clone()),
    )
    .unwrap()
    .unwrap()
    .org;
    let member = gatehouse::db::members::find(&mut app.conn(), org.id, mia)
        .unwrap()
        .unwrap();
    let mut desired = gatehouse::db::roles::Desired::of(&member);
    for (kind, role) in desired.envs.iter_mut() {
        if *kind == gatehouse::authz::EnvKind::Production {
            *role = Some(gatehouse::authz::EnvRole::Viewer);
        }
    }
    let ctx = gatehouse::ops::Ctx {
        actor: gatehouse::audit::Actor::User {
            id: owner.id,
            email: owner.email.clone(),
        },
        meta: gatehouse::audit::RequestMeta::default(),
        path: "/test".into(),
    };
    let outcome = gatehouse::ops::roles::change(&app.pool, &ctx, &org, mia, desired, false)
        .await
        .unwrap();
    assert!(
        matches!(
            outcome,
            gatehouse::ops::roles::ChangeOutcome::Refused(
                gatehouse::authz::RoleRefusal::FreshPasswordNeeded
            )
        ),
        "{outcome:?}"
    );
    assert_eq!(app.audit_count("environment.role_granted", "successful"), 0);
}

/// Once an email has gone out over SMTP its stored copy no longer opens anything, and old sent
/// rows are purged.
#[actix_web::test]
async fn sent_emails_keep_no_link_that_opens_anything() {
    use diesel::prelude::*;
    use gatehouse::db::schema::email_outbox::dsl as o;
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    app.invite(&app.client, &slug, "pat@example.com", &[]).await;
    let path = app.invitation_path("pat@example.com").await;
    let token = path.trim_start_matches("/invitations/").to_string();
    let stored: (String, String) =
        crate::support::eventually("the invitation marked sent", || async {
            o::email_outbox
                .filter(o::recipient.eq("pat@example.com"))
                .filter(o::status.eq("sent"))
                .select((o::text_body, o::html_body))
                .first(&mut app.conn())
                .optional()
                .unwrap()
        })
        .await;
    assert!(!stored.0.contains(&token) && !stored.1.contains(&token));
    assert!(stored.0.contains("[redacted]"), "{}", stored.0);
    assert_eq!(
        app.get(&path).await.status,
        200,
        "the emailed link still works"
    );

    diesel::sql_query("UPDATE email_outbox SET sent_at = now() - interval '31 days'")
        .execute(&mut app.conn())
        .unwrap();
    let purged =
        gatehouse::db::outbox::purge_sent(&mut app.conn(), chrono::Duration::days(30)).unwrap();
    assert!(purged >= 1);
    let left: i64 = o::email_outbox
        .filter(o::status.eq("sent"))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(left, 0);
    let tab = app
        .get(&format!("/orgs/{slug}/access/invitations"))
        .await
        .body;
    assert!(
        tab.contains("state-sent"),
        "a purged record still reads as sent"
    );
}

/// Names go into other people's pages and email subjects: a right-to-left override or nothing
/// but zero-width characters is refused beside the field, on sign-up and on organizations.
#[actix_web::test]
async fn names_that_reorder_or_hide_text_are_refused() {
    let app = spawn_app().await;
    let signup = app
        .post_form(
            "/signup",
            "/signup",
            &[
                ("name", "Bob\u{202E}gnp.exe"),
                ("email", "bob@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(signup.status, 422);
    assert!(signup.body.contains("id=\"name-error\""), "{}", signup.body);
    assert!(signup.body.contains("change the direction of text"));
    assert!(app.mail.all().is_empty());

    app.signed_up_verified("Ada", "ada@example.com").await;
    let org = app
        .post_form("/orgs/new", "/orgs/new", &[("name", "\u{200B}\u{FEFF}")])
        .await;
    assert_eq!(org.status, 422);
    assert!(org.body.contains("visible characters"), "{}", org.body);
}

/// A visitor who is not signed in gets no stored session, however many pages and forms they
/// open: the CSRF token of signed-out forms travels in the (encrypted) cookie. Signing in stores
/// exactly one session.
#[actix_web::test]
async fn visitors_who_are_not_signed_in_store_no_session() {
    use diesel::prelude::*;
    let app = spawn_app().await;
    app.signed_up_verified("Ada", "ada@example.com").await;
    let sessions = || -> i64 {
        gatehouse::db::schema::sessions::table
            .count()
            .get_result(&mut app.conn())
            .unwrap()
    };
    let before = sessions();
    for _ in 0..5 {
        let visitor = client(&app.address);
        for page in ["/signin", "/signup", "/password/forgot", "/"] {
            visitor.get(app.url(page)).send().await.unwrap();
        }
        // A signed-out form still works with its token, and a failed attempt stores nothing.
        let wrong = app
            .sign_in(&visitor, "ada@example.com", "not-the-password-1")
            .await;
        assert_eq!(wrong.status, 422);
    }
    assert_eq!(sessions(), before, "visitors stored sessions");
    let visitor = client(&app.address);
    let ok = app.sign_in(&visitor, "ada@example.com", PASSWORD).await;
    assert_eq!(ok.status, 303);
    assert_eq!(sessions(), before + 1);
    assert_eq!(app.get_with(&visitor, "/orgs").await.status, 200);
}

/// Over https the session cookie is `__Host-` prefixed: Secure, path `/`, no Domain.
#[actix_web::test]
async fn over_https_the_session_cookie_is_host_prefixed() {
    let app = crate::support::spawn_app_with(crate::support::Options {
        https: true,
        ..Default::default()
    })
    .await;
    let r = reqwest::get(app.url("/signin")).await.unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("__Host-gatehouse_session="), "{cookie}");
    assert!(
        cookie.contains("Secure") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(!cookie.to_lowercase().contains("domain="), "{cookie}");
    assert!(r.headers().contains_key("strict-transport-security"));
}
