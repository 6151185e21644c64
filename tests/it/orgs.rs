//! Organizations: creation, environments, the list and switcher, roles, and the limit.

use diesel::prelude::*;

use crate::support::{
    Options, TestApp, add_member, client, env_id, memberships_of, org_id, seed_memberships,
    spawn_app, spawn_app_with,
};

/// Ada's organization `name`, with Bob as its admin and support in staging; its slug.
async fn org_with_bob_admin(app: &TestApp, name: &str) -> String {
    app.signed_up_verified("Ada", "ada@example.com").await;
    let slug = app.create_org(name).await;
    app.create_account_verified("Bob", "bob@example.com");
    add_member(
        app,
        &slug,
        "bob@example.com",
        "admin",
        &[("staging", "support")],
    );
    slug
}

/// Adds `n` accounts after everyone else: Person 1 (person1@example.com) to Person `n`.
fn add_people(conn: &mut diesel::PgConnection, n: i32) {
    diesel::sql_query(
        "INSERT INTO users (name, email, password_hash)
         SELECT 'Person ' || g, 'person' || g || '@example.com', 'x'
         FROM generate_series(1, $1) g",
    )
    .bind::<diesel::sql_types::Integer, _>(n)
    .execute(conn)
    .unwrap();
}

/// How many entries of the users' indexes and rows of sequential scans of `users` this
/// transaction has read so far (the backend's counts not yet reported): taken before and after,
/// the reads in between alone, whichever plan made them.
fn users_read(c: &mut diesel::PgConnection) -> diesel::QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Entries {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        read: i64,
    }
    diesel::sql_query(
        "SELECT (pg_stat_get_xact_tuples_returned('users'::regclass)
                 + (SELECT sum(pg_stat_get_xact_tuples_returned(indexrelid)) FROM pg_index
                    WHERE indrelid = 'users'::regclass))::bigint AS read",
    )
    .get_result::<Entries>(c)
    .map(|e| e.read)
}

/// Stores a session of `user` whose key hashes to `hash`; the lifetimes to read it with.
fn store_session(app: &TestApp, hash: [u8; 32], user: i64) -> gatehouse::db::sessions::Lifetimes {
    diesel::sql_query(
        "INSERT INTO sessions (key_hash, user_id, state, expires_at, sid)
         VALUES ($1, $2, jsonb_build_object('user_id', $2::text), now() + interval '1 hour',
                 encode($1, 'hex'))",
    )
    .bind::<diesel::sql_types::Bytea, _>(hash.to_vec())
    .bind::<diesel::sql_types::BigInt, _>(user)
    .execute(&mut app.conn())
    .unwrap();
    gatehouse::db::sessions::Lifetimes {
        idle: chrono::Duration::hours(1),
        max: chrono::Duration::hours(2),
    }
}

#[actix_web::test]
async fn unverified_users_cannot_create_organizations() {
    let app = spawn_app().await;
    app.sign_up(&app.client, "Ada", "ada@example.com").await;
    let r = app
        .post_form("/orgs/new", "/orgs/new", &[("name", "Acme")])
        .await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("Verify your email to create organizations"));
    assert_eq!(memberships_of(&app, app.user_id("ada@example.com")), 0);
    // Nothing offers what would be refused: the form, the list and the switcher offer to
    // resend the link instead.
    for page in ["/orgs/new", "/orgs"] {
        let body = app.get(page).await.body;
        assert!(
            !body.contains("action=\"/orgs/new\""),
            "{page} offers the form"
        );
        assert!(
            !body.contains("href=\"/orgs/new\""),
            "{page} links to the form"
        );
        assert!(
            body.contains("action=\"/verify-email/resend\""),
            "{page}: no resend"
        );
        assert!(body.contains("Verify your email"), "{page}");
    }
}

#[actix_web::test]
async fn creating_an_organization_makes_the_creator_owner_with_three_environments() {
    let app = spawn_app().await;
    app.signed_up_verified("Ada", "ada@example.com").await;
    let slug = app.create_org("Acme, Inc.").await;
    assert_eq!(slug, "acme-inc");

    let home = app.get(&format!("/orgs/{slug}")).await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("Acme, Inc."));
    assert!(home.body.contains("<strong>owner</strong>"));
    let dev = home
        .body
        .find("Development</a></td><td>engineer</td>")
        .expect("engineer in development");
    let staging = home
        .body
        .find("Staging</a></td><td>engineer</td>")
        .expect("engineer in staging");
    let prod = home
        .body
        .find("<td>Production</td><td><span class=\"muted\">no access</span>")
        .expect("no production role");
    assert!(
        dev < staging && staging < prod,
        "shown in the order development, staging, production"
    );
    assert!(
        home.body.contains("aria-label=\"Environment\""),
        "selector shown with two environments"
    );
    assert_eq!(app.audit_count("organization.created", "successful"), 1);
}

#[actix_web::test]
async fn slugs_stay_unique_and_names_are_checked() {
    let app = spawn_app().await;
    app.signed_up_verified("Ada", "ada@example.com").await;
    assert_eq!(app.create_org("Acme").await, "acme");
    assert_eq!(app.create_org("ACME").await, "acme-2");
    let r = app
        .post_form("/orgs/new", "/orgs/new", &[("name", &"x".repeat(101))])
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("at most 100 characters"));
    assert!(
        r.body.contains(&format!("value=\"{}\"", "x".repeat(101))),
        "value kept"
    );
}

