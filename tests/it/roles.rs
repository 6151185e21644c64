//! Edit roles with the permission diff, production's fresh password, the owner/admin rules under
//! concurrency, the Environments tab and grid, and environment pages with their assets.

use diesel::prelude::*;

use crate::support::{PASSWORD, TestApp, add_member, client, spawn_app};

/// A signed-in member with the given roles.
async fn member(
    app: &TestApp,
    slug: &str,
    name: &str,
    email: &str,
    role: &str,
    envs: &[(&str, &str)],
) -> reqwest::Client {
    let c = client(&app.address);
    app.account(&c, name, email).await;
    add_member(app, slug, email, role, envs);
    c
}

fn roles_path(app: &TestApp, slug: &str, email: &str) -> String {
    format!("/orgs/{slug}/access/users/{}/roles", app.user_id(email))
}

fn owners(app: &TestApp) -> i64 {
    use gatehouse::db::schema::memberships::dsl as m;
    m::memberships
        .filter(m::role.eq("owner"))
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

#[actix_web::test]
async fn edit_roles_previews_the_permission_diff_then_saves() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let mia = member(
        &app,
        &slug,
        "Mia Member",
        "mia@example.com",
        "member",
        &[("development", "viewer")],
    )
    .await;
    let path = roles_path(&app, &slug, "mia@example.com");
    let fields = [
        ("role", "member"),
        ("development", "viewer"),
        ("staging", "support"),
        ("production", ""),
    ];

    let preview = app.post_form(&path, &path, &fields).await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    assert!(
        preview
            .body
            .contains("Mia Member gains 3 permissions and loses 0."),
        "{}",
        preview.body
    );
    assert!(
        preview
            .body
            .contains("<li>Staging: Reveal secret configuration values</li>")
    );
    assert!(preview.body.contains(">Cancel</a>"));
    assert_eq!(
        app.get_with(&mia, &format!("/orgs/{slug}/env/staging"))
            .await
            .status,
        403,
        "nothing saved by the preview"
    );

    let mut confirm = fields.to_vec();
    confirm.push(("confirm", "yes"));
    let saved = app.post_form(&path, &path, &confirm).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(
        app.get_with(&mia, &format!("/orgs/{slug}/env/staging"))
            .await
            .status,
        200,
        "felt on the very next request"
    );
    assert_eq!(app.audit_count("environment.role_granted", "successful"), 1);

    let unchanged = app.post_form(&path, &path, &confirm).await;
    assert_eq!(unchanged.status, 422);
    assert!(unchanged.body.contains("Nothing changed"));
}

#[actix_web::test]
async fn a_production_role_needs_a_fresh_password_then_continues_without_it() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    member(&app, &slug, "Mia Member", "mia@example.com", "member", &[]).await;
    let path = roles_path(&app, &slug, "mia@example.com");
    let want = [
        ("role", "member"),
        ("development", ""),
        ("staging", ""),
        ("production", "viewer"),
        ("confirm", "yes"),
    ];
    let refused = app.post_form(&path, &path, &want).await;
    assert_eq!(refused.status, 422);
    assert!(
        refused
            .body
            .contains("Re-enter your password to grant or raise a production role.")
    );
    let mut with_password = want.to_vec();
    with_password.push(("password", PASSWORD));
    assert_eq!(
        app.post_form(&path, &path, &with_password).await.status,
        303
    );
    let raise = [
        ("role", "member"),
        ("development", ""),
        ("staging", ""),
        ("production", "engineer"),
        ("confirm", "yes"),
    ];
    assert_eq!(
        app.post_form(&path, &path, &raise).await.status,
        303,
        "within SUDO_MINUTES no retyping"
    );
    diesel::sql_query("UPDATE sessions SET state = jsonb_set(state, '{sudo_at}', to_jsonb((extract(epoch from now())::bigint - 3600)::text))")
        .execute(&mut app.conn())
        .unwrap();
    let lower = [
        ("role", "member"),
        ("development", ""),
        ("staging", ""),
        ("production", "viewer"),
        ("confirm", "yes"),
    ];
    assert_eq!(
        app.post_form(&path, &path, &lower).await.status,
        303,
        "lowering needs no password"
    );
    let raise_again = app.post_form(&path, &path, &raise).await;
    assert_eq!(
        raise_again.status, 422,
        "after the window, raising asks again"
    );
}

