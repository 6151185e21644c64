//! Behind a reverse proxy (DESIGN §15): only from a trusted proxy is the client's address read
//! from X-Forwarded-For, and then the throttles and the audit log use it; a forged header from
//! anyone else changes nothing.

use crate::support::{Options, TestApp, client, csrf_token, spawn_app, spawn_app_with};

/// A failed sign-in for `email` sent with this X-Forwarded-For; the status.
async fn failed_sign_in(app: &TestApp, forwarded: &str, email: &str) -> u16 {
    let c = client(&app.address);
    let page = c.get(app.url("/signin")).send().await.unwrap();
    let token = csrf_token(&page.text().await.unwrap());
    c.post(app.url("/signin"))
        .header("x-forwarded-for", forwarded)
        .form(&[
            ("csrf_token", token.as_str()),
            ("email", email),
            ("password", "wrong-password-123"),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn last_ip(app: &TestApp) -> Option<String> {
    diesel::RunQueryDsl::get_result(
        diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Text>>(
            "SELECT ip FROM audit_events ORDER BY id DESC LIMIT 1",
        ),
        &mut app.conn(),
    )
    .unwrap()
}

#[actix_web::test]
async fn a_forged_forwarded_for_from_an_untrusted_peer_changes_nothing() {
    let app = spawn_app().await;
    failed_sign_in(&app, "203.0.113.9", "ada@example.com").await;
    assert_eq!(last_ip(&app).as_deref(), Some("127.0.0.1"));
}

#[actix_web::test]
async fn behind_a_trusted_proxy_the_client_address_is_the_right_most_untrusted_one() {
    let app = spawn_app_with(Options {
        trusted_proxies: vec![
            "127.0.0.0/8".parse().unwrap(),
            "10.0.0.0/8".parse().unwrap(),
        ],
        signin_max_failures: 3,
        ..Options::default()
    })
    .await;
    // The client may write anything on the left; the proxies append on the right.
    failed_sign_in(&app, "198.51.100.7, 203.0.113.9", "a@example.com").await;
    assert_eq!(last_ip(&app).as_deref(), Some("203.0.113.9"));
    failed_sign_in(&app, "203.0.113.9, 10.1.2.3", "b@example.com").await;
    assert_eq!(
        last_ip(&app).as_deref(),
        Some("203.0.113.9"),
        "chained proxies skipped"
    );
    failed_sign_in(&app, "not an address", "c@example.com").await;
    assert_eq!(
        last_ip(&app).as_deref(),
        Some("127.0.0.1"),
        "garbage: the proxy itself"
    );
    // Garbage written on the left by the client does not hide the address the proxy appended
    // (nginx appends to whatever the client sent).
    failed_sign_in(&app, "unknown, 198.51.100.30", "g@example.com").await;
    assert_eq!(last_ip(&app).as_deref(), Some("198.51.100.30"));
    failed_sign_in(&app, "x, 198.51.100.31, 10.9.9.9", "h@example.com").await;
    assert_eq!(last_ip(&app).as_deref(), Some("198.51.100.31"));
    // All hops trusted, garbage beyond them: the last hop that wrote a real address.
    failed_sign_in(&app, "x, 10.4.4.4, 10.9.9.9", "i@example.com").await;
    assert_eq!(last_ip(&app).as_deref(), Some("10.4.4.4"));

    // The throttle counts per client behind the proxy: 203.0.113.9 is locked, another is not.
    assert_eq!(
        failed_sign_in(&app, "203.0.113.9", "d@example.com").await,
        422
    );
    let locked = failed_sign_in(&app, "203.0.113.9", "e@example.com").await;
    assert_eq!(locked, 429, "three failures from 203.0.113.9 lock it");
    let other = failed_sign_in(&app, "198.51.100.20", "f@example.com").await;
    assert_eq!(
        other, 422,
        "another client behind the same proxy is not locked"
    );

    // IPv6 counts by /64, one subscriber's block: new addresses in it do not bring new guesses.
    for (n, email) in ["v1", "v2", "v3"].iter().enumerate() {
        let ip = format!("2001:db8:1:2::{}", n + 1);
        let status = failed_sign_in(&app, &ip, &format!("{email}@example.com")).await;
        assert_eq!(status, 422, "{ip}");
    }
    let locked = failed_sign_in(&app, "2001:db8:1:2:ffff::9", "v4@example.com").await;
    assert_eq!(locked, 429, "the /64 is locked");
    let elsewhere = failed_sign_in(&app, "2001:db8:1:3::1", "v5@example.com").await;
    assert_eq!(elsewhere, 422, "another /64 is not");
}
