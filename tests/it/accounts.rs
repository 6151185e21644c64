//! Sign up, verification, sign in and out, throttling, password reset and change.

use crate::support::{Options, PASSWORD, client, spawn_app, spawn_app_with};

#[actix_web::test]
async fn sign_up_sends_a_verification_link_that_verifies_once() {
    let app = spawn_app().await;
    app.sign_up(&app.client, "Ada Lovelace", "Ada@Example.com")
        .await;

    let mail = app
        .mail
        .wait_for("ada@example.com", "Verify your email")
        .await;
    let link = mail.link(&app.address).expect("link in the email");
    assert!(link.contains("/verify-email?token="), "{link}");
    assert!(
        mail.raw.contains("Content-Type: text/html")
            && mail.raw.contains("Content-Type: text/plain"),
        "multipart text + HTML"
    );

    // Opened where nobody is signed in (a link scanner, or the address's owner who did not sign
    // up): nothing is verified, and the link still works for the account, signed in.
    let visitor = client(&app.address);
    let scanned = app.get_with(&visitor, &link).await;
    assert_eq!(scanned.status, 200);
    assert!(
        scanned.body.contains("Sign in to verify your email"),
        "{}",
        scanned.body
    );
    let unverified = gatehouse::db::users::find_by_email(&mut app.conn(), "ada@example.com")
        .unwrap()
        .unwrap();
    assert!(!unverified.is_verified());
    // Signed in as someone else: not theirs to use.
    let other = client(&app.address);
    app.account(&other, "Bob", "bob@example.com").await;
    assert_eq!(app.get_with(&other, &link).await.status, 403);

    let first = app.get(&link).await;
    assert_eq!(first.status, 200);
    assert!(first.body.contains("Your email is verified"));
    let user = gatehouse::db::users::find_by_email(&mut app.conn(), "ada@example.com")
        .unwrap()
        .unwrap();
    assert!(user.is_verified());

    let again = app.get(&link).await;
    assert_eq!(again.status, 410);
    assert!(again.body.contains("already used"));
    assert_eq!(app.audit_count("user.signed_up", "successful"), 1);
    assert_eq!(app.audit_count("user.email_verified", "successful"), 1);
}

