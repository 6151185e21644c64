//! Two-factor sign-in (DESIGN §14): enrolment with a code, recovery codes shown once and stored
//! hashed, the second step of sign-in (a code once, a recovery code once), throttling, turning it
//! off, and a password reset that does not get around it.

use diesel::prelude::*;

use crate::support::{Options, PASSWORD, TestApp, client, spawn_app, spawn_app_with};

/// The authenticator: the code for `secret` (as the page shows it) at `unix` seconds.
pub fn code(secret: &str, unix: u64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.replace(' ', ""))
        .to_bytes()
        .expect("base32 secret");
    gatehouse::auth::two_factor::code_at(&bytes, unix)
}

pub fn now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap()
}

/// The secret the two-factor page shows while setting up.
pub fn secret_on(html: &str) -> String {
    between(
        html,
        r#"<code id="totp-secret" class="revealed">"#,
        "</code>",
    )
    .to_string()
}

/// The recovery codes a page shows (once).
pub fn codes_on(html: &str) -> Vec<String> {
    html.split(r#"<li><code class="revealed">"#)
        .skip(1)
        .map(|s| s.split('<').next().unwrap_or_default().to_string())
        .collect()
}

fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let from = html.find(start).map(|i| i + start.len()).expect(start);
    let to = html[from..].find(end).expect(end);
    &html[from..from + to]
}

