//! The account's sessions (DESIGN §14): listed with device, IP, start and last activity, this
//! one marked; one or every other can be ended; sessions end after a day idle and 30 days at
//! most; last activity is written at most once a minute.

use diesel::prelude::*;

use crate::support::{PASSWORD, TestApp, client, spawn_app};

fn sid_of_other(app: &TestApp, current_newest: bool) -> String {
    let order = if current_newest { "ASC" } else { "DESC" };
    diesel::dsl::sql::<diesel::sql_types::Text>(&format!(
        "SELECT sid FROM sessions WHERE sid IS NOT NULL ORDER BY created_at {order} LIMIT 1"
    ))
    .get_result(&mut app.conn())
    .unwrap()
}

#[actix_web::test]
async fn sessions_are_listed_and_one_or_all_others_can_be_ended() {
    let app = spawn_app().await;
    app.signed_up_verified("Ada", "ada@example.com").await;
    let phone = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(
            "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/130.0 Mobile Safari/537.36",
        )
        .default_headers({
            let mut h = reqwest::header::HeaderMap::new();
            h.insert("origin", app.address.parse().unwrap());
            h
        })
        .build()
        .unwrap();
    assert_eq!(
        app.sign_in(&phone, "ada@example.com", PASSWORD)
            .await
            .status,
        303
    );

    let page = app.get("/account/sessions").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Chrome on Android"), "{}", page.body);
    assert!(page.body.contains("127.0.0.1"));
    assert_eq!(page.body.matches("this session").count(), 1);

    // End the phone's session from the first browser: the phone is signed out at once.
    let phone_sid = sid_of_other(&app, false);
    let ended = app
        .post_form(
            "/account/sessions",
            &format!("/account/sessions/{phone_sid}/revoke"),
            &[],
        )
        .await;
    assert_eq!(ended.status, 303);
    assert_eq!(
        app.get_with(&phone, "/orgs").await.status,
        303,
        "signed out"
    );
    assert_eq!(app.get("/orgs").await.status, 200, "this one is not");
    assert_eq!(app.audit_count("session.revoked", "successful"), 1);

    // Someone else's session, or an unknown one: 404.
    let stranger = app
        .post_form(
            "/account/sessions",
            "/account/sessions/not-a-session/revoke",
            &[],
        )
        .await;
    assert_eq!(stranger.status, 404);

    // Every other session.
    for _ in 0..2 {
        let c = client(&app.address);
        assert_eq!(
            app.sign_in(&c, "ada@example.com", PASSWORD).await.status,
            303
        );
    }
    let all = app
        .post_form("/account/sessions", "/account/sessions/revoke-others", &[])
        .await;
    assert_eq!(all.status, 303);
    let left: i64 = gatehouse::db::schema::sessions::table
        .filter(gatehouse::db::schema::sessions::user_id.is_not_null())
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(left, 1);
    assert!(
        app.get("/account/sessions")
            .await
            .body
            .contains("2 other sessions were ended")
    );
}

#[actix_web::test]
async fn sessions_end_when_idle_or_too_old_and_activity_is_written_once_a_minute() {
    let app = spawn_app().await;
    app.signed_up_verified("Ada", "ada@example.com").await;
    let seen = |app: &TestApp| -> chrono::DateTime<chrono::Utc> {
        gatehouse::db::schema::sessions::table
            .filter(gatehouse::db::schema::sessions::user_id.is_not_null())
            .select(gatehouse::db::schema::sessions::last_seen_at)
            .first(&mut app.conn())
            .unwrap()
    };
    let before = seen(&app);
    for _ in 0..3 {
        assert_eq!(app.get("/orgs").await.status, 200);
    }
    assert_eq!(seen(&app), before, "not a write per request");
    // Two minutes pass.
    diesel::sql_query(
        "UPDATE sessions SET state = jsonb_set(state, '{seen}',
           to_jsonb(((extract(epoch FROM now()))::bigint - 120)::text)),
           last_seen_at = now() - interval '2 minutes'
         WHERE user_id IS NOT NULL",
    )
    .execute(&mut app.conn())
    .unwrap();
    assert_eq!(app.get("/orgs").await.status, 200);
    let age = chrono::Utc::now() - seen(&app);
    assert!(
        age < chrono::Duration::seconds(30),
        "written again after a minute: {age}"
    );

    diesel::sql_query("UPDATE sessions SET last_seen_at = now() - interval '25 hours'")
        .execute(&mut app.conn())
        .unwrap();
    assert_eq!(app.get("/orgs").await.status, 303, "ended after a day idle");

    let other = client(&app.address);
    assert_eq!(
        app.sign_in(&other, "ada@example.com", PASSWORD)
            .await
            .status,
        303
    );
    diesel::sql_query(
        "UPDATE sessions SET created_at = now() - interval '31 days' WHERE user_id IS NOT NULL",
    )
    .execute(&mut app.conn())
    .unwrap();
    assert_eq!(
        app.get_with(&other, "/orgs").await.status,
        303,
        "ended after 30 days"
    );
}

#[actix_web::test]
async fn a_page_reads_the_session_on_its_own_trip_and_writes_back_only_a_change() {
    let app = spawn_app().await;
    app.signed_up_verified("Ada", "ada@example.com").await;
    let slug = app.create_org("Acme").await;
    let stored = |app: &TestApp| -> serde_json::Value {
        gatehouse::db::schema::sessions::table
            .filter(gatehouse::db::schema::sessions::user_id.is_not_null())
            .select(gatehouse::db::schema::sessions::state)
            .first(&mut app.conn())
            .unwrap()
    };
    let users = format!("/orgs/{slug}/access/users");
    assert_eq!(app.get(&users).await.status, 200);
    let before = stored(&app);
    let page = app.get(&users).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Ada"), "{}", page.body);
    assert_eq!(stored(&app), before, "nothing changed, nothing written");

    // A flash left in the stored session (as another instance would) is shown once by the
    // page that read it, and the change is written back.
    diesel::sql_query(
        r#"UPDATE sessions SET state = state || '{"flash": "{\"kind\":\"success\",\"message\":\"Left by another instance\"}"}'
           WHERE user_id IS NOT NULL"#,
    )
    .execute(&mut app.conn())
    .unwrap();
    let shown = app.get(&users).await;
    assert!(
        shown.body.contains("Left by another instance"),
        "{}",
        shown.body
    );
    assert!(
        stored(&app).get("flash").is_none(),
        "taken from the stored session"
    );
    assert!(
        !app.get(&users)
            .await
            .body
            .contains("Left by another instance")
    );
    for key in ["_pending", "_loaded", "_user", "_switcher"] {
        assert!(stored(&app).get(key).is_none(), "{key} is never stored");
    }

    // Reading the session sends no cookie back: the browser has it, and a copy could put an
    // ended key back after a renewal elsewhere.
    let response = app.client.get(app.url(&users)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let sent: Vec<_> = response.headers().get_all("set-cookie").iter().collect();
    assert!(sent.is_empty(), "{sent:?}");

    // Ended elsewhere: the page reads that on its trip and asks to sign in.
    diesel::delete(gatehouse::db::schema::sessions::table)
        .execute(&mut app.conn())
        .unwrap();
    let ended = app.get(&users).await;
    assert_eq!(ended.status, 303);
    let to = ended.location.unwrap_or_default();
    assert!(to.starts_with("/signin"), "{to}");
}
