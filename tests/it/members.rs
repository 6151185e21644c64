//! Active users, Quick view, Remove and Leave, with the owner and admin rules.

use diesel::prelude::*;

use crate::support::{TestApp, add_member, client, memberships_of, spawn_app};

/// Adds `count` members named "Member NNN" straight in the database.
fn seed_members(app: &TestApp, slug: &str, count: i64) {
    diesel::sql_query(
        "WITH u AS (INSERT INTO users (name, email, password_hash)
                    SELECT 'Member ' || lpad(g::text, 3, '0'), 'member' || g || '@example.com', 'x' FROM generate_series(1, $1) g RETURNING id)
         INSERT INTO memberships (organization_id, user_id, role) SELECT o.id, u.id, 'member' FROM u, organizations o WHERE o.slug = $2",
    )
    .bind::<diesel::sql_types::BigInt, _>(count)
    .bind::<diesel::sql_types::Text, _>(slug)
    .execute(&mut app.conn())
    .unwrap();
}

#[actix_web::test]
async fn active_users_are_listed_fifty_a_page_and_searchable() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    seed_members(&app, &slug, 120);
    let base = format!("/orgs/{slug}/access/users");
    let first = app.get(&base).await;
    assert_eq!(first.status, 200);
    assert!(first.body.contains("121 members"));
    assert_eq!(first.body.matches("Quick view<span").count(), 50);
    assert!(first.body.contains("Page 1 of 3"));
    let last = app.get(&format!("{base}?page=3")).await;
    assert_eq!(last.body.matches("Quick view<span").count(), 21);
    // A page past the middle is cut from the end of the list: the same rows, in order.
    let at = |body: &str, email: &str| body.find(&format!(">{email}<"));
    let (first_row, last_member) = (
        at(&last.body, "member101@example.com").expect("Member 101 opens page 3"),
        at(&last.body, "member120@example.com").expect("Member 120 is on page 3"),
    );
    assert!(first_row < last_member && at(&last.body, "member100@example.com").is_none());
    let middle = app.get(&format!("{base}?page=2")).await;
    for (email, shown) in [
        ("member50", false),
        ("member51", true),
        ("member100", true),
        ("member101", false),
    ] {
        assert_eq!(
            at(&middle.body, &format!("{email}@example.com")).is_some(),
            shown,
            "{email}"
        );
    }

    let by_email = app.get(&format!("{base}?q=MEMBER7%40example")).await;
    assert!(
        by_email.body.contains("1 member matching"),
        "{}",
        by_email.body
    );
    let by_name = app.get(&format!("{base}?q=member+01")).await;
    assert!(
        by_name.body.contains("10 members matching"),
        "Member 010 to 019: {}",
        by_name.body
    );
    let wildcard = app.get(&format!("{base}?q=%25")).await;
    assert!(
        wildcard.body.contains("0 members matching"),
        "% is taken literally"
    );
    let owner_row = app.get(&format!("{base}?q=owner")).await;
    assert!(
        owner_row.body.contains("development: engineer")
            && owner_row.body.contains("staging: engineer"),
        "roles at a glance"
    );
    // The total is kept on the organization's row: it follows removals too.
    diesel::sql_query(
        "DELETE FROM memberships WHERE user_id IN (SELECT id FROM users WHERE email LIKE 'member1_@example.com')",
    )
    .execute(&mut app.conn())
    .unwrap();
    assert!(app.get(&base).await.body.contains("111 members"));
    let kept: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!(
        "SELECT (o.member_count - (SELECT count(*) FROM memberships m WHERE m.organization_id = o.id))::bigint
         FROM organizations o WHERE o.slug = '{slug}'"
    ))
    .get_result(&mut app.conn())
    .unwrap();
    assert_eq!(kept, 0);
}

/// Whether every membership's copy of its environment roles matches the roles themselves.
fn env_roles_in_step(app: &TestApp) -> bool {
    diesel::dsl::sql::<diesel::sql_types::Bool>(
        "SELECT NOT EXISTS (SELECT 1 FROM memberships m
                            WHERE m.env_roles <> memberships_env_roles_of(m.organization_id, m.user_id))",
    )
    .get_result(&mut app.conn())
    .unwrap()
}