#[actix_web::test]
async fn admins_cannot_change_owners_admins_or_organization_roles() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let adam = member(&app, &slug, "Adam Admin", "adam@example.com", "admin", &[]).await;
    member(&app, &slug, "Ann Admin", "ann@example.com", "admin", &[]).await;
    member(&app, &slug, "Mia Member", "mia@example.com", "member", &[]).await;

    let mia = roles_path(&app, &slug, "mia@example.com");
    let form = app.get_with(&adam, &mia).await;
    assert!(
        form.body.contains("only owners change organization roles"),
        "read-only for admins"
    );
    assert!(!form.body.contains("<select id=\"role\""));
    let promote = app
        .post_form_with(
            &adam,
            &mia,
            &mia,
            &[("role", "admin"), ("staging", "viewer"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(
        promote.status, 303,
        "the role field is ignored for admins; the environment change is made"
    );
    use gatehouse::db::schema::memberships::dsl as m;
    let role: String = m::memberships
        .filter(m::user_id.eq(app.user_id("mia@example.com")))
        .select(m::role)
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(role, "member");

    for target in ["ann@example.com", "owner@example.com"] {
        let path = roles_path(&app, &slug, target);
        let r = app
            .post_form_with(
                &adam,
                &path,
                &path,
                &[("staging", "engineer"), ("confirm", "yes")],
            )
            .await;
        assert_eq!(r.status, 403, "{target}");
        assert!(
            r.body
                .contains("Admins cannot change the roles of owners or admins.")
        );
    }

    let by_owner = app
        .post_form(
            &mia,
            &mia,
            &[("role", "admin"), ("staging", "viewer"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(by_owner.status, 303);
    let role: String = m::memberships
        .filter(m::user_id.eq(app.user_id("mia@example.com")))
        .select(m::role)
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(role, "admin");
    assert_eq!(app.audit_count("member.role_changed", "successful"), 1);
}

#[actix_web::test]
async fn the_last_owner_cannot_be_demoted() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let me = roles_path(&app, &slug, "owner@example.com");
    let r = app
        .post_form(
            &me,
            &me,
            &[
                ("role", "admin"),
                ("development", "engineer"),
                ("staging", "engineer"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("Make another member an owner first."));
    assert_eq!(owners(&app), 1);
    assert_eq!(app.audit_count("member.role_changed", "denied"), 1);
}

#[actix_web::test]
async fn twenty_simultaneous_demotions_of_the_last_two_owners_leave_at_least_one() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let cole = member(&app, &slug, "Cole Owner", "cole@example.com", "owner", &[]).await;
    let olivia_path = roles_path(&app, &slug, "owner@example.com");
    let cole_path = roles_path(&app, &slug, "cole@example.com");
    let t1 = crate::support::csrf_token(&app.get(&cole_path).await.body);
    let t2 = crate::support::csrf_token(&app.get_with(&cole, &olivia_path).await.body);
    let requests = (0..20).map(|i| {
        let (c, path, token) = if i % 2 == 0 {
            (&app.client, &cole_path, &t1)
        } else {
            (&cole, &olivia_path, &t2)
        };
        let req = c.post(app.url(path)).form(&[
            ("csrf_token", token.as_str()),
            ("role", "member"),
            ("confirm", "yes"),
        ]);
        async move { req.send().await.map(|r| r.status().as_u16()).unwrap_or(0) }
    });
    let statuses = futures::future::join_all(requests).await;
    assert!(
        statuses.iter().all(|s| [303, 403, 404, 422].contains(s)),
        "{statuses:?}"
    );
    assert!(
        owners(&app) >= 1,
        "an organization always keeps an owner: {statuses:?}"
    );
}

#[actix_web::test]
async fn the_environments_tab_counts_lists_and_changes_many_roles_at_once() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let mia = member(
        &app,
        &slug,
        "Mia Member",
        "mia@example.com",
        "member",
        &[("staging", "viewer")],
    )
    .await;
    member(&app, &slug, "Max Member", "max@example.com", "member", &[]).await;
    member(&app, &slug, "Ann Admin", "ann@example.com", "admin", &[]).await;

    let tab = app.get(&format!("/orgs/{slug}/access/environments")).await;
    assert!(
        tab.body.contains("Development</a></td><td>1</td>"),
        "{}",
        tab.body
    );
    assert!(tab.body.contains("Staging</a></td><td>2</td>"));
    assert!(tab.body.contains("Production</a></td><td>0</td>"));
    let staging = app
        .get(&format!("/orgs/{slug}/access/environments/staging"))
        .await;
    assert!(staging.body.contains("mia@example.com</td><td>viewer</td>"));
    assert_eq!(
        app.get(&format!("/orgs/{slug}/access/environments/nowhere"))
            .await
            .status,
        404
    );

    let grid = format!("/orgs/{slug}/access/grid");
    let page = app.get(&grid).await.body;
    let users = page
        .split("name=\"users\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let (mia_id, max_id) = (
        app.user_id("mia@example.com"),
        app.user_id("max@example.com"),
    );
    let mia_staging = format!("r-{mia_id}-staging");
    let max_dev = format!("r-{max_id}-development");
    let saved = app
        .post_form(
            &grid,
            &grid,
            &[
                ("users", users.as_str()),
                ("page", "1"),
                (mia_staging.as_str(), "support"),
                (max_dev.as_str(), "engineer"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert!(app.get(&grid).await.body.contains("Saved 2 role changes."));
    assert_eq!(
        app.get_with(&mia, &format!("/orgs/{slug}/env/staging"))
            .await
            .status,
        200
    );

    // An admin's grid save that touches an admin is refused whole.
    let adam = member(&app, &slug, "Adam Admin", "adam@example.com", "admin", &[]).await;
    let ann_id = app.user_id("ann@example.com");
    let ann_dev = format!("r-{ann_id}-development");
    let mia_dev = format!("r-{mia_id}-development");
    let all = format!("{users},{}", app.user_id("adam@example.com"));
    let refused = app
        .post_form_with(
            &adam,
            &grid,
            &grid,
            &[
                ("users", all.as_str()),
                (mia_dev.as_str(), "viewer"),
                (ann_dev.as_str(), "viewer"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("Nothing was saved."));
    let mia_roles: i64 = gatehouse::db::schema::environment_roles::table
        .filter(gatehouse::db::schema::environment_roles::user_id.eq(mia_id))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(
        mia_roles, 1,
        "Mia's part of the refused save was rolled back too"
    );

    let prod = format!("r-{mia_id}-production");
    let no_password = app
        .post_form(
            &grid,
            &grid,
            &[("users", users.as_str()), (prod.as_str(), "viewer")],
        )
        .await;
    assert_eq!(no_password.status, 422);
    assert!(no_password.body.contains("Re-enter your password"));
}

#[actix_web::test]
async fn environment_pages_follow_the_environment_roles() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let vic = member(
        &app,
        &slug,
        "Vic Viewer",
        "vic@example.com",
        "member",
        &[("staging", "viewer")],
    )
    .await;
    let sue = member(
        &app,
        &slug,
        "Sue Support",
        "sue@example.com",
        "member",
        &[("staging", "support")],
    )
    .await;
    let env = format!("/orgs/{slug}/env/staging");

    let add = app
        .post_form_with(
            &sue,
            &env,
            &format!("{env}/config"),
            &[
                ("key", "DB_PASSWORD"),
                ("value", "hunter2-very-secret"),
                ("secret", "1"),
            ],
        )
        .await;
    assert_eq!(add.status, 303, "{}", add.body);
    app.post_form_with(
        &sue,
        &env,
        &format!("{env}/config"),
        &[("key", "REGION"), ("value", "eu-west-1")],
    )
    .await;
    let dup = app
        .post_form_with(
            &sue,
            &env,
            &format!("{env}/config"),
            &[("key", "REGION"), ("value", "x")],
        )
        .await;
    assert_eq!(dup.status, 422);
    assert!(dup.body.contains("already exists"));
    let bad = app
        .post_form_with(
            &sue,
            &env,
            &format!("{env}/config"),
            &[("key", "has space"), ("value", "x")],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("value=\"has space\""), "value kept");

    let as_viewer = app.get_with(&vic, &env).await;
    assert_eq!(as_viewer.status, 200);
    assert!(as_viewer.body.contains("eu-west-1"));
    assert!(!as_viewer.body.contains("hunter2"), "secrets masked");
    assert!(
        !as_viewer.body.contains("/reveal") && !as_viewer.body.contains("Add value"),
        "viewers read only"
    );
    let id: i64 = {
        use gatehouse::db::schema::config_values::dsl as c;
        c::config_values
            .filter(c::key.eq("DB_PASSWORD"))
            .select(c::id)
            .first(&mut app.conn())
            .unwrap()
    };
    assert_eq!(
        app.post_form_with(&vic, &env, &format!("{env}/config/{id}/reveal"), &[])
            .await
            .status,
        403
    );
    assert_eq!(
        app.post_form_with(
            &vic,
            &env,
            &format!("{env}/config"),
            &[("key", "X"), ("value", "y")]
        )
        .await
        .status,
        403
    );

    let revealed = app
        .post_form_with(&sue, &env, &format!("{env}/config/{id}/reveal"), &[])
        .await;
    assert!(revealed.body.contains("hunter2-very-secret"));
    assert_eq!(
        app.post_form_with(
            &sue,
            &env,
            &format!("{env}/config/{id}"),
            &[("value", "new-secret-value"), ("secret", "1")]
        )
        .await
        .status,
        303
    );
    // A secret's edit form starts empty: saved empty (here with "secret" unticked), it keeps
    // the value rather than erasing it, and keeps it secret rather than showing it to all.
    assert!(
        app.get_with(&sue, &env)
            .await
            .body
            .contains("Leave empty to keep the current value, secret.")
    );
    assert_eq!(
        app.post_form_with(&sue, &env, &format!("{env}/config/{id}"), &[("value", "")])
            .await
            .status,
        303
    );
    let (value, secret): (String, bool) = {
        use gatehouse::db::schema::config_values::dsl as v;
        v::config_values
            .filter(v::id.eq(id))
            .select((v::value, v::secret))
            .first(&mut app.conn())
            .unwrap()
    };
    assert_eq!((value.as_str(), secret), ("new-secret-value", true));
    assert_eq!(
        app.post_form_with(&sue, &env, &format!("{env}/keys"), &[("name", "ci")])
            .await
            .status,
        403,
        "support cannot create keys"
    );

    // The owner is engineer in staging: keys are shown once and stored hashed.
    let created = app
        .post_form(&env, &format!("{env}/keys"), &[("name", "deploy bot")])
        .await;
    assert_eq!(created.status, 303, "post/redirect/get");
    assert_eq!(created.location.as_deref(), Some(env.as_str()));
    let shown = app.get(&env).await;
    let key = shown
        .body
        .split("<code class=\"revealed\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string();
    assert!(key.starts_with("gatehouse_ek_") && key.len() > 40);
    assert!(!app.get(&env).await.body.contains(&key), "shown once");
    let keys: i64 = {
        use gatehouse::db::schema::environment_api_keys::dsl as k;
        k::environment_api_keys
            .count()
            .get_result(&mut app.conn())
            .unwrap()
    };
    assert_eq!(keys, 1, "refreshing the page creates nothing");
    let stored: Vec<u8> = {
        use gatehouse::db::schema::environment_api_keys::dsl as k;
        k::environment_api_keys
            .select(k::key_hash)
            .first(&mut app.conn())
            .unwrap()
    };
    assert_eq!(stored, gatehouse::db::tokens::hash(&key));
    let key_id: i64 = {
        use gatehouse::db::schema::environment_api_keys::dsl as k;
        k::environment_api_keys
            .select(k::id)
            .first(&mut app.conn())
            .unwrap()
    };
    assert_eq!(
        app.post_form(&env, &format!("{env}/keys/{key_id}/revoke"), &[])
            .await
            .status,
        303
    );
    assert!(app.get(&env).await.body.contains("state-revoked"));

    // No role in production: no entry. The creator leaves: the value stays.
    assert_eq!(
        app.get_with(&sue, &format!("/orgs/{slug}/env/production"))
            .await
            .status,
        403
    );
    let leave = format!("/orgs/{slug}/leave");
    app.post_form_with(&sue, &leave, &leave, &[]).await;
    let after = app.get_with(&vic, &env).await.body;
    assert!(
        after.contains("REGION") && after.contains("former member"),
        "{after}"
    );
    assert_eq!(app.audit_count("config.changed", "successful"), 4);
    assert_eq!(app.audit_count("api_key.created", "successful"), 1);
    assert_eq!(app.audit_count("api_key.revoked", "successful"), 1);
    assert_eq!(app.audit_count("config.revealed", "successful"), 1);
}
