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
    let user = gatehouse::db::users::find_by_email(&mut app.conn(), "victim@example.com")
        .unwrap()
        .unwrap();
    let key = gatehouse::db::api_keys::create(
        &mut app.conn(),
        &user,
        "planted",
        &gatehouse::audit::RequestMeta::default(),
    )
    .unwrap();
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