#[actix_web::test]
async fn the_list_shows_my_organizations_with_my_role_and_switching_remembers_the_last() {
    let app = spawn_app().await;
    app.signed_up_verified("Ada", "ada@example.com").await;
    let first = app.create_org("First Org").await;
    let second = app.create_org("Second Org").await;
    let list = app.get("/orgs").await;
    assert!(list.body.contains("First Org") && list.body.contains("Second Org"));
    assert!(list.body.contains("<td>owner</td>"));
    let order = |body: &str| {
        let at = |name: &str| body.find(&format!(">{name}</a></td>")).expect(name);
        at("Second Org") < at("Zeta Org")
    };
    // Listed in name order; a renamed organization moves with its new name.
    diesel::sql_query("UPDATE organizations SET name = 'Zeta Org' WHERE slug = $1")
        .bind::<diesel::sql_types::Text, _>(&first)
        .execute(&mut app.conn())
        .unwrap();
    assert!(order(&app.get("/orgs").await.body));

    app.get(&format!("/orgs/{first}")).await;
    assert_eq!(
        app.get("/").await.location.as_deref(),
        Some(format!("/orgs/{first}").as_str())
    );
    let page = app.get(&format!("/orgs/{second}")).await;
    assert!(
        page.body
            .contains(&format!("href=\"/orgs/{second}\" aria-current=\"page\"")),
        "switcher marks the current one"
    );
    assert_eq!(
        app.get("/").await.location.as_deref(),
        Some(format!("/orgs/{second}").as_str())
    );
}

#[actix_web::test]
async fn non_members_get_404_and_members_get_403_for_owner_pages() {
    let app = spawn_app().await;
    app.signed_up_verified("Owner", "owner@example.com").await;
    let slug = app.create_org("Acme").await;

    let member = client(&app.address);
    app.account(&member, "Mia Member", "mia@example.com").await;
    assert_eq!(
        app.get_with(&member, &format!("/orgs/{slug}")).await.status,
        404,
        "not a member yet"
    );
    assert_eq!(
        app.get_with(&member, "/orgs/does-not-exist").await.status,
        404,
        "same answer as a missing one"
    );

    add_member(&app, &slug, "mia@example.com", "member", &[]);
    let home = app.get_with(&member, &format!("/orgs/{slug}")).await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains(
        "You don't have access to any environment in this organization yet. Ask an owner or admin."
    ));
    assert!(
        !home.body.contains("/settings"),
        "no settings link for members"
    );

    let settings = app
        .get_with(&member, &format!("/orgs/{slug}/settings"))
        .await;
    assert_eq!(settings.status, 403);
    let rename = app
        .post_form_with(
            &member,
            &format!("/orgs/{slug}"),
            &format!("/orgs/{slug}/settings"),
            &[("name", "Hijacked")],
        )
        .await;
    assert_eq!(rename.status, 403);
    assert_eq!(app.audit_count("permission.denied", "denied"), 2);
    assert!(
        app.get(&format!("/orgs/{slug}"))
            .await
            .body
            .contains("Acme")
    );
}

#[actix_web::test]
async fn the_environment_selector_enters_only_reachable_environments() {
    let app = spawn_app().await;
    app.signed_up_verified("Owner", "owner@example.com").await;
    let slug = app.create_org("Acme").await;
    let one = client(&app.address);
    app.account(&one, "Vic Viewer", "vic@example.com").await;
    add_member(
        &app,
        &slug,
        "vic@example.com",
        "member",
        &[("production", "viewer")],
    );
    // The one control on the page enters the environment; only the ones the person can enter.
    let page = app.get_with(&one, &format!("/orgs/{slug}")).await;
    let selector = page
        .body
        .split("aria-label=\"Environment\"")
        .nth(1)
        .and_then(|s| s.split("</nav>").next())
        .expect("the environment selector")
        .to_string();
    assert!(selector.contains(&format!("href=\"/orgs/{slug}/env/production\"")));
    assert!(!selector.contains("/env/staging") && !selector.contains("/env/development"));
    assert!(
        !page.body.contains("?env="),
        "no selector that only swaps a card"
    );

    // An old `?env=` link enters the environment, when the person can.
    let two = app.get(&format!("/orgs/{slug}?env=staging")).await;
    assert_eq!(two.status, 303);
    assert_eq!(
        two.location.as_deref(),
        Some(format!("/orgs/{slug}/env/staging").as_str())
    );
    let not_mine = app
        .get_with(&one, &format!("/orgs/{slug}?env=staging"))
        .await;
    assert_eq!(
        not_mine.status, 200,
        "an environment without access is not entered"
    );
}

#[actix_web::test]
async fn owners_rename_and_the_change_is_audited() {
    let app = spawn_app().await;
    app.signed_up_verified("Owner", "owner@example.com").await;
    let slug = app.create_org("Acme").await;
    let empty = app
        .post_form(
            &format!("/orgs/{slug}/settings"),
            &format!("/orgs/{slug}/settings"),
            &[("name", "  ")],
        )
        .await;
    assert_eq!(empty.status, 422);
    let r = app
        .post_form(
            &format!("/orgs/{slug}/settings"),
            &format!("/orgs/{slug}/settings"),
            &[("name", "Acme Health")],
        )
        .await;
    assert_eq!(r.status, 303);
    assert!(
        app.get(&format!("/orgs/{slug}"))
            .await
            .body
            .contains("Acme Health")
    );
    let events = gatehouse::db::audit::by_actor(
        &mut app.conn(),
        gatehouse::domain::ids::UserId(app.user_id("owner@example.com")),
        50,
    )
    .unwrap();
    let renamed = events
        .iter()
        .find(|e| e.action == gatehouse::audit::Action::OrganizationRenamed)
        .expect("audited");
    assert_eq!(renamed.details["before"]["name"], "Acme");
    assert_eq!(renamed.details["after"]["name"], "Acme Health");
    assert_eq!(renamed.organization_name.as_deref(), Some("Acme Health"));
}

