//! What a new user meets: empty lists that say what to do, flashes that name what changed, and
//! destructive buttons that say what they destroy.

use crate::support::{add_member_env_role, member, spawn_app};

#[actix_web::test]
async fn empty_lists_say_what_to_do() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let pages = [
        (
            format!("/orgs/{slug}/access/invitations"),
            "No invitations yet.",
        ),
        (
            format!("/orgs/{slug}/access/users?q=zzz"),
            "Nobody matches “zzz”.",
        ),
        (
            format!("/orgs/{slug}/access/environments/production"),
            "Nobody has a role in Production yet.",
        ),
        (
            format!("/orgs/{slug}/env/development"),
            "No configuration values in Development yet. Add the first one",
        ),
        (
            format!("/orgs/{slug}/env/development"),
            "No API keys for Development yet. Create one below",
        ),
        (
            "/account/api-keys".to_string(),
            "You have no API keys yet. Create one below",
        ),
        (
            format!("/orgs/{slug}/audit?action=organization.deleted"),
            "No events match these filters.",
        ),
    ];
    for (page, says) in pages {
        let r = app.get(&page).await;
        assert_eq!(r.status, 200, "{page}");
        assert!(r.body.contains(says), "{page} should say: {says}");
    }
}

#[actix_web::test]
async fn flashes_name_what_changed_and_buttons_what_they_destroy() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let env = format!("/orgs/{slug}/env/development");
    let flash_after = |r: crate::support::Response| {
        let app = &app;
        async move {
            assert_eq!(r.status, 303, "{}", r.body);
            app.get(r.location.as_deref().unwrap()).await.body
        }
    };
    let added = app
        .post_form(
            &env,
            &format!("{env}/config"),
            &[("key", "REGION"), ("value", "eu")],
        )
        .await;
    let page = flash_after(added).await;
    assert!(page.contains("REGION was added to Development."), "{page}");
    assert!(
        page.contains("Delete value"),
        "the button says what it deletes"
    );
    let id: i64 = diesel::RunQueryDsl::get_result(
        diesel::dsl::sql::<diesel::sql_types::BigInt>("SELECT id FROM config_values"),
        &mut app.conn(),
    )
    .unwrap();
    let saved = app
        .post_form(&env, &format!("{env}/config/{id}"), &[("value", "us")])
        .await;
    assert!(
        flash_after(saved)
            .await
            .contains("REGION was saved in Development.")
    );
    let deleted = app
        .post_form(&env, &format!("{env}/config/{id}/delete"), &[])
        .await;
    assert!(
        flash_after(deleted)
            .await
            .contains("REGION was deleted from Development.")
    );

    let created = app
        .post_form(&env, &format!("{env}/keys"), &[("name", "deploy bot")])
        .await;
    assert!(flash_after(created).await.contains("Revoke key"));

    let sent = app.invite(&app.client, &slug, "pat@example.com", &[]).await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    let list = app
        .get(&format!("/orgs/{slug}/access/invitations"))
        .await
        .body;
    assert!(list.contains("Revoke invitation"));
    let inv: i64 = diesel::RunQueryDsl::get_result(
        diesel::dsl::sql::<diesel::sql_types::BigInt>("SELECT id FROM invitations"),
        &mut app.conn(),
    )
    .unwrap();
    let invitations = format!("/orgs/{slug}/access/invitations");
    let revoked = app
        .post_form(&invitations, &format!("{invitations}/{inv}/revoke"), &[])
        .await;
    assert!(
        flash_after(revoked)
            .await
            .contains("The invitation of pat@example.com was revoked")
    );

    member(&app, &slug, "Mia Member", "mia@example.com", "member").await;
    add_member_env_role(&app, &slug, "mia@example.com", "staging", "viewer");
    let mia = app.user_id("mia@example.com");
    let view = format!("/orgs/{slug}/access/users/{mia}");
    let removed = app.post_form(&view, &format!("{view}/remove"), &[]).await;
    assert!(
        flash_after(removed)
            .await
            .contains("Mia Member was removed from")
    );
    let delete = app.get(&format!("/orgs/{slug}/delete")).await.body;
    assert!(delete.contains("Delete Acme"), "{delete}");
}
