//! Browser journeys in headless Chromium, each page checked by axe-core and the Nu Html Checker.

use diesel::RunQueryDsl;

use crate::support::browser::Browser;
use crate::support::{PASSWORD, spawn_app};

#[actix_web::test]
async fn a_person_signs_up_verifies_creates_two_organizations_and_switches() {
    let app = spawn_app().await;
    let Some(mut browser) =
        Browser::start("sign up, verify, create two organizations, switch").await
    else {
        return;
    };

    browser.goto(&app.url("/")).await;
    browser.click("a[href=\"/signup\"].button").await;
    browser
        .submit(
            &[
                ("name", "Ada Lovelace"),
                ("email", "ada@example.com"),
                ("password", PASSWORD),
            ],
            "form[action=\"/signup\"] button",
        )
        .await;
    assert!(browser.text().await.contains("Check your email"));

    let mail = app
        .mail
        .wait_for("ada@example.com", "Verify your email")
        .await;
    // The link verifies the account that signed up, signed in: sign in, and back to it.
    browser.goto(&mail.link(&app.address).expect("link")).await;
    assert!(
        browser
            .text()
            .await
            .contains("Sign in to verify your email")
    );
    browser.click("a.button[href^=\"/signin?next=\"]").await;
    browser
        .submit(
            &[("email", "ada@example.com"), ("password", PASSWORD)],
            "form[action^=\"/signin\"] button",
        )
        .await;
    assert!(browser.text().await.contains("Your email is verified"));
    browser.click("a.button[href=\"/orgs\"]").await;
    assert_eq!(browser.path().await, "/orgs");
    // A missing page keeps the signed-in frame (and is checked like every page).
    browser.goto(&app.url("/orgs/no-such-organization")).await;
    assert!(browser.text().await.contains("Sign out"));
    browser.goto(&app.url("/orgs")).await;

    browser.click("a.button[href=\"/orgs/new\"]").await;
    browser
        .submit(&[("name", "")], "form[action=\"/orgs/new\"] button")
        .await;
    assert!(
        browser
            .text()
            .await
            .contains("Enter a name for the organization."),
        "error beside the field"
    );
    browser
        .submit(
            &[("name", "Acme Health")],
            "form[action=\"/orgs/new\"] button",
        )
        .await;
    assert_eq!(browser.path().await, "/orgs/acme-health");
    let text = browser.text().await;
    for env in ["Development", "Staging", "Production"] {
        assert!(text.contains(env), "{env} shown");
    }
    // The environment selector enters the environment at once.
    browser
        .click("nav.env-selector a[href=\"/orgs/acme-health/env/staging\"]")
        .await;
    assert_eq!(browser.path().await, "/orgs/acme-health/env/staging");
    browser.goto(&app.url("/orgs/acme-health")).await;

    browser
        .click("a.button.secondary[href=\"/orgs/acme-health/settings\"]")
        .await;
    browser.goto(&app.url("/orgs/new")).await;
    browser
        .submit(
            &[("name", "Beta Labs")],
            "form[action=\"/orgs/new\"] button",
        )
        .await;
    assert_eq!(browser.path().await, "/orgs/beta-labs");

    // Switch through the organization switcher in the navigation (works without JavaScript).
    browser.click("details.switcher summary").await;
    browser
        .click("details.switcher a[href=\"/orgs/acme-health\"]")
        .await;
    assert_eq!(browser.path().await, "/orgs/acme-health");
    assert!(browser.text().await.contains("Acme Health"));
    browser.goto(&app.url("/orgs")).await;
    let list = browser.text().await;
    assert!(list.contains("Acme Health") && list.contains("Beta Labs"));
    browser.goto(&app.url("/account/password")).await;
    browser.goto(&app.url("/account/sessions")).await;
    assert!(browser.text().await.contains("this session"));
    browser.goto(&app.url("/password/forgot")).await;

    for page in [
        "/orgs",
        "/orgs/acme-health",
        "/orgs/new",
        "/orgs/acme-health/settings",
    ] {
        browser.assert_fits(&app.url(page), 375).await;
    }
    browser.finish().await;
}