#[actix_web::test]
async fn the_member_list_shows_environment_roles_as_they_change() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let mia = client(&app.address);
    app.account(&mia, "Mia Member", "mia@example.com").await;
    add_member(
        &app,
        &slug,
        "mia@example.com",
        "member",
        &[("staging", "support")],
    );
    let list = format!("/orgs/{slug}/access/users?q=mia");
    let mut conn = app.conn();
    let mia_id = app.user_id("mia@example.com");
    let roles_shown = |body: &str| {
        ["development", "staging", "production"]
            .iter()
            .flat_map(|kind| {
                ["viewer", "support", "engineer"]
                    .iter()
                    .filter(move |role| body.contains(&format!("{kind}: {role}")))
                    .map(move |role| format!("{kind}: {role}"))
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        roles_shown(&app.get(&list).await.body),
        ["staging: support"]
    );
    crate::support::add_member_env_role(&app, &slug, "mia@example.com", "production", "viewer");
    diesel::sql_query(
        "UPDATE environment_roles SET role = 'engineer' WHERE user_id = $1 AND role = 'support'",
    )
    .bind::<diesel::sql_types::BigInt, _>(mia_id)
    .execute(&mut conn)
    .unwrap();
    assert_eq!(
        roles_shown(&app.get(&list).await.body),
        ["staging: engineer", "production: viewer"]
    );
    diesel::sql_query(
        "DELETE FROM environment_roles er USING environments e
         WHERE e.id = er.environment_id AND er.user_id = $1 AND e.kind = 'staging'",
    )
    .bind::<diesel::sql_types::BigInt, _>(mia_id)
    .execute(&mut conn)
    .unwrap();
    assert_eq!(
        roles_shown(&app.get(&list).await.body),
        ["production: viewer"]
    );
    let quick_view = app
        .get(&format!("/orgs/{slug}/access/users/{mia_id}"))
        .await;
    assert!(
        quick_view.body.contains("<dd>viewer</dd>"),
        "{}",
        quick_view.body
    );
    // A row moved to another member refreshes both memberships.
    diesel::sql_query(
        "UPDATE environment_roles SET user_id = (SELECT id FROM users WHERE email = 'owner@example.com')
         WHERE user_id = $1",
    )
    .bind::<diesel::sql_types::BigInt, _>(mia_id)
    .execute(&mut conn)
    .unwrap();
    assert!(roles_shown(&app.get(&list).await.body).is_empty());
    assert!(env_roles_in_step(&app));
}

#[actix_web::test]
async fn quick_view_shows_the_member() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let mia = client(&app.address);
    app.account(&mia, "Mia Member", "mia@example.com").await;
    add_member(
        &app,
        &slug,
        "mia@example.com",
        "member",
        &[("staging", "support")],
    );
    let page = app
        .get(&format!(
            "/orgs/{slug}/access/users/{}",
            app.user_id("mia@example.com")
        ))
        .await;
    assert_eq!(page.status, 200);
    for text in [
        "Mia Member",
        "mia@example.com",
        "<dt>Joined</dt>",
        "<dt>Last sign-in</dt>",
        "<dd>support</dd>",
    ] {
        assert!(page.body.contains(text), "{text}");
    }
    let stranger = app.get(&format!("/orgs/{slug}/access/users/999999")).await;
    assert_eq!(stranger.status, 404);
}

#[actix_web::test]
async fn removal_ends_access_at_once_revokes_invitations_and_tells_the_person() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let mia = client(&app.address);
    app.account(&mia, "Mia Member", "mia@example.com").await;
    add_member(
        &app,
        &slug,
        "mia@example.com",
        "member",
        &[("staging", "engineer")],
    );
    assert_eq!(
        app.get_with(&mia, &format!("/orgs/{slug}")).await.status,
        200
    );
    diesel::sql_query(
        "INSERT INTO invitations (organization_id, email, role, token_hash, invited_by_name, expires_at, invited_by)
         SELECT id, 'mia@example.com', 'admin', sha256('t'::bytea), 'Olivia Owner', now() + interval '7 days', (SELECT m.user_id FROM memberships m WHERE m.organization_id = organizations.id AND m.role = 'owner' LIMIT 1) FROM organizations WHERE slug = $1",
    )
    .bind::<diesel::sql_types::Text, _>(&slug)
    .execute(&mut app.conn())
    .unwrap();

    let id = app.user_id("mia@example.com");
    let view = format!("/orgs/{slug}/access/users/{id}");
    let r = app.post_form(&view, &format!("{view}/remove"), &[]).await;
    assert_eq!(r.status, 303);
    assert_eq!(
        app.get_with(&mia, &format!("/orgs/{slug}")).await.status,
        404,
        "access ends on the very next request"
    );
    assert_eq!(memberships_of(&app, id), 0);
    let roles: i64 = gatehouse::db::schema::environment_roles::table
        .filter(gatehouse::db::schema::environment_roles::user_id.eq(id))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(roles, 0, "environment roles removed");
    let open: i64 = gatehouse::db::schema::invitations::table
        .filter(gatehouse::db::schema::invitations::status.eq("pending"))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(open, 0, "pending invitations to them revoked");
    app.mail
        .wait_for("mia@example.com", "You were removed from Acme")
        .await;
    assert_eq!(app.audit_count("member.removed", "successful"), 1);
}