#[actix_web::test]
async fn the_401st_organization_is_refused_with_the_limit_message_and_nothing_is_created() {
    let app = spawn_app().await;
    app.signed_up_verified("Ada", "ada@example.com").await;
    let id = app.user_id("ada@example.com");
    seed_memberships(&app, id, 400);
    let r = app
        .post_form("/orgs/new", "/orgs/new", &[("name", "One Too Many")])
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("You already belong to 400 organizations, the most allowed. Leave one before joining another."));
    assert!(r.body.contains("value=\"One Too Many\""));
    assert_eq!(memberships_of(&app, id), 400);
    use gatehouse::db::schema::organizations::dsl as o;
    let created: i64 = o::organizations
        .filter(o::name.eq("One Too Many"))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(created, 0);
    assert_eq!(app.audit_count("organization.created", "denied"), 1);
}

#[actix_web::test]
async fn twenty_concurrent_creations_at_399_end_with_exactly_400() {
    let app = spawn_app().await;
    app.signed_up_verified("Ada", "ada@example.com").await;
    let id = app.user_id("ada@example.com");
    seed_memberships(&app, id, 399);
    let html = app.get("/orgs/new").await.body;
    let token = crate::support::csrf_token(&html);
    let requests = (0..20).map(|i| {
        let name = format!("Race {i}");
        let req = app
            .client
            .post(app.url("/orgs/new"))
            .form(&[("csrf_token", token.as_str()), ("name", name.as_str())]);
        async move { req.send().await.map(|r| r.status().as_u16()).unwrap_or(0) }
    });
    let statuses = futures::future::join_all(requests).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 303).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 422).count(),
        19,
        "{statuses:?}"
    );
    assert_eq!(memberships_of(&app, id), 400);
}

#[actix_web::test]
async fn the_organization_list_pages_through_many_organizations() {
    let app = spawn_app_with(Options::default()).await;
    app.signed_up_verified("Ada", "ada@example.com").await;
    seed_memberships(&app, app.user_id("ada@example.com"), 120);
    let first = app.get("/orgs").await;
    assert!(first.body.contains("120 organizations"));
    assert!(first.body.contains("Page 1 of 3"));
    assert_eq!(
        first.body.matches("<tr><td><a href=\"/orgs/seed-").count(),
        50
    );
    let last = app.get("/orgs?page=3").await;
    assert_eq!(
        last.body.matches("<tr><td><a href=\"/orgs/seed-").count(),
        20
    );
    assert!(
        first.body.contains("All organizations…"),
        "switcher is bounded"
    );
    assert_eq!(
        app.get("/orgs?page=abc").await.status,
        400,
        "bad input is not a 500"
    );
}

/// An instance keeps the pages of a person's organization list under their data version. Each
/// change below is made in SQL after the page was read (and kept), as another instance would make
/// it: the next read shows it.
#[actix_web::test]
async fn a_kept_organization_list_is_never_shown_after_a_change() {
    let app = spawn_app().await;
    app.signed_up_verified("Ada", "ada@example.com").await;
    let ada = app.user_id("ada@example.com");
    seed_memberships(&app, ada, 3);
    let seed = |n: i64| format!("(SELECT id FROM organizations WHERE slug = 'seed-{n}')");
    let changes = [
        (
            format!("UPDATE organizations SET name = 'Renamed Two' WHERE id = {}", seed(2)),
            // The table's row (the switcher in the top bar is read with the session).
            "<td><a href=\"/orgs/seed-2\">Renamed Two</a></td>",
        ),
        (
            format!(
                "UPDATE memberships SET role = 'admin' WHERE user_id = {ada} AND organization_id = {}",
                seed(1)
            ),
            "<td>admin</td>",
        ),
        (
            format!("UPDATE organizations SET status = 'live' WHERE id = {}", seed(3)),
            "<td>live</td>",
        ),
        (
            "WITH o AS (INSERT INTO organizations (name, slug) VALUES ('Newer', 'newer') RETURNING id),
                  e AS (INSERT INTO environments (organization_id, kind)
                        SELECT o.id, k FROM o, unnest(ARRAY['development', 'staging', 'production']) k)
             INSERT INTO memberships (organization_id, user_id, role) SELECT id, "
                .to_string()
                + &format!("{ada}, 'member' FROM o"),
            "4 organizations",
        ),
    ];
    for (change, shown) in changes {
        let before = app.get("/orgs").await.body;
        assert!(!before.contains(shown), "{shown} before {change}");
        diesel::sql_query(&change).execute(&mut app.conn()).unwrap();
        let after = app.get("/orgs").await.body;
        assert!(after.contains(shown), "{change}: {after}");
    }
    assert!(app.get("/orgs").await.body.contains(">Seed 1</a></td>"));
    diesel::sql_query(format!(
        "DELETE FROM memberships WHERE user_id = {ada} AND organization_id = {}",
        seed(1)
    ))
    .execute(&mut app.conn())
    .unwrap();
    let page = app.get("/orgs").await.body;
    assert!(
        page.contains("3 organizations") && !page.contains(">Seed 1</a></td>"),
        "{page}"
    );
}