#[actix_web::test]
async fn the_sign_in_reset_and_error_pages_pass_the_checkers() {
    let app = spawn_app().await;
    let Some(mut browser) = Browser::start("sign-in, errors, reset").await else {
        return;
    };
    browser.goto(&app.url("/signin")).await;
    browser
        .submit(
            &[
                ("email", "nobody@example.com"),
                ("password", "whatever-it-is-1"),
            ],
            "form[action=\"/signin\"] button",
        )
        .await;
    assert!(
        browser
            .text()
            .await
            .contains("Email or password is incorrect.")
    );
    browser.goto(&app.url("/password/reset?token=nope")).await;
    browser.goto(&app.url("/verify-email?token=nope")).await;
    browser.goto(&app.url("/no-such-page")).await;
    browser.goto(&app.url("/signup")).await;
    browser
        .submit(
            &[("name", ""), ("email", "bad"), ("password", "short")],
            "form[action=\"/signup\"] button",
        )
        .await;
    assert!(browser.text().await.contains("Use at least 10 characters."));
    browser.finish().await;
}

#[actix_web::test]
async fn an_owner_invites_two_people_one_joins_and_the_other_is_revoked() {
    let app = spawn_app().await;
    app.signed_up_verified("Olivia Owner", "owner@example.com")
        .await;
    let slug = app.create_org("Acme").await;
    let Some(mut browser) = Browser::start("invite two, one joins, one revoked").await else {
        return;
    };

    browser.goto(&app.url("/signin")).await;
    browser
        .submit(
            &[("email", "owner@example.com"), ("password", PASSWORD)],
            "form[action=\"/signin\"] button",
        )
        .await;
    browser.goto(&app.url(&format!("/orgs/{slug}"))).await;
    browser
        .click(&format!("a[href=\"/orgs/{slug}/access/users\"]"))
        .await;
    browser
        .click(&format!(
            "a.button[href=\"/orgs/{slug}/access/invitations/new\"]"
        ))
        .await;
    browser.select("staging", "viewer").await;
    browser
        .submit(
            &[("emails", "first@example.com\nsecond@example.com")],
            "form[action$=\"/access/invitations/new\"] button",
        )
        .await;
    assert_eq!(
        browser.path().await,
        format!("/orgs/{slug}/access/invitations")
    );
    let list = browser.text().await;
    assert!(list.contains("first@example.com") && list.contains("second@example.com"));

    // The first person follows the emailed link; the browser is still the owner's, so it offers
    // to sign out and continue.
    let first = app.invitation_path("first@example.com").await;
    browser.goto(&app.url(&first)).await;
    assert!(
        browser
            .text()
            .await
            .contains("This invitation is for another account")
    );
    browser
        .click(&format!("form[action=\"{first}/switch\"] button"))
        .await;
    assert!(browser.text().await.contains("Join Acme"));
    browser
        .submit(
            &[
                ("name", "Fiona First"),
                ("password", "granite-meadow-lantern-42"),
            ],
            &format!("form[action=\"{first}/signup\"] button"),
        )
        .await;
    assert_eq!(browser.path().await, format!("/orgs/{slug}"));
    let home = browser.text().await;
    assert!(home.contains("Enter an environment") && home.contains("viewer"));
    browser.click("form[action=\"/signout\"] button").await;

    browser
        .submit(
            &[("email", "owner@example.com"), ("password", PASSWORD)],
            "form[action=\"/signin\"] button",
        )
        .await;
    browser
        .goto(&app.url(&format!("/orgs/{slug}/access/users")))
        .await;
    assert!(
        browser.text().await.contains("first@example.com"),
        "the new member is listed"
    );
    browser
        .goto(&app.url(&format!("/orgs/{slug}/access/invitations")))
        .await;
    browser.click("form[action$=\"/revoke\"] button").await;
    assert!(browser.text().await.contains("revoked"));
    browser
        .goto(&app.url(&format!("/orgs/{slug}/access/roles")))
        .await;

    let second = app.invitation_path("second@example.com").await;
    browser.click("form[action=\"/signout\"] button").await;
    browser.goto(&app.url(&second)).await;
    assert!(
        browser
            .text()
            .await
            .contains("This invitation was revoked.")
    );
    assert!(
        browser
            .text()
            .await
            .contains("Ask an owner or admin of Acme to send a new invitation.")
    );
    browser.finish().await;
}