#[actix_web::test]
async fn admins_cannot_remove_owners_or_admins_and_nobody_removes_themselves() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let adam = client(&app.address);
    app.account(&adam, "Adam Admin", "adam@example.com").await;
    add_member(&app, &slug, "adam@example.com", "admin", &[]);
    let ann = client(&app.address);
    app.account(&ann, "Ann Admin", "ann@example.com").await;
    add_member(&app, &slug, "ann@example.com", "admin", &[]);
    let mia = client(&app.address);
    app.account(&mia, "Mia Member", "mia@example.com").await;
    add_member(&app, &slug, "mia@example.com", "member", &[]);

    let owner_view = format!(
        "/orgs/{slug}/access/users/{}",
        app.user_id("owner@example.com")
    );
    let page = app.get_with(&adam, &owner_view).await;
    assert!(!page.body.contains("/remove"), "no Remove offered");
    let r = app
        .post_form_with(&adam, &owner_view, &format!("{owner_view}/remove"), &[])
        .await;
    assert_eq!(r.status, 403);
    let ann_view = format!(
        "/orgs/{slug}/access/users/{}",
        app.user_id("ann@example.com")
    );
    assert_eq!(
        app.post_form_with(&adam, &ann_view, &format!("{ann_view}/remove"), &[])
            .await
            .status,
        403
    );
    assert_eq!(app.audit_count("member.removed", "denied"), 2);

    let mia_view = format!(
        "/orgs/{slug}/access/users/{}",
        app.user_id("mia@example.com")
    );
    assert_eq!(
        app.post_form_with(&adam, &mia_view, &format!("{mia_view}/remove"), &[])
            .await
            .status,
        303,
        "admins remove members"
    );

    let self_remove = app
        .post_form(&owner_view, &format!("{owner_view}/remove"), &[])
        .await;
    assert_eq!(self_remove.status, 303);
    assert!(
        app.get(&owner_view)
            .await
            .body
            .contains("leave the organization")
    );
    assert_eq!(memberships_of(&app, app.user_id("owner@example.com")), 1);

    let member_tries = app
        .post_form_with(&mia, "/orgs", &format!("{ann_view}/remove"), &[])
        .await;
    assert_eq!(member_tries.status, 404, "no longer a member");
}

#[actix_web::test]
async fn the_last_owner_cannot_leave_but_others_can() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let leave = format!("/orgs/{slug}/leave");
    let r = app.post_form(&leave, &leave, &[]).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("Make another member an owner first."));
    assert_eq!(app.audit_count("member.left", "denied"), 1);

    let mia = client(&app.address);
    app.account(&mia, "Mia Member", "mia@example.com").await;
    add_member(
        &app,
        &slug,
        "mia@example.com",
        "member",
        &[("development", "viewer")],
    );
    assert_eq!(
        app.post_form_with(&mia, &leave, &leave, &[]).await.status,
        303
    );
    assert_eq!(
        app.get_with(&mia, &format!("/orgs/{slug}")).await.status,
        404
    );

    let co = client(&app.address);
    app.account(&co, "Cole Owner", "cole@example.com").await;
    add_member(&app, &slug, "cole@example.com", "owner", &[]);
    assert_eq!(
        app.post_form(&leave, &leave, &[]).await.status,
        303,
        "with another owner, an owner may leave"
    );
    assert_eq!(app.audit_count("member.left", "successful"), 2);
}