/// The organization switcher in the top bar is kept per session under the person's data version:
/// the session's statement reads the version alone while the instance holds the switcher, which
/// is shown until the version moves, and read again (with the change) as soon as it does,
/// whichever instance made the change.
#[actix_web::test]
async fn a_kept_switcher_is_shown_only_while_its_version_holds() {
    let app = spawn_app().await;
    app.signed_up_verified("Ada", "ada@example.com").await;
    let ada = app.user_id("ada@example.com");
    seed_memberships(&app, ada, 3);
    let switcher = |body: String| {
        let start = body
            .find("<ul class=\"switcher-list\">")
            .expect("a switcher");
        body[start..start + body[start..].find("</ul>").unwrap()].to_string()
    };
    let entry = |slug: &str, name: &str, role: &str| {
        format!("<a href=\"/orgs/{slug}\">{name} <span class=\"role\">{role}</span></a>")
    };
    let shown = switcher(app.get("/account").await.body);
    assert!(
        shown.contains(&entry("seed-2", "Seed 2", "member")),
        "{shown}"
    );

    // A change whose version is put back is not seen: the instance shows the switcher it keeps.
    let mut owner = app.owner_conn();
    diesel::sql_query(format!(
        "DO $$ DECLARE v bigint := (SELECT version FROM user_data_versions WHERE user_id = {ada});
         BEGIN
           UPDATE organizations SET name = 'Quietly Renamed' WHERE slug = 'seed-2';
           UPDATE user_data_versions SET version = v WHERE user_id = {ada};
         END $$"
    ))
    .execute(&mut owner)
    .unwrap();
    let shown = switcher(app.get("/account").await.body);
    assert!(
        shown.contains(&entry("seed-2", "Seed 2", "member")),
        "{shown}"
    );

    // Each change the switcher shows moves the version, and the next page shows it.
    let seed = |n: i64| format!("(SELECT id FROM organizations WHERE slug = 'seed-{n}')");
    let changes = [
        (
            format!(
                "UPDATE organizations SET name = 'Renamed Two' WHERE id = {}",
                seed(2)
            ),
            entry("seed-2", "Renamed Two", "member"),
        ),
        (
            format!(
                "UPDATE memberships SET role = 'admin' WHERE user_id = {ada} AND organization_id = {}",
                seed(1)
            ),
            entry("seed-1", "Seed 1", "admin"),
        ),
        (
            format!(
                "UPDATE organizations SET slug = 'seed-three' WHERE id = {}",
                seed(3)
            ),
            entry("seed-three", "Seed 3", "member"),
        ),
    ];
    for (change, expected) in changes {
        diesel::sql_query(&change).execute(&mut app.conn()).unwrap();
        let shown = switcher(app.get("/account").await.body);
        assert!(shown.contains(&expected), "{change}: {shown}");
    }
    diesel::sql_query(format!(
        "DELETE FROM memberships WHERE user_id = {ada} AND organization_id = {}",
        seed(1)
    ))
    .execute(&mut app.conn())
    .unwrap();
    let shown = switcher(app.get("/account").await.body);
    assert!(!shown.contains("/orgs/seed-1"), "{shown}");
}

/// Statements one GET costs (the fewest of three tries, so the outbox worker's polling, which
/// shares the pool, cannot inflate it).
/// The fewest statements and trips to the database (connections taken from the pool) of three
/// requests for `path`.
async fn statements_for(app: &TestApp, path: &str) -> (u64, u64) {
    let mut fewest = (u64::MAX, u64::MAX);
    for _ in 0..3 {
        let (statements, trips) = (app.statements.get(), app.statements.checkouts());
        let r = app.get(path).await;
        assert_eq!(r.status, 200, "{path}");
        fewest.0 = fewest.0.min(app.statements.get() - statements);
        fewest.1 = fewest.1.min(app.statements.checkouts() - trips);
    }
    fewest
}

#[actix_web::test]
async fn pages_cost_the_same_few_statements_whatever_the_data_size() {
    let app = spawn_app().await;
    app.signed_up_verified("Ada", "ada@example.com").await;
    let slug = app.create_org("Acme").await;
    let pages = [
        format!("/orgs/{slug}"),
        "/orgs".to_string(),
        format!("/orgs/{slug}/settings"),
        "/orgs/new".to_string(),
        "/account/sessions".to_string(),
        "/account".to_string(),
        "/account/password".to_string(),
        "/account/api-keys".to_string(),
        "/account/two-factor".to_string(),
        "/account/passkeys".to_string(),
        format!("/orgs/{slug}/access/users"),
        format!("/orgs/{slug}/access/users?q=member"),
        format!("/orgs/{slug}/access/invitations"),
        format!("/orgs/{slug}/access/invitations/new"),
        format!("/orgs/{slug}/audit"),
        format!("/orgs/{slug}/delete"),
        format!("/orgs/{slug}/access/roles"),
        format!(
            "/orgs/{slug}/access/users/{}",
            app.user_id("ada@example.com")
        ),
        format!("/orgs/{slug}/leave"),
        format!("/orgs/{slug}/access/environments"),
        format!("/orgs/{slug}/access/environments/production"),
        format!("/orgs/{slug}/access/grid"),
        format!(
            "/orgs/{slug}/access/users/{}/roles",
            app.user_id("ada@example.com")
        ),
        format!("/orgs/{slug}/env/staging"),
    ];
    let mut small = Vec::new();
    for page in &pages {
        small.push(statements_for(&app, page).await);
    }

    seed_memberships(&app, app.user_id("ada@example.com"), 300);
    diesel::sql_query(
        "WITH u AS (INSERT INTO users (name, email, password_hash)
                    SELECT 'Member ' || g, 'member' || g || '@example.com', 'x' FROM generate_series(1, 200) g RETURNING id)
         INSERT INTO memberships (organization_id, user_id, role) SELECT o.id, u.id, 'member' FROM u, organizations o WHERE o.slug = $1",
    )
    .bind::<diesel::sql_types::Text, _>(&slug)
    .execute(&mut app.conn())
    .unwrap();
    diesel::sql_query(
        "INSERT INTO invitations (organization_id, email, role, token_hash, invited_by_name, expires_at)
         SELECT o.id, 'invitee' || g || '@example.com', 'member', sha256(g::text::bytea), 'Ada', now() + interval '7 days'
         FROM organizations o, generate_series(1, 120) g WHERE o.slug = $1",
    )
    .bind::<diesel::sql_types::Text, _>(&slug)
    .execute(&mut app.conn())
    .unwrap();
    diesel::sql_query(
        "INSERT INTO environment_roles (environment_id, organization_id, user_id, role)
         SELECT e.id, e.organization_id, m.user_id, 'viewer' FROM environments e
         JOIN memberships m ON m.organization_id = e.organization_id
         JOIN organizations o ON o.id = e.organization_id
         WHERE o.slug = $1 AND e.kind = 'production'",
    )
    .bind::<diesel::sql_types::Text, _>(&slug)
    .execute(&mut app.conn())
    .unwrap();
    for (page, before) in pages.iter().zip(&small) {
        let (after, trips) = statements_for(&app, page).await;
        assert_eq!((after, trips), *before, "{page} grew with the data");
        // The session with its user, the organization switcher and the access check is one
        // statement, read on the page's own trip to the database (`PageRequest`), and the
        // page's data one more: a page that shows only what the check reads (the organization
        // page) costs that one statement. An environment page lists two things (configuration
        // values and keys), one statement each; the audit log and the account's security log
        // count their matches in a statement of their own.
        let bound = if page.contains("/env/") || page.ends_with("/audit") || page == "/account" {
            3
        } else if *page == format!("/orgs/{slug}") {
            1
        } else {
            2
        };
        assert!(after <= bound, "{page} costs {after} statements");
        assert_eq!(trips, 1, "{page} takes {trips} trips to the database");
        // A page of members already read, and not changed since, is the instance's own copy:
        // the access check reads the organization's data version, and nothing more is read.
        if page.contains("/access/users?") || page.ends_with("/access/users") || page == "/orgs" {
            assert_eq!(after, 1, "{page} is read again although nothing changed");
        }
    }
}