/// Sets up two-factor for the account signed in on `app.client`; returns the secret and the
/// recovery codes, and the Unix time whose code confirmed it.
pub async fn enrol(app: &TestApp, client: &reqwest::Client) -> (String, Vec<String>, u64) {
    let set_up = app
        .post_form_with(
            client,
            "/account/two-factor",
            "/account/two-factor/setup",
            &[],
        )
        .await;
    assert_eq!(set_up.status, 303, "{}", set_up.body);
    let page = app.get_with(client, "/account/two-factor").await;
    let secret = secret_on(&page.body);
    let at = now();
    let done = app
        .post_form_with(
            client,
            "/account/two-factor",
            "/account/two-factor/confirm",
            &[("code", &code(&secret, at)), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let shown = app.get_with(client, "/account/two-factor").await;
    let codes = codes_on(&shown.body);
    (secret, codes, at)
}

pub async fn second_step(
    app: &TestApp,
    client: &reqwest::Client,
    typed: &str,
) -> crate::support::Response {
    app.post_form_with(
        client,
        "/signin/two-factor",
        "/signin/two-factor",
        &[("code", typed)],
    )
    .await
}

#[actix_web::test]
async fn enrolment_shows_a_qr_code_and_recovery_codes_once_and_stores_nothing_in_clear() {
    let app = spawn_app().await;
    app.signed_up_verified("Ada", "ada@example.com").await;
    let page = app.get("/account/two-factor").await;
    assert!(
        page.body.contains("Set up two-factor sign-in"),
        "{}",
        page.body
    );
    app.post_form("/account/two-factor", "/account/two-factor/setup", &[])
        .await;
    let page = app.get("/account/two-factor").await;
    let secret = secret_on(&page.body);
    assert_eq!(secret.replace(' ', "").len(), 32, "{secret}");

    // The QR code is an SVG drawn on the server, never cached.
    let qr = app
        .client
        .get(app.url("/account/two-factor/qr.svg"))
        .send()
        .await
        .unwrap();
    assert_eq!(qr.status(), 200);
    assert_eq!(qr.headers()["content-type"], "image/svg+xml");
    assert_eq!(qr.headers()["cache-control"], "no-store");
    assert!(qr.text().await.unwrap().contains("<svg"));

    // Wrong and malformed codes: a message beside the field, two-factor still off.
    for (typed, message) in [
        ("000000", "not correct"),
        ("12ab", "6-digit code"),
        ("1\u{0}3456", "cannot be stored"),
    ] {
        let bad = app
            .post_form(
                "/account/two-factor",
                "/account/two-factor/confirm",
                &[("code", typed), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(bad.status, 422, "{typed:?}");
        assert!(bad.body.contains(message), "{typed:?}: {}", bad.body);
    }
    let secret_bytes = totp_rs::Secret::Encoded(secret.replace(' ', ""))
        .to_bytes()
        .unwrap();
    let good = gatehouse::auth::two_factor::code_at(&secret_bytes, now());
    let done = app
        .post_form(
            "/account/two-factor",
            "/account/two-factor/confirm",
            &[("code", &good), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let shown = app.get("/account/two-factor").await;
    assert_eq!(
        shown.body.matches(r#"<li><code class="revealed">"#).count(),
        10
    );
    assert!(shown.body.contains("On"));
    let again = app.get("/account/two-factor").await;
    assert_eq!(
        again.body.matches(r#"<li><code class="revealed">"#).count(),
        0,
        "shown once"
    );
    assert!(again.body.contains("10 unused recovery codes"));

    // At rest: the secret is sealed (not its bytes, not its base32), codes only as hashes.
    let stored: Vec<u8> = diesel::dsl::sql::<diesel::sql_types::Bytea>(
        "SELECT totp_secret FROM users WHERE email = 'ada@example.com'",
    )
    .get_result(&mut app.conn())
    .unwrap();
    assert!(
        !stored
            .windows(secret_bytes.len())
            .any(|w| w == secret_bytes.as_slice())
    );
    assert!(!String::from_utf8_lossy(&stored).contains(&secret.replace(' ', "")));
    let hashes: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "SELECT count(*) FROM recovery_codes WHERE octet_length(code_hash) = 32 AND used_at IS NULL",
    )
    .get_result(&mut app.conn())
    .unwrap();
    assert_eq!(hashes, 10);
    assert_eq!(app.audit_count("user.two_factor_enabled", "successful"), 1);
    assert_eq!(app.audit_count("user.two_factor_failed", "denied"), 1);
}

#[actix_web::test]
async fn sign_in_takes_a_code_once_and_a_recovery_code_once() {
    let app = spawn_app().await;
    app.signed_up_verified("Ada", "ada@example.com").await;
    let (secret, recovery, at) = enrol(&app, &app.client).await;
    assert_eq!(recovery.len(), 10);

    let browser = client(&app.address);
    let first = app.sign_in(&browser, "ada@example.com", PASSWORD).await;
    assert_eq!(first.status, 303);
    assert_eq!(first.location.as_deref(), Some("/signin/two-factor"));
    assert_eq!(
        app.get_with(&browser, "/orgs").await.status,
        303,
        "the password alone does not sign in"
    );
    assert!(app.audit_count("user.signed_in", "successful") <= 1);

    // A code from minutes ago has expired.
    let expired = second_step(&app, &browser, &code(&secret, at - 120)).await;
    assert_eq!(expired.status, 422);
    assert!(expired.body.contains("Codes change every 30 seconds"));
    // The code that confirmed enrolment was used: its step is not accepted again.
    let replayed = second_step(&app, &browser, &code(&secret, at)).await;
    assert_eq!(replayed.status, 422);
    assert!(replayed.body.contains("not correct, or was already used"));
    // The next step's code (one step of drift) signs in.
    let next = code(&secret, at + 30);
    let signed = second_step(&app, &browser, &next).await;
    assert_eq!(signed.status, 303, "{}", signed.body);
    assert_eq!(app.get_with(&browser, "/orgs").await.status, 200);

    // The same code again, on another device: refused.
    let thief = client(&app.address);
    app.sign_in(&thief, "ada@example.com", PASSWORD).await;
    assert_eq!(second_step(&app, &thief, &next).await.status, 422);
    // A recovery code works once, typed in any case.
    let used = second_step(&app, &thief, &recovery[0].to_uppercase()).await;
    assert_eq!(used.status, 303, "{}", used.body);
    let home = app.get_with(&thief, "/orgs").await;
    assert!(home.body.contains("9 left"), "{}", home.body);
    let again = client(&app.address);
    app.sign_in(&again, "ada@example.com", PASSWORD).await;
    assert_eq!(second_step(&app, &again, &recovery[0]).await.status, 422);
    assert_eq!(app.audit_count("user.recovery_code_used", "successful"), 1);
    assert!(app.audit_count("user.two_factor_failed", "denied") >= 3);

    // Without a password step, the second step sends back to sign-in.
    let stranger = client(&app.address);
    let page = app.get_with(&stranger, "/signin/two-factor").await;
    assert_eq!(page.location.as_deref(), Some("/signin"));
}

#[actix_web::test]
async fn codes_are_throttled_like_passwords() {
    let app = spawn_app_with(Options {
        signin_max_failures: 3,
        ..Options::default()
    })
    .await;
    app.signed_up_verified("Ada", "ada@example.com").await;
    let (secret, _, at) = enrol(&app, &app.client).await;
    let browser = client(&app.address);
    app.sign_in(&browser, "ada@example.com", PASSWORD).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(second_step(&app, &browser, "111111").await.status);
    }
    assert_eq!(statuses, [422, 422, 422, 429], "{statuses:?}");
    // Locked: even the right code is not checked now.
    let locked = second_step(&app, &browser, &code(&secret, at + 30)).await;
    assert_eq!(locked.status, 429);
    assert!(locked.body.contains("Too many failed attempts"));
}

#[actix_web::test]
async fn a_password_reset_does_not_get_around_two_factor_and_turning_it_off_needs_both() {
    let app = spawn_app().await;
    app.signed_up_verified("Ada", "ada@example.com").await;
    let (secret, recovery, at) = enrol(&app, &app.client).await;

    let visitor = client(&app.address);
    app.post_form_with(
        &visitor,
        "/password/forgot",
        "/password/forgot",
        &[("email", "ada@example.com")],
    )
    .await;
    let mail = app
        .mail
        .wait_for("ada@example.com", "Reset your Gatehouse password")
        .await;
    let link = mail.link(&app.address).expect("reset link");
    let path = link.trim_start_matches(&app.address).to_string();
    let token = path.split("token=").nth(1).unwrap().to_string();
    let new_password = "granite-meadow-lantern-42";
    let done = app
        .post_form_with(
            &visitor,
            &path,
            "/password/reset",
            &[("token", &token), ("password", new_password)],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(app.get_with(&visitor, "/orgs").await.status, 303);
    let signin = app.sign_in(&visitor, "ada@example.com", new_password).await;
    assert_eq!(signin.location.as_deref(), Some("/signin/two-factor"));
    assert_eq!(app.get_with(&visitor, "/orgs").await.status, 303);
    let signed = second_step(&app, &visitor, &code(&secret, at + 30)).await;
    assert_eq!(signed.status, 303);

    // Off: the password and a code are both needed.
    let no_password = app
        .post_form_with(
            &visitor,
            "/account/two-factor",
            "/account/two-factor/disable",
            &[("password", ""), ("disable_code", &recovery[1])],
        )
        .await;
    assert_eq!(no_password.status, 422);
    let wrong_password = app
        .post_form_with(
            &visitor,
            "/account/two-factor",
            "/account/two-factor/disable",
            &[
                ("password", "not-the-password-1"),
                ("disable_code", &recovery[1]),
            ],
        )
        .await;
    assert_eq!(wrong_password.status, 422);
    assert!(wrong_password.body.contains("That password is not correct"));
    let wrong_code = app
        .post_form_with(
            &visitor,
            "/account/two-factor",
            "/account/two-factor/disable",
            &[("password", new_password), ("disable_code", "123456")],
        )
        .await;
    assert_eq!(wrong_code.status, 422);
    let off = app
        .post_form_with(
            &visitor,
            "/account/two-factor",
            "/account/two-factor/disable",
            &[("password", new_password), ("disable_code", &recovery[1])],
        )
        .await;
    assert_eq!(off.status, 303, "{}", off.body);
    assert_eq!(app.audit_count("user.two_factor_disabled", "successful"), 1);
    let left: i64 =
        diesel::dsl::sql::<diesel::sql_types::BigInt>("SELECT count(*) FROM recovery_codes")
            .get_result(&mut app.conn())
            .unwrap();
    assert_eq!(left, 0);
    let plain = client(&app.address);
    let r = app.sign_in(&plain, "ada@example.com", new_password).await;
    assert_eq!(r.location.as_deref(), Some("/"), "no second step any more");
}

#[actix_web::test]
async fn new_recovery_codes_replace_the_old_ones() {
    let app = spawn_app().await;
    app.signed_up_verified("Ada", "ada@example.com").await;
    let (secret, old, at) = enrol(&app, &app.client).await;
    let made = app
        .post_form(
            "/account/two-factor",
            "/account/two-factor/recovery-codes",
            &[("regenerate_code", &code(&secret, at + 30))],
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    let page = app.get("/account/two-factor").await;
    let fresh = codes_on(&page.body);
    assert_eq!(fresh.len(), 10);
    assert!(fresh.iter().all(|c| !old.contains(c)));
    assert_eq!(
        app.audit_count("user.recovery_codes_regenerated", "successful"),
        1
    );
    let browser = client(&app.address);
    app.sign_in(&browser, "ada@example.com", PASSWORD).await;
    assert_eq!(second_step(&app, &browser, &old[2]).await.status, 422);
    assert_eq!(second_step(&app, &browser, &fresh[2]).await.status, 303);
}

#[actix_web::test]
async fn an_organization_can_require_two_factor_of_its_members_on_pages_and_api() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    app.create_account_verified("Mia", "mia@example.com");
    crate::support::add_member(&app, &slug, "mia@example.com", "member", &[]);
    let mia = client(&app.address);
    app.sign_in(&mia, "mia@example.com", PASSWORD).await;
    let mia_key = crate::api::create_key(&app, &mia, "mia's script").await;
    let org = crate::support::org_id(&app, &slug);
    let api_path = format!("/api/v1/organizations/{org}/environments");
    assert_eq!(
        crate::api::send(&app, &mia_key, "GET", &api_path, None)
            .await
            .0,
        200
    );

    // The owner cannot lock themselves out: their own two-factor comes first.
    let settings = format!("/orgs/{slug}/settings");
    let action = format!("/orgs/{slug}/settings/two-factor");
    let page = app.get(&settings).await;
    assert!(
        page.body.contains("2 members have not set it up yet"),
        "{}",
        page.body
    );
    let refused = app
        .post_form(&settings, &action, &[("require_two_factor", "on")])
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("your own account first"));
    enrol(&app, &app.client).await;
    let page = app.get(&settings).await;
    assert!(
        page.body.contains("1 member has not set it up yet"),
        "{}",
        page.body
    );
    let users = app.get(&format!("/orgs/{slug}/access/users")).await;
    assert_eq!(
        users.body.matches("no two-factor</span>").count(),
        1,
        "Mia is marked"
    );

    let on = app
        .post_form(&settings, &action, &[("require_two_factor", "on")])
        .await;
    assert_eq!(on.status, 303, "{}", on.body);
    assert_eq!(
        app.audit_count("organization.policy_changed", "successful"),
        1
    );
    assert!(app.get(&settings).await.body.contains("Stop requiring"));

    // Mia, without two-factor: a page saying what to do, and 403 from the API.
    for path in [
        format!("/orgs/{slug}"),
        format!("/orgs/{slug}/env/development"),
    ] {
        let blocked = app.get_with(&mia, &path).await;
        assert_eq!(blocked.status, 403, "{path}");
        assert!(
            blocked.body.contains("requires two-factor sign-in"),
            "{}",
            blocked.body
        );
        assert!(blocked.body.contains(r#"href="/account/two-factor""#));
    }
    let (status, body) = crate::api::send(&app, &mia_key, "GET", &api_path, None).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "two_factor_required", "{body}");
    // The owner is not blocked.
    assert_eq!(app.get(&format!("/orgs/{slug}")).await.status, 200);

    // Once Mia sets it up, she is let in again, on pages and the API.
    enrol(&app, &mia).await;
    assert_eq!(
        app.get_with(&mia, &format!("/orgs/{slug}")).await.status,
        200
    );
    assert_eq!(
        crate::api::send(&app, &mia_key, "GET", &api_path, None)
            .await
            .0,
        200
    );

    let off = app
        .post_form(&settings, &action, &[("require_two_factor", "off")])
        .await;
    assert_eq!(off.status, 303);
    assert_eq!(
        app.audit_count("organization.policy_changed", "successful"),
        2
    );
    let bad = app
        .post_form(&settings, &action, &[("require_two_factor", "maybe")])
        .await;
    assert_eq!(bad.status, 400);
}

#[actix_web::test]
async fn operators_need_two_factor_where_it_is_required() {
    let app = spawn_app_with(Options {
        operators_require_2fa: Some(true),
        ..Options::default()
    })
    .await;
    app.signed_up_verified("Oscar", "oscar@example.com").await;
    diesel::sql_query("UPDATE users SET is_operator = true WHERE email = 'oscar@example.com'")
        .execute(&mut app.conn())
        .unwrap();
    let blocked = app.get("/operator").await;
    assert_eq!(blocked.status, 403);
    assert!(blocked.body.contains("Set up two-factor sign-in"));
    enrol(&app, &app.client).await;
    assert_eq!(app.get("/operator").await.status, 200);
}

/// A JSON post as the passkey script sends it (with `token` as its CSRF header, when given).
async fn script_post(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, String) {
    let mut request = client
        .post(app.url(path))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(token) = token {
        request = request.header("x-csrf-token", token);
    }
    let r = request.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

#[actix_web::test]
async fn the_passkey_endpoints_check_the_page_token_and_use_each_ceremony_once() {
    let app = spawn_app_with(Options {
        localhost: true,
        ..Options::default()
    })
    .await;
    let visitor = client(&app.address);
    let token = crate::support::csrf_token(&app.get_with(&visitor, "/signin").await.body);
    let (status, body) = script_post(&app, &visitor, "/signin/passkey/options", None, "{}").await;
    assert_eq!(status, 403, "no token: {body}");
    let (status, _) = script_post(
        &app,
        &visitor,
        "/signin/passkey/options",
        Some("forged"),
        "{}",
    )
    .await;
    assert_eq!(status, 403);
    let (status, options) = script_post(
        &app,
        &visitor,
        "/signin/passkey/options",
        Some(&token),
        "{}",
    )
    .await;
    assert_eq!(status, 200, "{options}");
    let options: serde_json::Value = serde_json::from_str(&options).unwrap();
    assert!(options["publicKey"]["challenge"].is_string(), "{options}");
    let stored: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "SELECT count(*) FROM webauthn_challenges WHERE purpose = 'discover'",
    )
    .get_result(&mut app.conn())
    .unwrap();
    assert_eq!(stored, 1, "the ceremony's state stays on the server");

    let forged = serde_json::json!({ "credential": {
        "id": "AAAA", "rawId": "AAAA", "type": "public-key",
        "response": { "authenticatorData": "AAAA", "clientDataJSON": "AAAA", "signature": "AAAA", "userHandle": null },
        "extensions": {},
    }})
    .to_string();
    let (status, body) =
        script_post(&app, &visitor, "/signin/passkey", Some(&token), &forged).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("not accepted"));
    let (status, body) =
        script_post(&app, &visitor, "/signin/passkey", Some(&token), &forged).await;
    assert_eq!(status, 422);
    assert!(body.contains("took too long"), "used once: {body}");
    // A body of the wrong shape, or not JSON at all: refused, never a 500.
    for bad in ["{\"credential\":1}", "not json", "{\"next\":\"\\u0000\"}"] {
        let (status, _) = script_post(&app, &visitor, "/signin/passkey", Some(&token), bad).await;
        assert!(status == 400 || status == 422, "{bad}: {status}");
    }
    assert_eq!(
        app.get_with(&visitor, "/orgs").await.status,
        303,
        "nobody signed in"
    );

    // Reached by IP address, the site cannot have passkeys, and says so.
    let by_ip = spawn_app().await;
    by_ip.signed_up_verified("Ada", "ada@example.com").await;
    let page = by_ip.get("/account/passkeys").await;
    assert!(page.body.contains("not an IP address"), "{}", page.body);
    let token = crate::support::csrf_token(&page.body);
    let (status, _) = script_post(
        &by_ip,
        &by_ip.client,
        "/account/passkeys/options",
        Some(&token),
        "{}",
    )
    .await;
    assert_eq!(status, 404);
}

/// An account whose second step is a passkey is told so on the two-factor page, and may add an
/// authenticator app; the page does not claim app codes it does not have.
#[actix_web::test]
async fn a_passkey_account_is_offered_an_authenticator_app_as_well() {
    let app = spawn_app().await;
    app.signed_up_verified("Ada", "ada@example.com").await;
    diesel::sql_query("UPDATE users SET passkey_count = 1 WHERE email = 'ada@example.com'")
        .execute(&mut app.conn())
        .unwrap();
    let page = app.get("/account/two-factor").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("one of your <a href=\"/account/passkeys\">passkeys</a>"),
        "{}",
        page.body
    );
    assert!(
        !page
            .body
            .contains("a code from your authenticator app. You have")
    );
    let started = app
        .post_form("/account/two-factor", "/account/two-factor/setup", &[])
        .await;
    assert_eq!(started.status, 303, "{}", started.body);
    let setting_up = app.get("/account/two-factor").await;
    assert!(
        setting_up.body.contains("id=\"totp-secret\""),
        "{}",
        setting_up.body
    );
}

/// A stolen session alone cannot change how the account signs in: turning on an authenticator
/// app, adding a passkey and removing one each take the password (typed, or re-entered within
/// the session's window); and nobody adds one to an address they have not verified, so a person
/// who signs up with someone else's address cannot keep a way in after its owner resets the
/// password.
#[actix_web::test]
async fn a_session_alone_cannot_change_how_the_account_signs_in() {
    let app = spawn_app_with(Options {
        localhost: true,
        ..Options::default()
    })
    .await;
    app.signed_up_verified("Ada", "ada@example.com").await;

    // An authenticator app: started, but not turned on without the password.
    app.post_form("/account/two-factor", "/account/two-factor/setup", &[])
        .await;
    let secret = secret_on(&app.get("/account/two-factor").await.body);
    let refused = app
        .post_form(
            "/account/two-factor",
            "/account/two-factor/confirm",
            &[("code", &code(&secret, now()))],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused
            .body
            .contains("Enter your password to change how you sign in.")
    );
    let wrong = app
        .post_form(
            "/account/two-factor",
            "/account/two-factor/confirm",
            &[
                ("code", &code(&secret, now())),
                ("password", "not-the-password-9"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 422);
    assert!(wrong.body.contains("That password is not correct"));
    assert_eq!(app.audit_count("user.password_reentry_failed", "denied"), 1);
    let user = gatehouse::db::users::find_by_email(&mut app.conn(), "ada@example.com")
        .unwrap()
        .unwrap();
    assert!(!user.has_totp(), "still off");
    // Nor through another form that takes a code: the waiting secret is matched for enrolment
    // only.
    let regenerated = app
        .post_form(
            "/account/two-factor",
            "/account/two-factor/recovery-codes",
            &[("regenerate_code", &code(&secret, now()))],
        )
        .await;
    assert_eq!(regenerated.status, 422, "{}", regenerated.body);
    let user = gatehouse::db::users::find_by_email(&mut app.conn(), "ada@example.com")
        .unwrap()
        .unwrap();
    assert!(
        !user.has_totp(),
        "still off after new recovery codes were asked for"
    );

    // A passkey: no options without the password, so no ceremony to finish.
    let page = app.get("/account/passkeys").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let token = crate::support::csrf_token(&page.body);
    let options = |c: &reqwest::Client, token: String, body: String| {
        let c = c.clone();
        let app = &app;
        async move { script_post(app, &c, "/account/passkeys/options", Some(&token), &body).await }
    };
    let (status, body) = options(&app.client, token.clone(), "{}".into()).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("Enter your password"), "{body}");

    // Removing one: refused without the password, and the passkey stays.
    let id = passkey_row(&app, "ada@example.com");
    let delete = format!("/account/passkeys/{id}/delete");
    let kept = app.post_form("/account/passkeys", &delete, &[]).await;
    assert_eq!(kept.status, 422);
    assert!(
        kept.body.contains(&format!("id=\"password-{id}-error\"")),
        "beside the field"
    );
    let count = || {
        diesel::dsl::sql::<diesel::sql_types::BigInt>("SELECT count(*) FROM passkeys")
            .get_result::<i64>(&mut app.conn())
            .unwrap()
    };
    assert_eq!(count(), 1);
    // With it, the change goes through, and the password stays fresh for a while.
    let removed = app
        .post_form("/account/passkeys", &delete, &[("password", PASSWORD)])
        .await;
    assert_eq!(removed.status, 303, "{}", removed.body);
    assert_eq!(count(), 0);
    let (status, body) = options(&app.client, token, "{}".into()).await;
    assert_eq!(status, 200, "within the re-entry window: {body}");

    // An address never verified: nothing to set up, whatever the password.
    let squatter = client(&app.address);
    app.sign_up(&squatter, "Not Bea", "bea@example.com").await;
    let setup = app
        .post_form_with(
            &squatter,
            "/account/two-factor",
            "/account/two-factor/setup",
            &[],
        )
        .await;
    assert_eq!(setup.status, 303);
    let page = app.get_with(&squatter, "/account/two-factor").await;
    assert!(
        page.body.contains("Verify your email address first"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("id=\"totp-secret\""));
    let page = app.get_with(&squatter, "/account/passkeys").await;
    let token = crate::support::csrf_token(&page.body);
    let with_password = format!("{{\"password\": \"{PASSWORD}\"}}");
    let (status, body) = options(&squatter, token, with_password).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("Verify your email address first"), "{body}");
}

/// A passkey row for the account of `email`, as webauthn-rs would leave it as far as renaming
/// and removing one need (no real credential); its id.
pub fn passkey_row(app: &TestApp, email: &str) -> i64 {
    diesel::sql_query(
        "WITH added AS (INSERT INTO passkeys (user_id, name, credential_id, credential)
             SELECT id, 'Laptop', '\\x01', '{}' FROM users WHERE email = $1 RETURNING id, user_id),
         counted AS (UPDATE users SET passkey_count = 1 WHERE id IN (SELECT user_id FROM added))
         SELECT id FROM added",
    )
    .bind::<diesel::sql_types::Text, _>(email)
    .get_result::<PasskeyId>(&mut app.conn())
    .unwrap()
    .id
}

#[derive(diesel::QueryableByName)]
struct PasskeyId {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}