#[actix_web::test]
async fn concurrent_leaving_owners_always_leave_one() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let co = client(&app.address);
    app.account(&co, "Cole Owner", "cole@example.com").await;
    add_member(&app, &slug, "cole@example.com", "owner", &[]);
    let leave = format!("/orgs/{slug}/leave");
    let token_a = crate::support::csrf_token(&app.get(&leave).await.body);
    let token_b = crate::support::csrf_token(&app.get_with(&co, &leave).await.body);
    let a = app
        .client
        .post(app.url(&leave))
        .form(&[("csrf_token", token_a.as_str())])
        .send();
    let b = co
        .post(app.url(&leave))
        .form(&[("csrf_token", token_b.as_str())])
        .send();
    let (a, b) = futures::join!(a, b);
    let statuses = [a.unwrap().status().as_u16(), b.unwrap().status().as_u16()];
    assert!(
        statuses.contains(&303) && statuses.contains(&422),
        "{statuses:?}"
    );
    let owners: i64 = gatehouse::db::schema::memberships::table
        .filter(gatehouse::db::schema::memberships::role.eq("owner"))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(owners, 1);
}

/// A large organization is searched from the trigram indexes when the pattern matches few
/// people, and member by member when it matches many (more than 2,000 people platform-wide):
/// either way the results are the organization's members only, in name order, with the total.
#[actix_web::test]
async fn a_large_organization_is_searched_from_either_end_with_the_same_results() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    seed_members(&app, &slug, 1_100);
    // People outside the organization whose names match too.
    diesel::sql_query(
        "INSERT INTO users (name, email, password_hash)
         SELECT 'Outsider Member ' || g, 'outsider' || g || '@example.com', 'x'
         FROM generate_series(1, 1200) g",
    )
    .execute(&mut app.conn())
    .unwrap();
    let base = format!("/orgs/{slug}/access/users");
    let rows = |body: &str| -> Vec<String> {
        body.split("<td data-label=\"Email\">")
            .skip(1)
            .map(|rest| rest.split('<').next().unwrap_or_default().to_string())
            .collect()
    };

    // Few matches: Member 040 to 049 ("Outsider Member 4…" does not contain "member 04").
    let few = app.get(&format!("{base}?q=member+04")).await;
    assert_eq!(few.status, 200);
    assert!(few.body.contains("10 members matching"), "{}", few.body);
    let expected: Vec<String> = (40..50).map(|n| format!("member{n}@example.com")).collect();
    assert_eq!(rows(&few.body), expected);

    // Matched by email and not by name: member4@, member40@ … member49@, member400@ … member499@.
    let by_email = app.get(&format!("{base}?q=member4")).await;
    assert!(
        by_email.body.contains("111 members matching"),
        "{}",
        by_email.body
    );
    // A pattern without a trigram (pg_trgm has none for "___"), taken literally.
    let odd = app.get(&format!("{base}?q=___")).await;
    assert!(odd.body.contains("0 members matching"), "{}", odd.body);

    // An outsider's own name: no member matches, and no outsider is shown.
    let outsider = app.get(&format!("{base}?q=outsider+member+77")).await;
    assert!(
        outsider.body.contains("0 members matching"),
        "{}",
        outsider.body
    );

    // Many matches (1,100 members and 1,200 outsiders): walked member by member.
    let many = app.get(&format!("{base}?q=member")).await;
    assert!(many.body.contains("1100 members matching"), "{}", many.body);
    // In name order: "Member 001" … "Member 100", "Member 1000" … "Member 1009", "Member 101" …
    let mut in_order: Vec<(String, String)> = (1..=1100)
        .map(|n| (format!("member {n:03}"), format!("member{n}@example.com")))
        .collect();
    in_order.sort();
    let emails: Vec<String> = in_order.into_iter().map(|(_, email)| email).collect();
    assert_eq!(rows(&many.body), emails[..50]);
    let last = app.get(&format!("{base}?q=member&page=22")).await;
    assert_eq!(rows(&last.body), emails[1050..]);

    // A name with capitals beyond ASCII, found however it is typed (from the indexes: the
    // organization is large and "mile" is a trigram run).
    diesel::sql_query(
        "UPDATE users SET name = 'Émile Ærøskøbing' WHERE email = 'member7@example.com'",
    )
    .execute(&mut app.conn())
    .unwrap();
    for q in [
        "%C3%89mile",
        "%C3%A9mile+%C3%A6r",
        "%C3%89MILE+%C3%86R%C3%98",
    ] {
        let found = app.get(&format!("{base}?q={q}")).await;
        assert!(
            found.body.contains("1 member matching"),
            "{q}: {}",
            found.body
        );
        assert_eq!(rows(&found.body), ["member7@example.com"], "{q}");
    }

    // A pattern too short for a trigram.
    let short = app.get(&format!("{base}?q=r7")).await;
    assert!(short.body.contains("members matching"), "{}", short.body);
    assert!(rows(&short.body).iter().all(|e| e.starts_with("member")));
}