/// The access check is one SQL text read three ways: alone, with the session (pages) and with
/// the API key. Its record's fields are positional, so each is checked, and each way must read
/// the same access.
#[actix_web::test]
async fn the_access_check_reads_the_same_access_alone_with_the_session_and_with_the_key() {
    use gatehouse::authz::{EnvKind, EnvRole, OrgRole};
    use gatehouse::db::api_keys::{self, KeyCheck};
    use gatehouse::db::orgs::{self, OrgRef};
    use gatehouse::domain::ids::{EnvId, OrgId, UserId};
    let app = spawn_app().await;
    let slug = org_with_bob_admin(&app, "Acme Corp").await;
    app.create_account_verified("Cy", "cy@example.com");
    let (bob, org) = (
        UserId(app.user_id("bob@example.com")),
        OrgId(org_id(&app, &slug)),
    );
    let production = EnvId(env_id(&app, &slug, "production"));
    let mut conn = app.conn();

    let alone = orgs::access(&mut conn, bob, &OrgRef::Slug(slug.clone()))
        .unwrap()
        .expect("Bob is a member");
    assert_eq!(alone.user_id, bob);
    assert_eq!(alone.org.id, org);
    assert_eq!(
        (alone.org.name.as_str(), alone.org.slug.as_str()),
        ("Acme Corp", slug.as_str())
    );
    assert_eq!(alone.org.member_count, 2);
    let version: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "SELECT version FROM org_data_versions v JOIN organizations o ON o.id = v.organization_id
         WHERE o.slug = ",
    )
    .bind::<diesel::sql_types::Text, _>(&slug)
    .get_result(&mut app.conn())
    .unwrap();
    assert_eq!(alone.data_version, version);
    assert!(!alone.org.require_two_factor && !alone.two_factor && !alone.org.is_live());
    assert_eq!(alone.role, OrgRole::Admin);
    let environments: Vec<_> = alone
        .environments
        .iter()
        .map(|e| (e.kind, e.role))
        .collect();
    assert_eq!(
        environments,
        [
            (EnvKind::Development, None),
            (EnvKind::Staging, Some(EnvRole::Support)),
            (EnvKind::Production, None),
        ]
    );
    assert_eq!(alone.environments[2].id, production);
    let shown = format!("{alone:?}");
    for org_ref in [OrgRef::Id(org), OrgRef::Environment(production)] {
        let by_id = orgs::access(&mut conn, bob, &org_ref).unwrap().unwrap();
        assert_eq!(format!("{by_id:?}"), shown);
        assert!(by_id.is_for(bob, &org_ref));
        assert!(!by_id.is_for(UserId(app.user_id("ada@example.com")), &org_ref));
    }
    assert!(!alone.is_for(bob, &OrgRef::Slug("another".into())));
    let cy = UserId(app.user_id("cy@example.com"));
    assert!(
        orgs::access(&mut conn, cy, &OrgRef::Slug(slug.clone()))
            .unwrap()
            .is_none()
    );

    // With the session: a stored session of Bob's, read for the organization's page.
    let hash = [7u8; 32];
    let lifetimes = store_session(&app, hash, bob.get());
    // Read alone, and with an instance's switchers: once to keep Bob's switcher, once to use it
    // (the statement then reads the version alone); the same state and access each time. The
    // member's record is read again the first time (a new instance keeps none), then kept.
    let switchers = gatehouse::db::sessions::Switchers::default();
    let kept_access = orgs::KeptAccess::default();
    let mut states = Vec::new();
    for kept in [None, Some(&switchers), Some(&switchers)] {
        let read = gatehouse::db::sessions::read(
            &mut conn,
            &hash,
            lifetimes,
            Some((&slug, &kept_access)),
            kept,
        )
        .unwrap();
        let state = read.state.expect("a stored session");
        let who = read.who.expect("Bob, read with the session");
        assert_eq!(who.user.id, bob);
        assert!(who.switcher.first.iter().any(|o| o.slug == slug));
        // The user's row (its password hash among it) is handed over typed, never put in the
        // state that a request may write back.
        assert!(state.values().all(|v| !v.contains("$argon2")), "{state:?}");
        states.push(state);
        assert_eq!(
            format!("{:?}", read.access.expect("read with the session")),
            shown
        );
    }
    assert!(states.windows(2).all(|w| w[0] == w[1]), "{states:?}");
    let other = gatehouse::db::sessions::read(
        &mut conn,
        &hash,
        lifetimes,
        Some(("nope", &kept_access)),
        Some(&switchers),
    )
    .unwrap();
    assert!(other.state.is_some() && other.access.is_none());

    // With the key: by the organization's id and by one of its environments.
    let key = app.personal_key("bob@example.com", "tool");
    for org_ref in [OrgRef::Id(org), OrgRef::Environment(production)] {
        let KeyCheck::Live((user, _, read)) =
            api_keys::authenticate(&mut conn, &key, None, Some(&org_ref), &kept_access).unwrap()
        else {
            panic!("a live key");
        };
        assert_eq!(user.id, bob);
        assert_eq!(
            format!("{:?}", read.expect("asked").expect("a member")),
            shown
        );
    }
    let KeyCheck::Live((_, _, read)) =
        api_keys::authenticate(&mut conn, &key, None, None, &kept_access).unwrap()
    else {
        panic!("a live key");
    };
    assert!(read.is_none(), "no organization asked, none read");

    // Each way settles on one generic plan whatever it is asked for (PostgreSQL plans a
    // statement for its values on its first five runs, and on every run after them while that
    // plan looks cheaper than the generic one: a value the planner could fold, such as a NULL,
    // must be hidden from it).
    // A fresh connection for each kind of value, asked for that alone, as an instance serving
    // one page would.
    // A new `KeptAccess` for each read: the member's record is read again every time.
    let sessions = |org: Option<&str>| {
        let mut conn = app.owner_conn();
        for _ in 0..8 {
            let kept = orgs::KeptAccess::default();
            let org = org.map(|slug| (slug, &kept));
            gatehouse::db::sessions::read(&mut conn, &hash, lifetimes, org, Some(&switchers))
                .unwrap();
            gatehouse::db::sessions::read(&mut conn, &hash, lifetimes, org, None).unwrap();
        }
        conn
    };
    let keys = |org_ref: Option<OrgRef>| {
        let mut conn = app.owner_conn();
        for _ in 0..8 {
            let kept = orgs::KeptAccess::default();
            api_keys::authenticate(&mut conn, &key, None, org_ref.as_ref(), &kept).unwrap();
            if let Some(org_ref) = &org_ref {
                orgs::access(&mut conn, bob, org_ref).unwrap();
            }
        }
        conn
    };
    let conns = [
        sessions(Some(&slug)),
        sessions(None),
        keys(Some(OrgRef::Id(org))),
        keys(Some(OrgRef::Environment(production))),
        keys(None),
    ];
    for mut conn in conns {
        let replanned: Vec<(String, i64, i64)> = diesel::sql_query(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements
             WHERE custom_plans > 5",
        )
        .load::<Replanned>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|r| (r.statement, r.generic_plans, r.custom_plans))
        .collect();
        assert!(replanned.is_empty(), "planned on every run: {replanned:#?}");
    }
}