#[actix_web::test]
async fn an_owner_grants_staging_and_production_and_the_member_feels_exactly_that() {
    let app = spawn_app().await;
    app.signed_up_verified("Olivia Owner", "owner@example.com")
        .await;
    let slug = app.create_org("Acme").await;
    let mia = crate::support::client(&app.address);
    app.sign_up(&mia, "Mia Member", "mia@example.com").await;
    crate::support::add_member(&app, &slug, "mia@example.com", "member", &[]);
    diesel::sql_query(
        "INSERT INTO config_values (environment_id, organization_id, key, value, secret)
         SELECT e.id, e.organization_id, 'REGION', 'eu-west-1', false FROM environments e JOIN organizations o ON o.id = e.organization_id
         WHERE o.slug = $1 AND e.kind IN ('staging', 'production')",
    )
    .bind::<diesel::sql_types::Text, _>(&slug)
    .execute(&mut app.conn())
    .unwrap();
    let mia_id = app.user_id("mia@example.com");
    let Some(mut browser) = Browser::start("grant staging support and production viewer").await
    else {
        return;
    };

    browser.goto(&app.url("/signin")).await;
    browser
        .submit(
            &[("email", "owner@example.com"), ("password", PASSWORD)],
            "form[action=\"/signin\"] button",
        )
        .await;
    browser
        .goto(&app.url(&format!("/orgs/{slug}/access/users")))
        .await;
    browser
        .click(&format!(
            "a[href=\"/orgs/{slug}/access/users/{mia_id}/roles\"]"
        ))
        .await;
    browser.select("staging", "support").await;
    browser.select("production", "viewer").await;
    browser
        .click("form[action$=\"/roles\"] button[type=submit]")
        .await;
    let preview = browser.text().await;
    assert!(preview.contains("Mia Member gains"), "{preview}");
    assert!(preview.contains("Production: Enter the environment"));
    browser
        .submit(
            &[("password", PASSWORD)],
            "form[action$=\"/roles\"] button[type=submit]",
        )
        .await;
    assert!(browser.text().await.contains("Roles of Mia Member saved"));
    browser
        .goto(&app.url(&format!("/orgs/{slug}/access/environments")))
        .await;
    browser
        .goto(&app.url(&format!("/orgs/{slug}/access/environments/production")))
        .await;
    assert!(browser.text().await.contains("mia@example.com"));
    browser
        .goto(&app.url(&format!("/orgs/{slug}/access/grid")))
        .await;
    browser.click("form[action=\"/signout\"] button").await;

    browser
        .submit(
            &[("email", "mia@example.com"), ("password", PASSWORD)],
            "form[action=\"/signin\"] button",
        )
        .await;
    browser.goto(&app.url(&format!("/orgs/{slug}"))).await;
    let home = browser.text().await;
    assert!(home.contains("Staging") && home.contains("Production"));
    let selector: Vec<String> = {
        let links = browser
            .client
            .find_all(fantoccini::Locator::Css("nav.env-selector a"))
            .await
            .unwrap();
        let mut names = Vec::new();
        for l in links {
            names.push(l.text().await.unwrap());
        }
        names
    };
    assert_eq!(
        selector,
        ["Staging", "Production"],
        "exactly the two environments"
    );
    browser
        .click(&format!(
            "nav.env-selector a[href=\"/orgs/{slug}/env/staging\"]"
        ))
        .await;
    browser.click("details.inline-edit summary").await;
    browser
        .submit(
            &[("value", "eu-central-1")],
            "details.inline-edit form button",
        )
        .await;
    assert!(
        browser.text().await.contains("eu-central-1"),
        "support edits staging"
    );
    browser
        .click(&format!(
            "nav.env-selector a[href=\"/orgs/{slug}/env/production\"]"
        ))
        .await;
    let prod = browser.text().await;
    assert!(
        prod.contains("eu-west-1") && prod.contains("Viewers can read values"),
        "production is read-only"
    );
    assert!(
        browser
            .client
            .find(fantoccini::Locator::Css("form[action$=\"/config\"]"))
            .await
            .is_err(),
        "no form to add values"
    );
    browser
        .goto(&app.url(&format!("/orgs/{slug}/env/development")))
        .await;
    assert!(
        browser.text().await.contains("Not allowed"),
        "no role in development: no entry"
    );
    browser.finish().await;
}

