//! The one enforcement path: refusals on every path (pages, the grid, pre-checks, the API) are
//! recorded, and a refusal is kept even when the change around it is rolled back.

use diesel::prelude::*;

use crate::api::{create_key, send};
use crate::support::{PASSWORD, TestApp, env_id, member, org_id, spawn_app};

fn env_role(app: &TestApp, slug: &str, email: &str, kind: &str) -> Option<String> {
    diesel::dsl::sql::<diesel::sql_types::Text>(&format!(
        "SELECT r.role FROM environment_roles r JOIN environments e ON e.id = r.environment_id
         JOIN organizations o ON o.id = e.organization_id JOIN users u ON u.id = r.user_id
         WHERE o.slug = '{slug}' AND e.kind = '{kind}' AND u.email = '{email}'"
    ))
    .get_result(&mut app.conn())
    .optional()
    .unwrap()
}

#[actix_web::test]
async fn refused_api_calls_are_audited_like_refused_pages() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let org = org_id(&app, &slug);
    let owner_id = app.user_id("owner@example.com");
    let mia = member(&app, &slug, "Mia Member", "mia@example.com", "member").await;
    let member_key = create_key(&app, &mia, "member").await;
    let adam = member(&app, &slug, "Adam Admin", "adam@example.com", "admin").await;
    let admin_key = create_key(&app, &adam, "admin").await;

    // A member reaching for owner/admin actions, by organization id and by environment id.
    let change = format!(r#"{{"userId": {owner_id}, "role": "member"}}"#);
    let (status, body) = send(
        &app,
        &member_key,
        "PUT",
        &format!("/api/v1/organizations/{org}/role-assignment"),
        Some(&change),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let staging = env_id(&app, &slug, "staging");
    let (status, _) = send(
        &app,
        &member_key,
        "GET",
        &format!("/api/v1/environments/{staging}/role-assignment"),
        None,
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(app.audit_count("permission.denied", "denied"), 2);
    let actor_kind: String = diesel::dsl::sql::<diesel::sql_types::Text>(
        "SELECT actor_kind FROM audit_events WHERE action = 'permission.denied' LIMIT 1",
    )
    .get_result(&mut app.conn())
    .unwrap();
    assert_eq!(actor_kind, "api_key");

    // An admin inviting an admin: refused by the same rule and recorded as on the page.
    let (status, _) = send(
        &app,
        &admin_key,
        "POST",
        &format!("/api/v1/organizations/{org}/invitations"),
        Some(r#"{"emails": ["x@example.com"], "role": "admin"}"#),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(app.audit_count("invitation.created", "denied"), 1);

    // An admin removing the owner: refused under lock, recorded.
    let (status, _) = send(
        &app,
        &admin_key,
        "DELETE",
        &format!("/api/v1/organizations/{org}/role-assignment?userId={owner_id}"),
        None,
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(app.audit_count("member.removed", "denied"), 1);
}

#[actix_web::test]
async fn wrong_production_passwords_are_throttled_and_audited_on_every_path() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    member(&app, &slug, "Mia Member", "mia@example.com", "member").await;
    let mia_id = app.user_id("mia@example.com");
    let key = create_key(&app, &app.client, "owner").await;
    let production = format!(
        "/api/v1/environments/{}/role-assignment",
        env_id(&app, &slug, "production")
    );

    let wrong =
        format!(r#"{{"userId": {mia_id}, "role": "viewer", "password": "not the password"}}"#);
    for _ in 0..3 {
        let (status, body) = send(&app, &key, "POST", &production, Some(&wrong)).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (403, Some("password_required"))
        );
    }
    // The page's re-entry goes through the same check.
    let edit = format!("/orgs/{slug}/access/users/{mia_id}/roles");
    let r = app
        .post_form(
            &edit,
            &edit,
            &[
                ("role", "member"),
                ("development", ""),
                ("staging", ""),
                ("production", "viewer"),
                ("confirm", "yes"),
                ("password", "still not it"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(
        r.body.contains("That password is not correct."),
        "{}",
        r.body
    );
    assert_eq!(app.audit_count("user.password_reentry_failed", "denied"), 4);
    assert_eq!(env_role(&app, &slug, "mia@example.com", "production"), None);

    // Past the sign-in limit the account is locked for re-entry too, right password or not.
    for _ in 4..10 {
        send(&app, &key, "POST", &production, Some(&wrong)).await;
    }
    let right = format!(r#"{{"userId": {mia_id}, "role": "viewer", "password": "{PASSWORD}"}}"#);
    let (status, body) = send(&app, &key, "POST", &production, Some(&right)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("password_locked"))
    );
    assert_eq!(env_role(&app, &slug, "mia@example.com", "production"), None);
}

#[actix_web::test]
async fn a_refused_grid_save_saves_nothing_but_keeps_the_refusal() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let owner_id = app.user_id("owner@example.com");
    let mia = member(&app, &slug, "Mia Member", "mia@example.com", "member").await;
    let mia_id = app.user_id("mia@example.com");
    let adam = member(&app, &slug, "Adam Admin", "adam@example.com", "admin").await;

    let grid = format!("/orgs/{slug}/access/grid");
    let users = format!("{mia_id},{owner_id}");
    let (mia_cell, owner_cell) = (
        format!("r-{mia_id}-staging"),
        format!("r-{owner_id}-staging"),
    );
    let r = app
        .post_form_with(
            &adam,
            &grid,
            &grid,
            &[
                ("users", users.as_str()),
                ("page", "1"),
                (mia_cell.as_str(), "viewer"),
                (owner_cell.as_str(), "viewer"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("Nothing was saved."));
    assert_eq!(
        env_role(&app, &slug, "mia@example.com", "staging"),
        None,
        "all or nothing"
    );
    assert_eq!(app.audit_count("environment.role_granted", "successful"), 0);
    assert_eq!(
        app.audit_count("member.role_changed", "denied"),
        1,
        "the refusal outlives the rolled-back save"
    );

    // A member posting to the grid is refused by the enforcement path, and that is recorded.
    let r = app
        .post_form_with(
            &mia,
            &format!("/orgs/{slug}"),
            &grid,
            &[("users", users.as_str()), (mia_cell.as_str(), "engineer")],
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(app.audit_count("permission.denied", "denied"), 1);
    assert_eq!(env_role(&app, &slug, "mia@example.com", "staging"), None);
}

/// A change checked a moment before its actor's role was taken away is judged again under the
/// row lock: nothing changes, the refusal is recorded, the answer is 403. For an environment
/// (configuration values) and for the organization (renaming, revoking invitations).
#[actix_web::test]
async fn a_role_taken_away_after_the_check_refuses_the_change() {
    use gatehouse::audit::{Actor, RequestMeta};
    use gatehouse::authz::{EnvKind, EnvPermission, OrgPermission};
    use gatehouse::db::orgs::OrgRef;
    use gatehouse::error::AppError;
    use gatehouse::ops::{self, Ctx};
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    member(&app, &slug, "Eli Engineer", "eli@example.com", "admin").await;
    crate::support::add_member_env_role(&app, &slug, "eli@example.com", "staging", "engineer");
    let eli = app.user_id("eli@example.com");
    let ctx = Ctx {
        actor: Actor::User {
            id: gatehouse::domain::ids::UserId(eli),
            email: "eli@example.com".into(),
        },
        meta: RequestMeta::default(),
        path: format!("/orgs/{slug}/env/staging/config"),
    };
    let org = OrgRef::Slug(slug.clone());
    let (access, env) = ops::access::require_env(
        &app.pool,
        &ctx,
        org.clone(),
        EnvKind::Staging,
        EnvPermission::EditConfig,
    )
    .await
    .expect("allowed at the check");
    let admin = ops::access::require_org(&app.pool, &ctx, org, OrgPermission::ManageProfile).await;
    assert!(admin.is_err(), "admins do not rename");
    let denied_before = app.audit_count("permission.denied", "denied");

    // The role goes away between the check and the change.
    diesel::sql_query(format!(
        "DELETE FROM environment_roles WHERE user_id = {eli}"
    ))
    .execute(&mut app.conn())
    .unwrap();
    let target = ops::assets::EnvTarget {
        access: access.clone(),
        env,
        user_id: gatehouse::domain::ids::UserId(eli),
    };
    let late =
        ops::assets::create_config(&app.pool, &ctx, target, "LATE".into(), "1".into(), false).await;
    assert!(matches!(late, Err(AppError::Forbidden)), "{late:?}");
    let values: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "SELECT count(*) FROM config_values WHERE key = 'LATE'",
    )
    .get_result(&mut app.conn())
    .unwrap();
    assert_eq!(values, 0);

    diesel::sql_query(format!(
        "UPDATE memberships SET role = 'member' WHERE user_id = {eli}"
    ))
    .execute(&mut app.conn())
    .unwrap();
    let revoke = ops::invitations::revoke(
        &app.pool,
        &ctx,
        &access.org,
        gatehouse::domain::ids::InvitationId(1),
    )
    .await;
    assert!(matches!(revoke, Err(AppError::Forbidden)), "{revoke:?}");
    assert_eq!(
        app.audit_count("permission.denied", "denied"),
        denied_before + 2
    );
}