/// An instance keeps the member's part of the access check (`KeptAccess`) under the
/// organization's data version: while nothing changed, the session's one statement reads the
/// organization's record and nothing of the member; after any change to the member's access,
/// whoever made it, their record is read again.
#[actix_web::test]
async fn kept_access_is_read_again_after_every_change_to_it() {
    use gatehouse::authz::{EnvKind, EnvRole, OrgRole};
    use gatehouse::db::orgs::{Access, KeptAccess};
    use std::sync::{Arc, Mutex};
    let app = spawn_app().await;
    let slug = org_with_bob_admin(&app, "Acme").await;
    let bob = app.user_id("bob@example.com");
    let hash = [9u8; 32];
    let lifetimes = store_session(&app, hash, bob);
    // The statements the reading connection runs, as text.
    let ran: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut conn = app.owner_conn();
    let log = ran.clone();
    conn.set_instrumentation(move |event: diesel::connection::InstrumentationEvent<'_>| {
        if let diesel::connection::InstrumentationEvent::StartQuery { query, .. } = event {
            log.lock().unwrap().push(query.to_string());
        }
    });
    let kept = KeptAccess::default();
    let mut read = |kept: &KeptAccess| -> (Option<Access>, Vec<String>) {
        ran.lock().unwrap().clear();
        let read =
            gatehouse::db::sessions::read(&mut conn, &hash, lifetimes, Some((&slug, kept)), None)
                .unwrap();
        (read.access, std::mem::take(&mut *ran.lock().unwrap()))
    };
    let change = |sql: &str| {
        diesel::sql_query(sql.replace("{bob}", &bob.to_string()))
            .execute(&mut app.conn())
            .unwrap();
    };
    let role_in = |access: &Access, kind: EnvKind| {
        access
            .environments
            .iter()
            .find(|e| e.kind == kind)
            .expect("every environment")
            .role
    };

    let (first, statements) = read(&kept);
    let first = first.expect("Bob is a member");
    assert_eq!(
        statements.len(),
        2,
        "a new instance reads the member's record"
    );
    let (again, statements) = read(&kept);
    assert_eq!(format!("{:?}", again.unwrap()), format!("{first:?}"));
    assert_eq!(statements.len(), 1, "{statements:#?}");
    for member_record in ["environment_roles", "FROM memberships m JOIN users u"] {
        assert!(
            !statements[0].contains(member_record),
            "the kept member's record is not read again: {}",
            statements[0]
        );
    }

    // Each change, then what the next read shows, on a statement that read the member again.
    type Shows<'a> = &'a dyn Fn(&Access) -> bool;
    let changes: [(&str, Shows<'_>); 6] = [
        (
            "UPDATE memberships SET role = 'member' WHERE user_id = {bob}",
            &|a| a.role == OrgRole::Member,
        ),
        (
            "INSERT INTO environment_roles (environment_id, organization_id, user_id, role)
             SELECT id, organization_id, {bob}, 'viewer' FROM environments
             WHERE kind = 'production'
               AND organization_id = (SELECT organization_id FROM memberships WHERE user_id = {bob})",
            &|a| role_in(a, EnvKind::Production) == Some(EnvRole::Viewer),
        ),
        (
            "UPDATE environment_roles SET role = 'engineer' WHERE user_id = {bob} AND role = 'support'",
            &|a| role_in(a, EnvKind::Staging) == Some(EnvRole::Engineer),
        ),
        // A statement that writes environment roles moves the version whatever it leaves on the
        // membership's row.
        (
            "UPDATE environment_roles SET role = role WHERE user_id = {bob}",
            &|a| role_in(a, EnvKind::Staging) == Some(EnvRole::Engineer),
        ),
        (
            "DELETE FROM environment_roles WHERE user_id = {bob} AND role = 'engineer'",
            &|a| role_in(a, EnvKind::Staging).is_none(),
        ),
        (
            "UPDATE users SET totp_enabled_at = now() WHERE id = {bob}",
            &|a| a.two_factor,
        ),
    ];
    for (sql, shows) in changes {
        change(sql);
        let (access, statements) = read(&kept);
        let access = access.expect("still a member");
        assert!(shows(&access), "after {sql}: {access:?}");
        assert_eq!(statements.len(), 2, "after {sql}, the member is read again");
        let (again, statements) = read(&kept);
        assert_eq!(format!("{:?}", again.unwrap()), format!("{access:?}"));
        assert_eq!(statements.len(), 1, "then kept again");
    }

    // The organization's own record is read with the session every time.
    change("UPDATE organizations SET name = 'Acme Two', require_two_factor = true");
    let (access, statements) = read(&kept);
    let access = access.unwrap();
    assert_eq!(access.org.name, "Acme Two");
    assert!(access.org.require_two_factor);
    assert_eq!(statements.len(), 1);

    // Not a member: kept too, so that asking costs the same whether the organization exists.
    change("DELETE FROM memberships WHERE user_id = {bob}");
    let (access, statements) = read(&kept);
    assert!(access.is_none());
    assert_eq!(statements.len(), 2);
    let (access, statements) = read(&kept);
    assert!(access.is_none());
    assert_eq!(statements.len(), 1);
    // Another instance, which keeps nothing yet, reads the same.
    assert!(read(&KeptAccess::default()).0.is_none());

    // A membership never moves to another organization or person (the person's trigger would
    // not see it move): a new one is added instead.
    let beta = app.create_org("Beta").await;
    change(&format!(
        "INSERT INTO memberships (organization_id, user_id, role)
         SELECT id, {{bob}}, 'member' FROM organizations WHERE slug = '{slug}'"
    ));
    for sql in [
        format!(
            "UPDATE memberships SET organization_id = (SELECT id FROM organizations WHERE slug = '{beta}')
             WHERE user_id = {bob}"
        ),
        format!(
            "UPDATE memberships SET user_id = {bob}
             WHERE user_id = {} AND organization_id = (SELECT id FROM organizations WHERE slug = '{beta}')",
            app.user_id("ada@example.com")
        ),
    ] {
        let moved = diesel::sql_query(&sql).execute(&mut app.conn());
        assert!(
            moved
                .unwrap_err()
                .to_string()
                .contains("a membership cannot move"),
            "{sql}"
        );
    }
}