#[actix_web::test]
async fn organizations_are_deleted_by_owners_before_go_live_and_by_operators_after() {
    let app = spawn_app().await;
    app.signed_up_verified("Olivia Owner", "owner@example.com")
        .await;
    let sandbox = app.create_org("Sandbox Co").await;
    let live = app.create_org("Live Co").await;
    let oscar = crate::support::client(&app.address);
    app.account(&oscar, "Oscar Operator", "oscar@example.com")
        .await;
    diesel::sql_query("UPDATE users SET is_operator = true WHERE email = 'oscar@example.com'")
        .execute(&mut app.conn())
        .unwrap();
    let Some(mut browser) =
        Browser::start("delete before go-live, go-live, operator deletes").await
    else {
        return;
    };

    browser.goto(&app.url("/signin")).await;
    browser
        .submit(
            &[("email", "owner@example.com"), ("password", PASSWORD)],
            "form[action=\"/signin\"] button",
        )
        .await;
    browser
        .goto(&app.url(&format!("/orgs/{sandbox}/settings")))
        .await;
    browser
        .click(&format!("a[href=\"/orgs/{sandbox}/delete\"]"))
        .await;
    browser
        .submit(
            &[("name", "Sandbox Co")],
            &format!("form[action=\"/orgs/{sandbox}/delete\"] button"),
        )
        .await;
    assert_eq!(browser.path().await, "/orgs");
    assert!(browser.text().await.contains("Sandbox Co was deleted"));
    browser.click("form[action=\"/signout\"] button").await;

    browser
        .submit(
            &[("email", "oscar@example.com"), ("password", PASSWORD)],
            "form[action=\"/signin\"] button",
        )
        .await;
    browser.click("a[href=\"/operator\"]").await;
    browser
        .submit(&[("q", "live")], "form[action=\"/operator\"] button")
        .await;
    let live_id: i64 = {
        use diesel::prelude::*;
        use gatehouse::db::schema::organizations::dsl as o;
        o::organizations
            .filter(o::slug.eq(&live))
            .select(o::id)
            .first(&mut app.conn())
            .unwrap()
    };
    browser
        .click(&format!("a[href=\"/operator/orgs/{live_id}\"]"))
        .await;
    browser
        .submit(
            &[("name", "Live Co")],
            &format!("form[action=\"/operator/orgs/{live_id}/live\"] button"),
        )
        .await;
    assert!(browser.text().await.contains("Live Co is live."));
    browser.click("form[action=\"/signout\"] button").await;

    browser
        .submit(
            &[("email", "owner@example.com"), ("password", PASSWORD)],
            "form[action=\"/signin\"] button",
        )
        .await;
    browser
        .goto(&app.url(&format!("/orgs/{live}/settings")))
        .await;
    assert!(
        browser
            .text()
            .await
            .contains("Live organizations can only be deleted by a platform operator")
    );
    browser.goto(&app.url(&format!("/orgs/{live}/audit"))).await;
    let audit = browser.text().await;
    assert!(audit.contains("organization.went_live") && audit.contains("organization.created"));
    browser
        .goto(&app.url(&format!("/orgs/{live}/audit?action=organization.went_live")))
        .await;
    assert!(browser.text().await.contains("1 event"));
    browser.click("form[action=\"/signout\"] button").await;

    browser
        .submit(
            &[("email", "oscar@example.com"), ("password", PASSWORD)],
            "form[action=\"/signin\"] button",
        )
        .await;
    browser
        .goto(&app.url(&format!("/operator/orgs/{live_id}")))
        .await;
    browser
        .submit(
            &[("name", "Live Co")],
            &format!("form[action=\"/operator/orgs/{live_id}/delete\"] button"),
        )
        .await;
    assert_eq!(browser.path().await, "/operator");
    assert!(browser.text().await.contains("Live Co was deleted"));

    let steps: Vec<(String, String, String)> = {
        use diesel::prelude::*;
        use gatehouse::db::schema::audit_events::dsl as a;
        a::audit_events
            .filter(a::action.like("organization.%"))
            .order(a::id)
            .select((
                a::organization_name.assume_not_null(),
                a::action,
                a::actor_kind,
            ))
            .load(&mut app.conn())
            .unwrap()
    };
    let steps: Vec<(&str, &str, &str)> = steps
        .iter()
        .map(|(o, a, k)| (o.as_str(), a.as_str(), k.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            ("Sandbox Co", "organization.created", "user"),
            ("Live Co", "organization.created", "user"),
            ("Sandbox Co", "organization.deleted", "user"),
            ("Live Co", "organization.went_live", "operator"),
            ("Live Co", "organization.deleted", "operator"),
        ],
        "the audit log shows each step"
    );
    browser.finish().await;
}