/// Case is folded the same way for names and what is typed, whatever the database's locale
/// (the test cluster has none): "Émile", "émile" and "ÉMILE" find Émile, walking a small
/// organization's members.
#[actix_web::test]
async fn names_beyond_ascii_are_found_however_they_are_typed() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    for (name, email) in [
        ("Émile Zola", "emile@example.com"),
        ("Ölaf Ærø", "olaf@example.com"),
        ("Ωmega Σίσυφος", "omega@example.com"),
        ("Zed Last", "zed@example.com"),
    ] {
        app.create_account_verified(name, email);
        add_member(&app, &slug, email, "member", &[]);
    }
    let base = format!("/orgs/{slug}/access/users");
    for (q, email) in [
        ("%C3%89mile", "emile@example.com"),
        ("%C3%A9MILE", "emile@example.com"),
        ("%C3%B6LAF+%C3%A6R%C3%B8", "olaf@example.com"),
        ("%CF%89MEGA+%CF%83%CE%AF", "omega@example.com"),
        ("%CE%A9MEGA", "omega@example.com"),
    ] {
        let found = app.get(&format!("{base}?q={q}")).await;
        assert_eq!(found.status, 200);
        assert!(
            found.body.contains("1 member matching"),
            "{q}: {}",
            found.body
        );
        assert!(found.body.contains(email), "{q}: {}", found.body);
    }
    // The walk matches the membership's folded copy of the name: a rename reaches it.
    diesel::sql_query("UPDATE users SET name = 'Ärger Zed' WHERE email = 'zed@example.com'")
        .execute(&mut app.conn())
        .unwrap();
    let renamed = app.get(&format!("{base}?q=%C3%84RGER")).await;
    assert!(
        renamed.body.contains("1 member matching"),
        "{}",
        renamed.body
    );
    assert!(renamed.body.contains("zed@example.com"), "{}", renamed.body);
    let stale: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "(SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id
          WHERE m.sort_name <> fold_case(u.name))",
    ))
    .get_result(&mut app.conn())
    .unwrap();
    assert_eq!(
        stale, 0,
        "every membership carries its member's folded name"
    );
}