#[actix_web::test]
async fn sign_up_errors_are_shown_beside_fields_with_values_kept() {
    let app = spawn_app().await;
    let r = app
        .post_form(
            "/signup",
            "/signup",
            &[
                ("name", "Grace Hopper"),
                ("email", "not-an-email"),
                ("password", "password1"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("id=\"email-error\""), "{}", r.body);
    assert!(r.body.contains("id=\"password-error\""));
    assert!(r.body.contains("value=\"Grace Hopper\""), "name kept");
    assert!(r.body.contains("value=\"not-an-email\""), "email kept");
    assert!(app.mail.all().is_empty());
}

#[actix_web::test]
async fn passwords_containing_the_name_or_email_are_refused() {
    let app = spawn_app().await;
    let r = app
        .post_form(
            "/signup",
            "/signup",
            &[
                ("name", "Zelda Quixote"),
                ("email", "zq@example.com"),
                ("password", "zelda-quixote-rocks-9"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(
        r.body.contains("cannot contain your name or email"),
        "{}",
        r.body
    );
}

/// Sign-up never reveals whether an address has an account: the same page and status either
/// way, no session, and the holder of a taken address is emailed instead (DESIGN §7).
#[actix_web::test]
async fn a_taken_email_gets_the_same_answer_and_its_holder_an_email() {
    let app = spawn_app().await;
    let fresh = |email: &'static str| {
        let app = &app;
        async move {
            let visitor = client(&app.address);
            let r = app
                .post_form_with(
                    &visitor,
                    "/signup",
                    "/signup",
                    &[
                        ("name", "Ada Two"),
                        ("email", email),
                        ("password", PASSWORD),
                    ],
                )
                .await;
            let signed_in = app.get_with(&visitor, "/orgs").await.status == 200;
            (
                r.status,
                r.body.replace(&email.to_lowercase(), "ADDRESS"),
                signed_in,
            )
        }
    };
    let new = fresh("ada@example.com").await;
    let taken = fresh("ADA@example.com").await;
    assert_eq!(new.0, 200);
    assert_eq!(new, taken, "the two answers differ");
    assert!(!new.2, "nobody is signed in by sign-up");
    let notice = app
        .mail
        .wait_for(
            "ada@example.com",
            "Someone tried to sign up with your address",
        )
        .await;
    assert!(notice.raw.contains("/password/forgot"), "{}", notice.raw);
    let accounts: i64 = diesel::RunQueryDsl::get_result(
        diesel::dsl::sql::<diesel::sql_types::BigInt>("SELECT count(*) FROM users"),
        &mut app.conn(),
    )
    .unwrap();
    assert_eq!(accounts, 1);
}

/// Sign-up and forgot-password send at most three reset or verification emails and one
/// "someone tried to sign up" notice to one address per 15 minutes, however many times the
/// forms are posted, and in parallel too.
#[actix_web::test]
async fn visitors_cannot_flood_an_address_with_emails() {
    let app = spawn_app().await;
    app.account(&app.client, "Ada", "ada@example.com").await;
    let posts = (0..12).map(|i| {
        let app = &app;
        async move {
            let visitor = client(&app.address);
            if i % 2 == 0 {
                app.post_form_with(
                    &visitor,
                    "/password/forgot",
                    "/password/forgot",
                    &[("email", "ada@example.com")],
                )
                .await
            } else {
                app.post_form_with(
                    &visitor,
                    "/signup",
                    "/signup",
                    &[
                        ("name", "Eve"),
                        ("email", "ada@example.com"),
                        ("password", PASSWORD),
                    ],
                )
                .await
            }
        }
    });
    for r in futures::future::join_all(posts).await {
        assert!(r.status == 200 || r.status == 303, "{}", r.status);
    }
    let queued: i64 = diesel::RunQueryDsl::get_result(
        diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "SELECT count(*) FROM email_outbox WHERE recipient = 'ada@example.com'",
        ),
        &mut app.conn(),
    )
    .unwrap();
    // Three reset emails and one "someone tried to sign up" notice: the notices have their own
    // budget, so sign-up attempts cannot use up the holder's resets.
    assert_eq!(queued, 4);
    let notices: i64 = diesel::RunQueryDsl::get_result(
        diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "SELECT count(*) FROM email_outbox WHERE recipient = 'ada@example.com' AND kind = 'signup_attempted'",
        ),
        &mut app.conn(),
    )
    .unwrap();
    assert_eq!(notices, 1);
}

#[actix_web::test]
async fn sign_in_uses_one_generic_error_and_renews_the_session() {
    let app = spawn_app().await;
    app.sign_up(&app.client, "Ada", "ada@example.com").await;
    let visitor = client(&app.address);

    let wrong = app
        .sign_in(&visitor, "ada@example.com", "wrong-password-123")
        .await;
    let unknown = app.sign_in(&visitor, "nobody@example.com", PASSWORD).await;
    assert_eq!(wrong.status, 422);
    assert_eq!(unknown.status, 422);
    for body in [&wrong.body, &unknown.body] {
        assert!(body.contains("Email or password is incorrect."));
    }
    assert!(
        unknown.body.contains("value=\"nobody@example.com\""),
        "email kept"
    );

    let ok = app.sign_in(&visitor, "ada@example.com", PASSWORD).await;
    assert_eq!(ok.status, 303);
    let orgs = app.get_with(&visitor, "/orgs").await;
    assert_eq!(orgs.status, 200);
    assert_eq!(app.audit_count("user.sign_in_failed", "denied"), 2);
    assert_eq!(app.audit_count("user.signed_in", "successful"), 2);
}

#[actix_web::test]
async fn a_session_id_from_before_sign_in_does_not_survive_it() {
    let app = spawn_app().await;
    app.sign_up(&app.client, "Ada", "ada@example.com").await;
    let visitor = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // Take a pre-sign-in session cookie, sign in with it, and check the cookie changed.
    let page = visitor.get(app.url("/signin")).send().await.unwrap();
    let before = page
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let html = page.text().await.unwrap();
    let token = crate::support::csrf_token(&html);
    let signed = visitor
        .post(app.url("/signin"))
        .header("Origin", &app.address)
        .header("Cookie", &before)
        .form(&[
            ("csrf_token", token.as_str()),
            ("email", "ada@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 303);
    let after = signed
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert_ne!(before, after);
    // The old cookie is not signed in.
    let old = visitor
        .get(app.url("/orgs"))
        .header("Cookie", &before)
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 303);
}

#[actix_web::test]
async fn ten_failures_lock_sign_in_for_the_account_with_a_clear_message() {
    let app = spawn_app().await;
    app.sign_up(&app.client, "Ada", "ada@example.com").await;
    let visitor = client(&app.address);
    for _ in 0..10 {
        let r = app
            .sign_in(&visitor, "ada@example.com", "wrong-password-123")
            .await;
        assert_eq!(r.status, 422);
    }
    let locked = app.sign_in(&visitor, "ada@example.com", PASSWORD).await;
    assert_eq!(locked.status, 429);
    assert!(
        locked
            .body
            .contains("Too many failed sign-in attempts. Try again in 15 minutes."),
        "{}",
        locked.body
    );
}

#[actix_web::test]
async fn failures_from_one_ip_lock_it_across_accounts() {
    let app = spawn_app_with(Options {
        signin_max_failures: 3,
        ..Options::default()
    })
    .await;
    app.sign_up(&app.client, "Ada", "ada@example.com").await;
    let visitor = client(&app.address);
    for i in 0..3 {
        app.sign_in(
            &visitor,
            &format!("someone{i}@example.com"),
            "wrong-password-123",
        )
        .await;
    }
    let locked = app.sign_in(&visitor, "ada@example.com", PASSWORD).await;
    assert_eq!(locked.status, 429);
}

#[actix_web::test]
async fn sign_out_destroys_the_session() {
    let app = spawn_app().await;
    app.sign_up(&app.client, "Ada", "ada@example.com").await;
    let r = app.post_form("/orgs", "/signout", &[]).await;
    assert_eq!(r.status, 303);
    assert_eq!(app.get("/orgs").await.status, 303, "signed out");
    use diesel::prelude::*;
    let sessions: i64 = gatehouse::db::schema::sessions::table
        .filter(gatehouse::db::schema::sessions::user_id.is_not_null())
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(sessions, 0);
}

#[actix_web::test]
async fn password_reset_link_works_once_and_signs_out_every_session() {
    let app = spawn_app().await;
    app.sign_up(&app.client, "Ada", "ada@example.com").await;
    let other_device = client(&app.address);
    assert_eq!(
        app.sign_in(&other_device, "ada@example.com", PASSWORD)
            .await
            .status,
        303
    );

    let visitor = client(&app.address);
    let r = app
        .post_form_with(
            &visitor,
            "/password/forgot",
            "/password/forgot",
            &[("email", "ada@example.com")],
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("If an account exists"));
    // Unknown addresses get the same answer and no email.
    let unknown = app
        .post_form_with(
            &visitor,
            "/password/forgot",
            "/password/forgot",
            &[("email", "nobody@example.com")],
        )
        .await;
    assert!(unknown.body.contains("If an account exists"));

    let mail = app
        .mail
        .wait_for("ada@example.com", "Reset your Gatehouse password")
        .await;
    let link = mail.link(&app.address).expect("reset link");
    let path = link.trim_start_matches(&app.address).to_string();
    let new_password = "granite-meadow-lantern-42";
    let token = path.split("token=").nth(1).unwrap().to_string();
    let done = app
        .post_form_with(
            &visitor,
            &path,
            "/password/reset",
            &[("token", &token), ("password", new_password)],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location.as_deref(), Some("/signin?reset=1"));

    assert_eq!(
        app.get("/orgs").await.status,
        303,
        "first device signed out"
    );
    assert_eq!(
        app.get_with(&other_device, "/orgs").await.status,
        303,
        "second device signed out"
    );
    assert_eq!(
        app.sign_in(&visitor, "ada@example.com", PASSWORD)
            .await
            .status,
        422,
        "old password gone"
    );
    assert_eq!(
        app.sign_in(&visitor, "ada@example.com", new_password)
            .await
            .status,
        303
    );

    let user = gatehouse::db::users::find_by_email(&mut app.conn(), "ada@example.com")
        .unwrap()
        .unwrap();
    assert!(user.is_verified(), "the reset link proved the address");

    let reused = app.get(&path).await;
    assert_eq!(reused.status, 410);
    assert!(reused.body.contains("already used"));
    assert!(
        !app.mail
            .all()
            .iter()
            .any(|m| m.to.iter().any(|t| t == "nobody@example.com"))
    );
}

#[actix_web::test]
async fn an_expired_reset_link_says_so() {
    let app = spawn_app().await;
    app.sign_up(&app.client, "Ada", "ada@example.com").await;
    let visitor = client(&app.address);
    app.post_form_with(
        &visitor,
        "/password/forgot",
        "/password/forgot",
        &[("email", "ada@example.com")],
    )
    .await;
    let mail = app.mail.wait_for("ada@example.com", "Reset").await;
    let link = mail.link(&app.address).unwrap();
    use diesel::prelude::*;
    diesel::sql_query("UPDATE account_tokens SET expires_at = now() - interval '1 minute' WHERE purpose = 'reset_password'")
        .execute(&mut app.conn())
        .unwrap();
    let page = app.get_with(&visitor, &link).await;
    assert_eq!(page.status, 410);
    assert!(page.body.contains("has expired"));
}

#[actix_web::test]
async fn changing_the_password_needs_the_current_one_and_ends_other_sessions() {
    let app = spawn_app().await;
    app.sign_up(&app.client, "Ada", "ada@example.com").await;
    let other_device = client(&app.address);
    app.sign_in(&other_device, "ada@example.com", PASSWORD)
        .await;

    let wrong = app
        .post_form(
            "/account/password",
            "/account/password",
            &[
                ("current_password", "nope-nope-nope-1"),
                ("new_password", "granite-meadow-lantern-42"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 422);
    assert!(wrong.body.contains("Your current password is incorrect."));

    let ok = app
        .post_form(
            "/account/password",
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "granite-meadow-lantern-42"),
            ],
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    assert_eq!(app.get("/orgs").await.status, 200, "this session continues");
    assert_eq!(
        app.get_with(&other_device, "/orgs").await.status,
        303,
        "the other one ended"
    );
    assert_eq!(app.audit_count("user.password_changed", "successful"), 1);
}

/// Every reset request counts against the IP's budget, also one for an address without an
/// account: the budget cannot be used to learn which addresses exist.
#[actix_web::test]
async fn resets_for_unknown_addresses_use_the_ip_budget_too() {
    let app = spawn_app().await;
    app.account(&app.client, "Ada", "ada@example.com").await;
    let visitor = client(&app.address);
    for i in 0..gatehouse::db::email_limits::PER_IP {
        let r = app
            .post_form_with(
                &visitor,
                "/password/forgot",
                "/password/forgot",
                &[("email", &format!("nobody{i}@example.com"))],
            )
            .await;
        assert_eq!(r.status, 200);
    }
    let r = app
        .post_form_with(
            &visitor,
            "/password/forgot",
            "/password/forgot",
            &[("email", "ada@example.com")],
        )
        .await;
    assert_eq!(r.status, 200);
    let queued: i64 = diesel::RunQueryDsl::get_result(
        diesel::dsl::sql::<diesel::sql_types::BigInt>("SELECT count(*) FROM email_outbox"),
        &mut app.conn(),
    )
    .unwrap();
    assert_eq!(queued, 0, "the IP's budget was spent");
}
