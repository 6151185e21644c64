//! The account page (DESIGN §14): name, email change confirmed by a link to the new address (the
//! old one told), links to the rest, and the account's security log, paged.

use diesel::prelude::*;

use crate::support::{PASSWORD, client, spawn_app};

#[actix_web::test]
async fn the_name_in_the_top_bar_leads_to_the_account_page_where_it_can_be_changed() {
    let app = spawn_app().await;
    app.signed_up_verified("Ada Lovelace", "ada@example.com")
        .await;
    let home = app.get("/orgs").await;
    assert!(
        home.body.contains(r#"<a href="/account">Ada Lovelace</a>"#),
        "{}",
        home.body
    );
    let page = app.get("/account").await;
    assert_eq!(page.status, 200);
    for link in [
        "/account/password",
        "/account/two-factor",
        "/account/sessions",
        "/account/api-keys",
    ] {
        assert!(page.body.contains(&format!(r#"href="{link}""#)), "{link}");
    }
    assert!(
        page.body.contains("user.signed_in"),
        "the sign-in is in the log"
    );

    let bad = app
        .post_form("/account", "/account/name", &[("name", "  ")])
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("field-error"));
    let renamed = app
        .post_form("/account", "/account/name", &[("name", "Ada King")])
        .await;
    assert_eq!(renamed.status, 303);
    assert!(
        app.get("/account")
            .await
            .body
            .contains(r#"<a href="/account">Ada King</a>"#)
    );
    assert_eq!(app.audit_count("user.name_changed", "successful"), 1);
}

#[actix_web::test]
async fn a_new_email_takes_effect_once_its_link_is_used_and_the_old_address_is_told() {
    let app = spawn_app().await;
    app.signed_up_verified("Ada", "ada@example.com").await;
    let wrong = app
        .post_form(
            "/account",
            "/account/email",
            &[
                ("new_email", "ada@new.example"),
                ("password", "not-my-password-1"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 422);
    assert!(wrong.body.contains("That password is not correct"));
    assert!(wrong.body.contains(r#"value="ada@new.example""#), "kept");
    let malformed = app
        .post_form(
            "/account",
            "/account/email",
            &[("new_email", "not an address"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(malformed.status, 422);

    let asked = app
        .post_form(
            "/account",
            "/account/email",
            &[("new_email", "Ada@New.Example"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(asked.status, 303, "{}", asked.body);
    let page = app.get("/account").await;
    assert!(page.body.contains("waits for the link"), "{}", page.body);
    // Until the link is used, the old address still signs in.
    let other = client(&app.address);
    assert_eq!(
        app.sign_in(&other, "ada@example.com", PASSWORD)
            .await
            .status,
        303
    );

    // A reset link sent to the old address before the change stops working with it.
    let forgot = app
        .post_form_with(
            &other,
            "/password/forgot",
            "/password/forgot",
            &[("email", "ada@example.com")],
        )
        .await;
    assert_eq!(forgot.status, 200, "{}", forgot.body);
    let reset = app
        .mail
        .wait_for("ada@example.com", "Reset your Gatehouse password")
        .await;
    let reset = reset.link(&app.address).expect("reset link");
    let reset = reset.trim_start_matches(&app.address).to_string();
    assert_eq!(app.get_with(&other, &reset).await.status, 200);

    let mail = app
        .mail
        .wait_for(
            "ada@new.example",
            "Confirm your new email address for Gatehouse",
        )
        .await;
    let link = mail.link(&app.address).expect("link");
    let path = link.trim_start_matches(&app.address).to_string();
    let visitor = client(&app.address);
    let done = app.get_with(&visitor, &path).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("ada@new.example"));
    let told = app
        .mail
        .wait_for(
            "ada@example.com",
            "Your Gatehouse email address was changed",
        )
        .await;
    assert!(told.raw.contains("ada@new.example"));
    assert_eq!(app.get_with(&visitor, &path).await.status, 410, "once");
    assert_eq!(
        app.get_with(&visitor, &reset).await.status,
        410,
        "the old address's reset link"
    );

    let fresh = client(&app.address);
    assert_eq!(
        app.sign_in(&fresh, "ada@example.com", PASSWORD)
            .await
            .status,
        422
    );
    assert_eq!(
        app.sign_in(&fresh, "ada@new.example", PASSWORD)
            .await
            .status,
        303
    );
    assert_eq!(
        app.audit_count("user.email_change_requested", "successful"),
        1
    );
    assert_eq!(app.audit_count("user.email_changed", "successful"), 1);
    assert!(
        app.get_with(&fresh, "/account")
            .await
            .body
            .contains("user.email_changed")
    );
}

#[actix_web::test]
async fn an_address_of_another_account_gets_no_link_and_is_not_revealed() {
    let app = spawn_app().await;
    app.create_account_verified("Bob", "bob@example.com");
    app.signed_up_verified("Ada", "ada@example.com").await;
    let asked = app
        .post_form(
            "/account",
            "/account/email",
            &[("new_email", "bob@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(asked.status, 303, "the same answer as for a free address");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(
        app.mail
            .all()
            .iter()
            .all(|m| !m.to.iter().any(|t| t.contains("bob@example.com"))),
        "nothing sent to the other account"
    );
}

#[actix_web::test]
async fn the_security_log_shows_failures_and_is_paged() {
    let app = spawn_app().await;
    app.signed_up_verified("Ada", "ada@example.com").await;
    let stranger = client(&app.address);
    assert_eq!(
        app.sign_in(&stranger, "ada@example.com", "wrong-password-1")
            .await
            .status,
        422
    );
    let page = app.get("/account").await;
    assert!(page.body.contains("user.sign_in_failed"), "{}", page.body);
    assert!(page.body.contains(">failed</span>"));
    // Someone else's events are not in it.
    app.create_account_verified("Bob", "bob@example.com");
    let bob = client(&app.address);
    app.sign_in(&bob, "bob@example.com", "wrong-password-1")
        .await;

    diesel::sql_query(
        "INSERT INTO audit_events (actor_kind, actor_user_id, actor_label, action, target, details, status)
         SELECT 'user', id, email, 'user.signed_in', email, '{}', 'successful'
         FROM users, generate_series(1, 60) WHERE email = 'ada@example.com'",
    )
    .execute(&mut app.conn())
    .unwrap();
    let first = app.get("/account").await;
    assert!(first.body.contains("Page 1 of 2"), "{}", first.body);
    let second = app.get("/account?page=2").await;
    assert_eq!(second.status, 200);
    assert!(second.body.contains("Page 2 of 2"));
    assert_eq!(
        second.body.matches("user.sign_in_failed").count(),
        1,
        "only Ada's failure"
    );
    assert_eq!(app.get("/account?page=abc").await.status, 400);
}

#[actix_web::test]
async fn a_password_reset_voids_an_email_change_still_waiting_for_its_link() {
    let app = spawn_app().await;
    app.signed_up_verified("Ada", "ada@example.com").await;
    // Someone holding Ada's password asks to move the account to their address…
    let asked = app
        .post_form(
            "/account",
            "/account/email",
            &[("new_email", "thief@example.net"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(asked.status, 303);
    let mail = app
        .mail
        .wait_for(
            "thief@example.net",
            "Confirm your new email address for Gatehouse",
        )
        .await;
    let link = mail.link(&app.address).expect("link");
    // …then Ada resets her password: the waiting change and its link die with the old password.
    let visitor = client(&app.address);
    app.post_form_with(
        &visitor,
        "/password/forgot",
        "/password/forgot",
        &[("email", "ada@example.com")],
    )
    .await;
    let reset = app
        .mail
        .wait_for("ada@example.com", "Reset your Gatehouse password")
        .await;
    let path = reset
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
    assert_eq!(done.status, 303);
    let used = app
        .get_with(&visitor, link.trim_start_matches(&app.address))
        .await;
    assert_eq!(used.status, 410, "{}", used.body);
    let email: String = diesel::dsl::sql::<diesel::sql_types::Text>(
        "SELECT email || coalesce(pending_email, '') FROM users WHERE email = 'ada@example.com'",
    )
    .get_result(&mut app.conn())
    .unwrap();
    assert_eq!(email, "ada@example.com");
}