/// The long lists read well at every width: no word broken mid-way at 1280 or 768 px, and at
/// 375 px one card per row instead of single-letter columns, with no sideways scrolling.
/// Screenshots land in target/screenshots for people to look at.
#[actix_web::test]
async fn the_long_lists_read_well_on_a_phone_a_tablet_and_a_desktop() {
    let app = spawn_app().await;
    let Some(mut browser) = Browser::start("lists at 375, 768 and 1280 px").await else {
        return;
    };
    app.create_account_verified("Olivia Owner", "owner@example.com");
    let slug = "acme-health";
    {
        use gatehouse::domain::OrgName;
        let owner = gatehouse::db::users::find_by_email(&mut app.conn(), "owner@example.com")
            .unwrap()
            .unwrap();
        let actor = gatehouse::audit::Actor::User {
            id: owner.id,
            email: owner.email.clone(),
        };
        let name = OrgName::parse("Acme Health").unwrap();
        gatehouse::db::orgs::create(
            &mut app.conn(),
            &actor,
            owner.id,
            &name,
            400,
            &Default::default(),
        )
        .unwrap();
    }
    for (name, email, role) in [
        (
            "Mia Member",
            "mia.with.a.rather.long.address@subdomain.example.com",
            "member",
        ),
        ("Adam Admin", "adam@example.com", "admin"),
    ] {
        app.create_account_verified(name, email);
        crate::support::add_member(&app, slug, email, role, &[("staging", "engineer")]);
    }
    browser.goto(&app.url("/signin")).await;
    browser
        .submit(
            &[("email", "owner@example.com"), ("password", PASSWORD)],
            "form[action^=\"/signin\"] button",
        )
        .await;
    browser
        .goto(&app.url(&format!("/orgs/{slug}/access/invitations/new")))
        .await;
    browser
        .submit(
            &[("emails", "pat.invited.person@example.com")],
            "form[action$=\"/invitations/new\"] button[type=submit]",
        )
        .await;
    for width in [1280, 768, 375] {
        for (page, name) in [
            (format!("/orgs/{slug}/access/users"), "users"),
            (format!("/orgs/{slug}/access/invitations"), "invitations"),
            (format!("/orgs/{slug}/audit"), "audit"),
        ] {
            browser.assert_fits(&app.url(&page), width).await;
            let narrowest = browser.narrowest_cell().await;
            assert!(
                narrowest >= 56.0,
                "{page} at {width} px has a column {narrowest} px wide"
            );
            // Tables keep their words whole wherever they are tables; the phone's cards break
            // only a word wider than the card.
            let broken = browser.broken_words(width > 640).await;
            assert!(
                broken.is_empty(),
                "{page} at {width} px breaks words mid-way: {broken:?}"
            );
            browser.screenshot(&format!("{name}-{width}")).await;
        }
    }
    browser.finish().await;
}

/// Signs in through the sign-in page of `site`; returns where it landed.
async fn sign_in(browser: &mut Browser, site: &str, email: &str) -> String {
    browser.goto(&format!("{site}/signin")).await;
    browser
        .submit(
            &[("email", email), ("password", PASSWORD)],
            "form[action=\"/signin\"] button",
        )
        .await;
    browser.path().await
}

async fn sign_out(browser: &mut Browser) {
    browser.click("form[action=\"/signout\"] button").await;
}