/// An instance keeps the pages of member lists it has read, under the organization's data
/// version. Every change below is made in SQL after the page was read (and kept), as another
/// instance would make it: the next read shows it, on the page, in a search and in the API.
#[actix_web::test]
async fn a_kept_page_of_members_is_never_shown_after_a_change() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    seed_members(&app, &slug, 3);
    let key = crate::api::create_key(&app, &app.client, "lists").await;
    let org = crate::support::org_id(&app, &slug);
    let list = format!("/orgs/{slug}/access/users");
    let search = format!("{list}?q=member+00");
    let assignments = format!("/api/v1/organizations/{org}/role-assignment");
    let member = |email: &str| format!("(SELECT id FROM users WHERE email = '{email}')");
    let changes = [
        (
            "UPDATE users SET name = 'Renamed One' WHERE email = 'member1@example.com'".to_string(),
            "Renamed One",
        ),
        (
            "UPDATE users SET email = 'moved2@example.com' WHERE email = 'member2@example.com'"
                .to_string(),
            ">moved2@example.com<",
        ),
        (
            format!(
                "UPDATE memberships SET role = 'admin' WHERE user_id = {}",
                member("moved2@example.com")
            ),
            "data-label=\"Role\">admin<",
        ),
        (
            format!(
                "INSERT INTO environment_roles (environment_id, organization_id, user_id, role)
                 SELECT e.id, e.organization_id, {}, 'support' FROM environments e
                 WHERE e.organization_id = {org} AND e.kind = 'production'",
                member("member3@example.com")
            ),
            "production: support",
        ),
        (
            "UPDATE users SET last_sign_in_at = now() - interval '3 hours',
                              totp_enabled_at = now()
             WHERE email = 'member3@example.com'"
                .to_string(),
            ">3 hours ago<",
        ),
        (
            format!(
                "WITH u AS (INSERT INTO users (name, email, password_hash)
                            VALUES ('Newcomer', 'newcomer@example.com', 'x') RETURNING id)
                 INSERT INTO memberships (organization_id, user_id, role) SELECT {org}, id, 'member' FROM u"
            ),
            "5 members",
        ),
    ];
    for (change, shown) in changes {
        let before = app.get(&list).await.body;
        assert!(!before.contains(shown), "{shown} before {change}");
        app.get(&search).await;
        crate::api::api(&app, Some(&key), &assignments).await;
        diesel::sql_query(&change).execute(&mut app.conn()).unwrap();
        let after = app.get(&list).await.body;
        assert!(after.contains(shown), "{change}: {after}");
    }
    let without: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!(
        "SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.organization_id = {org} AND u.totp_enabled_at IS NULL AND u.passkey_count = 0"
    ))
    .get_result(&mut app.conn())
    .unwrap();
    let page = app.get(&list).await.body;
    assert_eq!(
        page.matches("no two-factor").count() as i64,
        without,
        "{page}"
    );

    // A search kept before a removal and a rename: Member 002 and 003, then 002 and 009.
    let found = app.get(&search).await.body;
    assert!(
        found.contains("2 members matching") && found.contains("Member 003"),
        "{found}"
    );
    let (_, before) = crate::api::api(&app, Some(&key), &assignments).await;
    assert_eq!(before["payload"]["total"], 5);
    diesel::sql_query(format!(
        "DELETE FROM memberships WHERE user_id = {}",
        member("member3@example.com")
    ))
    .execute(&mut app.conn())
    .unwrap();
    diesel::sql_query("UPDATE users SET name = 'Member 009' WHERE email = 'newcomer@example.com'")
        .execute(&mut app.conn())
        .unwrap();
    let found = app.get(&search).await.body;
    assert!(
        found.contains("2 members matching")
            && found.contains("Member 009")
            && !found.contains("Member 003"),
        "{found}"
    );
    assert!(!app.get(&list).await.body.contains("member3@example.com"));
    let (_, after) = crate::api::api(&app, Some(&key), &assignments).await;
    assert_eq!(after["payload"]["total"], 4);
    let names: Vec<&str> = after["payload"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["name"].as_str())
        .collect();
    assert!(
        names.contains(&"Member 009") && names.contains(&"Renamed One"),
        "{names:?}"
    );

    // The rows link to the organization by its slug, which can change without a new version.
    assert!(
        app.get(&list)
            .await
            .body
            .contains(&format!("href=\"{list}/"))
    );
    diesel::sql_query(format!(
        "UPDATE organizations SET slug = 'moved-{slug}' WHERE id = {org}"
    ))
    .execute(&mut app.conn())
    .unwrap();
    let moved = app
        .get(&format!("/orgs/moved-{slug}/access/users"))
        .await
        .body;
    assert!(
        moved.contains(&format!("href=\"/orgs/moved-{slug}/access/users/"))
            && !moved.contains(&format!("href=\"{list}/")),
        "{moved}"
    );
}

/// A membership cannot be moved to another organization (the kept pages and access of both
/// rest on their versions, which a move would escape), and emptying the memberships wholesale
/// (TRUNCATE, which row and statement triggers on changes do not see) gives every organization
/// a new version.
#[actix_web::test]
async fn memberships_do_not_move_and_truncating_them_gives_new_versions() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let other = app.create_org("Other").await;
    seed_members(&app, &slug, 2);
    let list = format!("/orgs/{slug}/access/users");
    assert!(app.get(&list).await.body.contains("member2@example.com"));
    let moved = diesel::sql_query(format!(
        "UPDATE memberships SET organization_id = {}
         WHERE user_id = (SELECT id FROM users WHERE email = 'member2@example.com')",
        crate::support::org_id(&app, &other)
    ))
    .execute(&mut app.conn());
    assert!(
        moved
            .unwrap_err()
            .to_string()
            .contains("a membership cannot move")
    );
    assert!(app.get(&list).await.body.contains("member2@example.com"));
    assert!(
        !app.get(&format!("/orgs/{other}/access/users"))
            .await
            .body
            .contains("member2@example.com")
    );

    let versions = |app: &crate::support::TestApp| -> Vec<(i64, i64)> {
        diesel::dsl::sql::<(diesel::sql_types::BigInt, diesel::sql_types::BigInt)>(
            "SELECT o.id, coalesce(v.version, 0) FROM organizations o
             LEFT JOIN org_data_versions v ON v.organization_id = o.id ORDER BY o.id",
        )
        .load(&mut app.conn())
        .unwrap()
    };
    let before = versions(&app);
    // The application's role may not truncate; the database's owner may.
    diesel::sql_query("TRUNCATE memberships CASCADE")
        .execute(&mut app.owner_conn())
        .unwrap();
    let after = versions(&app);
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().zip(&after) {
        assert_ne!(b.1, a.1, "organization {} kept its version", b.0);
    }
}