#[derive(diesel::QueryableByName)]
struct Replanned {
    #[diesel(sql_type = diesel::sql_types::Text)]
    statement: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    generic_plans: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    custom_plans: i64,
}

/// The session's statement (and the API key's) reads its user's row by primary key, whatever the
/// planner believes of the sessions. Statistics taken while only the first accounts had sessions made a join merge
/// the users index from its start up to the user's id, on every request (5 ms for the 10,000th
/// account of the side-by-side benchmark).
#[actix_web::test]
async fn the_session_and_the_key_read_their_user_alone_whatever_the_statistics_say() {
    use gatehouse::db::api_keys::{self, KeyCheck};
    use gatehouse::domain::ids::UserId;
    let app = spawn_app().await;
    let mut conn = app.conn();
    for (n, name) in ["Ada", "Bob", "Cy"].into_iter().enumerate() {
        let email = format!("{}@example.com", name.to_lowercase());
        app.create_account_verified(name, &email);
        for session in 0..3 {
            store_session(&app, [(n * 3 + session + 3) as u8; 32], app.user_id(&email));
        }
    }
    add_people(&mut conn, 5000);
    diesel::sql_query("ANALYZE users, sessions")
        .execute(&mut app.owner_conn())
        .unwrap();
    let last = app.user_id("person5000@example.com");
    let lifetimes = store_session(&app, [2u8; 32], last);
    // And a personal API key of the same account's, also read with its user.
    let key = app.personal_key("person5000@example.com", "tool");
    diesel::sql_query("ANALYZE personal_api_keys")
        .execute(&mut app.owner_conn())
        .unwrap();
    let kept = gatehouse::db::orgs::KeptAccess::default();
    let read = conn
        .transaction(|c| {
            let before = users_read(c)?;
            for _ in 0..8 {
                let who = gatehouse::db::sessions::read(c, &[2u8; 32], lifetimes, None, None)?.who;
                assert_eq!(who.map(|w| w.user.id.0), Some(last));
                let KeyCheck::Live((user, _, _)) =
                    api_keys::authenticate(c, &key, None, None, &kept)?
                else {
                    panic!("a live key");
                };
                assert_eq!(user.id.0, last);
            }
            Ok::<_, diesel::result::Error>(users_read(c)? - before)
        })
        .unwrap();
    assert!(read <= 16, "{read} users rows and index entries read");

    // Every column of the account set, each to a value of its own: the record read with the
    // session is the row, field by field (a record's fields are decoded by position alone).
    diesel::sql_query(
        "UPDATE users SET email_verified_at = '2026-01-01T00:00:00Z', is_operator = true,
                last_sign_in_at = '2026-02-02T00:00:00Z', created_at = '2026-03-03T00:00:00Z',
                totp_enabled_at = '2026-04-04T00:00:00Z', pending_email = 'new@example.com',
                passkey_count = 5, password_hash = 'hash'
         WHERE id = $1",
    )
    .bind::<diesel::sql_types::BigInt, _>(last)
    .execute(&mut conn)
    .unwrap();
    let row = gatehouse::db::users::find(&mut conn, UserId(last))
        .unwrap()
        .unwrap();
    let who = gatehouse::db::sessions::read(&mut conn, &[2u8; 32], lifetimes, None, None)
        .unwrap()
        .who
        .expect("signed in");
    assert_eq!(format!("{:?}", who.user), format!("{row:?}"));
}