/// What a change to how the account signs in says without the password.
const ASKS_FOR_PASSWORD: &str = "Enter your password to change how you sign in.";

/// Sets up two-factor from the account page, reading the secret off the page like a person
/// typing it into an app; returns the secret, the recovery codes and the time of the code used.
async fn enrol(browser: &mut Browser, app: &crate::support::TestApp) -> (String, Vec<String>, u64) {
    browser.goto(&app.url("/account")).await;
    browser.click("a[href=\"/account/two-factor\"]").await;
    browser
        .click("form[action=\"/account/two-factor/setup\"] button")
        .await;
    let secret = browser.text_of("#totp-secret").await;
    // A wrong code first: the message beside the field.
    // Turning it on takes the password: without it, a message beside the field.
    browser
        .submit(
            &[("code", "000000")],
            "form[action=\"/account/two-factor/confirm\"] button",
        )
        .await;
    assert!(browser.text().await.contains(ASKS_FOR_PASSWORD));
    // With it, a wrong code: the message beside the code (the password stays fresh for the
    // next try).
    browser
        .submit(
            &[("code", "000000"), ("password", PASSWORD)],
            "form[action=\"/account/two-factor/confirm\"] button",
        )
        .await;
    assert!(browser.text().await.contains("That code is not correct"));
    let at = crate::two_factor::now();
    let code = crate::two_factor::code(&secret, at);
    browser
        .submit(
            &[("code", &code)],
            "form[action=\"/account/two-factor/confirm\"] button",
        )
        .await;
    let codes: Vec<String> = browser
        .text_of(".recovery-codes")
        .await
        .split_whitespace()
        .map(str::to_string)
        .collect();
    assert_eq!(codes.len(), 10, "{codes:?}");
    (secret, codes, at)
}

#[actix_web::test]
async fn two_factor_sign_in_recovery_codes_and_the_organization_policy() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    app.create_account_verified("Mia Member", "mia@example.com");
    crate::support::add_member(&app, &slug, "mia@example.com", "member", &[]);
    let Some(mut browser) = Browser::start("two-factor").await else {
        return;
    };
    assert!(
        !sign_in(&mut browser, &app.address, "owner@example.com")
            .await
            .starts_with("/signin")
    );
    let (secret, codes, at) = enrol(&mut browser, &app).await;

    // Sign out and back in: the password, then a code.
    sign_out(&mut browser).await;
    assert_eq!(
        sign_in(&mut browser, &app.address, "owner@example.com").await,
        "/signin/two-factor"
    );
    let next = crate::two_factor::code(&secret, at + 30);
    browser
        .submit(
            &[("code", &next)],
            "form[action=\"/signin/two-factor\"] button",
        )
        .await;
    assert!(!browser.path().await.starts_with("/signin"));

    // A recovery code works once.
    for attempt in 0..2 {
        sign_out(&mut browser).await;
        sign_in(&mut browser, &app.address, "owner@example.com").await;
        browser
            .submit(
                &[("code", &codes[0])],
                "form[action=\"/signin/two-factor\"] button",
            )
            .await;
        if attempt == 0 {
            assert!(browser.text().await.contains("9 left"));
        } else {
            assert_eq!(browser.path().await, "/signin/two-factor");
            assert!(browser.text().await.contains("was already used"));
        }
    }
    browser
        .submit(
            &[("code", &codes[1])],
            "form[action=\"/signin/two-factor\"] button",
        )
        .await;

    // Another session of the owner is revoked from the sessions page and signed out at once.
    let laptop = crate::support::client(&app.address);
    app.sign_in(&laptop, "owner@example.com", PASSWORD).await;
    crate::two_factor::second_step(&app, &laptop, &codes[2]).await;
    assert_eq!(app.get_with(&laptop, "/orgs").await.status, 200);
    browser.goto(&app.url("/account/sessions")).await;
    browser.click("form[action$=\"/revoke\"] button").await;
    assert_eq!(app.get_with(&laptop, "/orgs").await.status, 303);

    // The organization requires two-factor; Mia has none and is shown what to do.
    browser
        .goto(&app.url(&format!("/orgs/{slug}/settings")))
        .await;
    assert!(
        browser
            .text()
            .await
            .contains("1 member has not set it up yet")
    );
    browser
        .click(&format!(
            "form[action=\"/orgs/{slug}/settings/two-factor\"] button"
        ))
        .await;
    assert!(browser.text().await.contains("now required"));
    browser
        .goto(&app.url(&format!("/orgs/{slug}/access/users")))
        .await;
    assert!(browser.text().await.contains("no two-factor"));
    sign_out(&mut browser).await;
    sign_in(&mut browser, &app.address, "mia@example.com").await;
    browser.goto(&app.url(&format!("/orgs/{slug}"))).await;
    assert!(browser.text().await.contains("requires two-factor sign-in"));
    enrol(&mut browser, &app).await;
    browser.goto(&app.url(&format!("/orgs/{slug}"))).await;
    assert!(!browser.text().await.contains("requires two-factor sign-in"));
    browser.goto(&app.url("/account")).await;
    browser.assert_fits(&app.url("/account"), 375).await;
    browser
        .assert_fits(&app.url("/account/two-factor"), 375)
        .await;
    browser.finish().await;
}