/// An environment's configuration values and API keys show who made them, read by the users'
/// and the memberships' keys whatever the statistics say. Assets are few and rarely change, so
/// their statistics may date from when only the first accounts had made any; on such statistics
/// a join with `users` merged the whole users index from its start up to a later creator's id,
/// on every environment page.
#[actix_web::test]
async fn an_environments_assets_read_their_creators_alone_whatever_the_statistics_say() {
    use gatehouse::domain::ids::{EnvId, OrgId};
    let app = spawn_app().await;
    let slug = org_with_bob_admin(&app, "Acme").await;
    let (org, dev) = (org_id(&app, &slug), env_id(&app, &slug, "development"));
    let (ada, bob) = (
        app.user_id("ada@example.com"),
        app.user_id("bob@example.com"),
    );
    seed_memberships(&app, ada, 40);
    let mut conn = app.conn();
    // Made by the first two accounts, three of each in every environment but Acme's.
    for made in [
        "INSERT INTO config_values (environment_id, organization_id, key, value, created_by)
         SELECT e.id, e.organization_id, 'K' || g, 'v', CASE WHEN g = 1 THEN $1 ELSE $2 END
         FROM environments e, generate_series(1, 3) g WHERE e.organization_id <> $3",
        "INSERT INTO environment_api_keys (environment_id, organization_id, name, prefix, key_hash,
                                           created_by)
         SELECT e.id, e.organization_id, 'key ' || g, 'p', sha256((e.id || ' ' || g)::bytea),
                CASE WHEN g = 1 THEN $1 ELSE $2 END
         FROM environments e, generate_series(1, 3) g WHERE e.organization_id <> $3",
    ] {
        diesel::sql_query(made)
            .bind::<diesel::sql_types::BigInt, _>(ada)
            .bind::<diesel::sql_types::BigInt, _>(bob)
            .bind::<diesel::sql_types::BigInt, _>(org)
            .execute(&mut conn)
            .unwrap();
    }
    add_people(&mut conn, 5000);
    diesel::sql_query("ANALYZE users, memberships, config_values, environment_api_keys")
        .execute(&mut app.owner_conn())
        .unwrap();
    // Later, the newest account joins Acme and makes three of each in development; the fourth
    // one's maker is a member of another organization, never of Acme.
    add_member(&app, &slug, "person5000@example.com", "member", &[]);
    add_member(&app, "seed-1", "person4999@example.com", "member", &[]);
    let (last, gone) = (
        app.user_id("person5000@example.com"),
        app.user_id("person4999@example.com"),
    );
    for made in [
        "INSERT INTO config_values (environment_id, organization_id, key, value, created_by)
         VALUES ($1, $2, 'LATE' || $3, 'v', $4)",
        "INSERT INTO environment_api_keys (environment_id, organization_id, name, prefix, key_hash,
                                           created_by)
         VALUES ($1, $2, 'late ' || $3, 'p', sha256(('late ' || $3)::bytea), $4)",
    ] {
        for (g, by) in [(1, last), (2, last), (3, last), (4, gone)] {
            diesel::sql_query(made)
                .bind::<diesel::sql_types::BigInt, _>(dev)
                .bind::<diesel::sql_types::BigInt, _>(org)
                .bind::<diesel::sql_types::Integer, _>(g)
                .bind::<diesel::sql_types::BigInt, _>(by)
                .execute(&mut conn)
                .unwrap();
        }
    }
    let (read, (values, keys)) = conn
        .transaction(|c| {
            let before = users_read(c)?;
            let mut listed = None;
            for _ in 0..8 {
                listed = Some(gatehouse::db::assets::list(c, OrgId(org), EnvId(dev))?);
            }
            Ok::<_, diesel::result::Error>((users_read(c)? - before, listed.unwrap()))
        })
        .unwrap();
    // Eight rows a listing, each its creator's entry at most.
    assert!(read <= 8 * 8, "{read} users rows and index entries read");
    // Person 5000 made the first three; the fourth's maker is no member of Acme.
    let shown = |mut made: Vec<(String, String)>| {
        made.sort();
        made.into_iter().map(|(_, by)| by).collect::<Vec<_>>()
    };
    let makers = ["Person 5000", "Person 5000", "Person 5000", "former member"];
    assert_eq!(
        shown(values.into_iter().map(|v| (v.key, v.created_by)).collect()),
        makers
    );
    assert_eq!(
        shown(keys.into_iter().map(|k| (k.name, k.created_by)).collect()),
        makers
    );
}