#[actix_web::test]
async fn passkeys_are_added_named_and_removed_and_sign_in_alone_or_as_the_second_step() {
    let app = crate::support::spawn_app_with(crate::support::Options {
        localhost: true,
        ..crate::support::Options::default()
    })
    .await;
    app.create_account_verified("Pia Passkey", "pia@example.com");
    let Some(mut browser) = Browser::start("passkeys").await else {
        return;
    };
    browser.add_virtual_authenticator().await;
    let site = app.settings.base_url.clone();
    let at = |path: &str| format!("{site}{path}");

    sign_in(&mut browser, &site, "pia@example.com").await;
    browser.goto(&at("/account")).await;
    browser.click("a[href=\"/account/passkeys\"]").await;
    browser
        .fill(&[
            ("passkey_name", "Work laptop"),
            ("passkey_password", PASSWORD),
        ])
        .await;
    browser
        .press("form[data-passkey=\"register\"] button[type=\"submit\"]")
        .await;
    browser
        .wait_for_text("The passkey “Work laptop” was added.")
        .await;
    assert_eq!(app.audit_count("user.passkey_added", "successful"), 1);

    // Renamed, without JavaScript's help.
    browser
        .submit(
            &[("name", "Home laptop")],
            "form[action$=\"/rename\"] button",
        )
        .await;
    assert!(browser.text().await.contains("now called “Home laptop”"));

    // Signed out, then in with the passkey alone.
    browser.click("form[action=\"/signout\"] button").await;
    browser.goto(&at("/signin")).await;
    browser.press("[data-passkey=\"signin\"] button").await;
    browser.wait_for_text("Pia Passkey").await;
    assert!(!browser.path().await.starts_with("/signin"));
    let via: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "SELECT count(*) FROM audit_events WHERE action = 'user.signed_in' AND details->>'via' = 'passkey'",
    )
    .get_result(&mut app.conn())
    .unwrap();
    assert_eq!(via, 1);

    // With a passkey, the password alone no longer signs in: the passkey is the second step.
    sign_out(&mut browser).await;
    assert_eq!(
        sign_in(&mut browser, &site, "pia@example.com").await,
        "/signin/two-factor"
    );
    browser.press("[data-passkey=\"second-step\"] button").await;
    browser.wait_for_text("Pia Passkey").await;
    assert!(!browser.path().await.starts_with("/signin"));

    // Removed (which takes the password: a stolen session alone cannot take a way in away),
    // the account is back to its password alone.
    browser.goto(&at("/account/passkeys")).await;
    browser.click("form[action$=\"/delete\"] button").await;
    assert!(browser.text().await.contains(ASKS_FOR_PASSWORD));
    browser
        .submit(
            &[("password", PASSWORD)],
            "form[action$=\"/delete\"] button",
        )
        .await;
    assert!(browser.text().await.contains("was removed"));
    assert_eq!(app.audit_count("user.passkey_removed", "successful"), 1);
    assert_eq!(app.audit_count("user.passkey_renamed", "successful"), 1);
    browser.assert_fits(&at("/account/passkeys"), 375).await;
    browser.finish().await;
}
