//! Deleting organizations (owners before go-live, operators always), the operator console, and
//! the audit page with its CSV export.

use diesel::prelude::*;

use crate::support::{TestApp, add_member, client, spawn_app};

fn org_id(app: &TestApp, slug: &str) -> i64 {
    use gatehouse::db::schema::organizations::dsl as o;
    o::organizations
        .filter(o::slug.eq(slug))
        .select(o::id)
        .first(&mut app.conn())
        .unwrap()
}

fn count(app: &TestApp, sql: &str) -> i64 {
    diesel::dsl::sql::<diesel::sql_types::BigInt>(sql)
        .get_result(&mut app.conn())
        .unwrap()
}

async fn operator(app: &TestApp) -> reqwest::Client {
    let c = client(&app.address);
    app.account(&c, "Oscar Operator", "oscar@example.com").await;
    diesel::sql_query("UPDATE users SET is_operator = true WHERE email = 'oscar@example.com'")
        .execute(&mut app.conn())
        .unwrap();
    c
}

#[actix_web::test]
async fn an_owner_deletes_a_sandbox_organization_after_typing_its_name() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let id = org_id(&app, &slug);
    let mia = client(&app.address);
    app.account(&mia, "Mia Member", "mia@example.com").await;
    add_member(
        &app,
        &slug,
        "mia@example.com",
        "member",
        &[("staging", "viewer")],
    );
    app.invite(&app.client, &slug, "later@example.com", &[])
        .await;
    diesel::sql_query(format!(
        "INSERT INTO config_values (environment_id, organization_id, key, value) SELECT id, organization_id, 'K', 'v' FROM environments WHERE organization_id = {id}"
    ))
    .execute(&mut app.conn())
    .unwrap();

    let page = format!("/orgs/{slug}/delete");
    let wrong = app.post_form(&page, &page, &[("name", "acme")]).await;
    assert_eq!(wrong.status, 422);
    assert!(
        wrong
            .body
            .contains("Type the organization&#x27;s name exactly: Acme")
            || wrong.body.contains("name exactly: Acme"),
        "{}",
        wrong.body
    );
    assert!(wrong.body.contains("value=\"acme\""));
    assert_eq!(
        app.post_form_with(&mia, &format!("/orgs/{slug}"), &page, &[("name", "Acme")])
            .await
            .status,
        403,
        "members cannot"
    );

    let done = app.post_form(&page, &page, &[("name", "Acme")]).await;
    assert_eq!(done.status, 303);
    assert_eq!(
        app.get_with(&mia, &format!("/orgs/{slug}")).await.status,
        404
    );
    for table in [
        "environments",
        "memberships",
        "invitations",
        "environment_roles",
        "config_values",
    ] {
        assert_eq!(
            count(
                &app,
                &format!("SELECT count(*) FROM {table} WHERE organization_id = {id}")
            ),
            0,
            "{table}"
        );
    }
    app.mail
        .wait_for("mia@example.com", "Acme was deleted")
        .await;
    let kept = count(
        &app,
        &format!(
            "SELECT count(*) FROM audit_events WHERE organization_id = {id} AND organization_name = 'Acme'"
        ),
    );
    assert!(kept >= 3, "the audit events stay");
    assert_eq!(app.audit_count("organization.deleted", "successful"), 1);
}

/// The owner's role is judged again under the organization's lock: a delete that passed the
/// page's check just before its sender was demoted (or removed) deletes nothing, and the refusal
/// is audited.
#[actix_web::test]
async fn a_delete_from_someone_no_longer_an_owner_deletes_nothing() {
    use gatehouse::audit::{Actor, RequestMeta};
    use gatehouse::db::lifecycle::{DeleteOutcome, delete};
    use gatehouse::domain::ids::{OrgId, UserId};
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let id = org_id(&app, &slug);
    app.create_account_verified("Dee Demoted", "dee@example.com");
    add_member(&app, &slug, "dee@example.com", "admin", &[]);
    let dee = Actor::User {
        id: UserId(app.user_id("dee@example.com")),
        email: "dee@example.com".into(),
    };
    let meta = RequestMeta {
        ip: Some("192.0.2.1".into()),
        user_agent: None,
    };
    let outcome = delete(&mut app.conn(), OrgId(id), true, &dee, &meta).expect("delete");
    assert_eq!(outcome, DeleteOutcome::NotOwner);
    assert_eq!(
        count(
            &app,
            &format!("SELECT count(*) FROM organizations WHERE id = {id}")
        ),
        1
    );
    assert_eq!(app.audit_count("organization.deleted", "denied"), 1);
    // The owner still can.
    let owner = Actor::User {
        id: UserId(app.user_id("owner@example.com")),
        email: "owner@example.com".into(),
    };
    let outcome = delete(&mut app.conn(), OrgId(id), true, &owner, &meta).expect("delete");
    assert!(matches!(outcome, DeleteOutcome::Deleted { .. }));
}

#[actix_web::test]
async fn live_organizations_are_deleted_only_by_operators() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let id = org_id(&app, &slug);
    let oscar = operator(&app).await;

    let show = format!("/operator/orgs/{id}");
    let wrong = app
        .post_form_with(&oscar, &show, &format!("{show}/live"), &[("name", "ACME")])
        .await;
    assert_eq!(wrong.status, 422);
    assert_eq!(
        app.post_form_with(&oscar, &show, &format!("{show}/live"), &[("name", "Acme")])
            .await
            .status,
        303
    );
    assert!(
        app.get_with(&oscar, &show)
            .await
            .body
            .contains("state-live")
    );

    let settings = app.get(&format!("/orgs/{slug}/settings")).await;
    assert!(
        settings
            .body
            .contains("Live organizations can only be deleted by a platform operator")
    );
    assert!(settings.body.contains("disabled"));
    let page = format!("/orgs/{slug}/delete");
    let refused = app.post_form(&page, &page, &[("name", "Acme")]).await;
    assert_eq!(refused.status, 403);
    assert!(
        refused
            .body
            .contains("Live organizations can only be deleted by a platform operator")
    );
    assert_eq!(app.audit_count("organization.deleted", "denied"), 1);

    assert_eq!(
        app.post_form_with(
            &oscar,
            &show,
            &format!("{show}/delete"),
            &[("name", "Acme")]
        )
        .await
        .status,
        303
    );
    assert_eq!(app.get(&format!("/orgs/{slug}")).await.status, 404);
    let by_operator = count(
        &app,
        "SELECT count(*) FROM audit_events WHERE actor_kind = 'operator' AND action IN ('organization.went_live', 'organization.deleted')",
    );
    assert_eq!(by_operator, 2);

    // The audit log of the deleted organization is still exportable by operators.
    let csv = app
        .get_with(&oscar, &format!("/operator/audit.csv?organization={id}"))
        .await;
    assert_eq!(csv.status, 200);
    assert!(csv.body.contains("organization.created") && csv.body.contains("organization.deleted"));
}

#[actix_web::test]
async fn the_operator_console_is_invisible_to_everyone_else() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let id = org_id(&app, &slug);
    assert_eq!(app.get("/operator").await.status, 404);
    assert_eq!(app.get(&format!("/operator/orgs/{id}")).await.status, 404);
    let r = app
        .post_form(
            &format!("/orgs/{slug}"),
            &format!("/operator/orgs/{id}/live"),
            &[("name", "Acme")],
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        app.audit_count("organization.went_live", "denied"),
        1,
        "the attempt is audited"
    );
    assert!(
        !app.get(&format!("/orgs/{slug}"))
            .await
            .body
            .contains("Operator console")
    );

    let oscar = operator(&app).await;
    for i in 0..3 {
        let c = client(&app.address);
        app.account(&c, "Someone", &format!("s{i}@example.com"))
            .await;
    }
    let list = app.get_with(&oscar, "/operator?q=acm").await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("1 organization"));
    assert!(
        list.body.contains(
            ">Acme</a></td><td><span class=\"state state-sandbox\">sandbox</span></td><td>1</td>"
        ),
        "{}",
        list.body
    );
    // Organization names are searched with one case folding beyond ASCII too.
    diesel::sql_query(
        "WITH o AS (INSERT INTO organizations (name, slug) VALUES ('Ärzte Nord', 'arzte-nord')
                    RETURNING id)
         INSERT INTO environments (organization_id, kind)
         SELECT o.id, k FROM o, unnest(ARRAY['development', 'staging', 'production']) k",
    )
    .execute(&mut app.conn())
    .unwrap();
    for q in ["%C3%84rzte", "%C3%A4RZTE+n"] {
        let found = app.get_with(&oscar, &format!("/operator?q={q}")).await;
        assert!(found.body.contains("1 organization"), "{q}: {}", found.body);
        assert!(
            found.body.contains(">Ärzte Nord</a>"),
            "{q}: {}",
            found.body
        );
    }
    assert!(
        app.get_with(&oscar, "/orgs")
            .await
            .body
            .contains("Operator console"),
        "linked in the navigation"
    );
}

#[actix_web::test]
async fn owners_read_filter_page_and_export_the_audit_log() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let id = org_id(&app, &slug);
    let adam = client(&app.address);
    app.account(&adam, "Adam Admin", "adam@example.com").await;
    add_member(&app, &slug, "adam@example.com", "admin", &[]);
    assert_eq!(
        app.get_with(&adam, &format!("/orgs/{slug}/audit"))
            .await
            .status,
        403,
        "owners only"
    );
    assert_eq!(
        app.get_with(&adam, &format!("/orgs/{slug}/audit.csv"))
            .await
            .status,
        403
    );

    let settings = format!("/orgs/{slug}/settings");
    app.post_form(&settings, &settings, &[("name", "Acme, \"The\" Company")])
        .await;
    diesel::sql_query(format!(
        "INSERT INTO audit_events (organization_id, organization_name, actor_kind, actor_label, action, target, status, created_at)
         SELECT {id}, 'Acme', 'user', 'bot@example.com', 'config.changed', '=cmd|x' || g, 'successful', now() - interval '3 days'
         FROM generate_series(1, 120) g"
    ))
    .execute(&mut app.conn())
    .unwrap();

    let base = format!("/orgs/{slug}/audit");
    let all = app.get(&base).await;
    assert_eq!(all.status, 200);
    let shown = all
        .body
        .split(" events</p>")
        .next()
        .unwrap_or("")
        .rsplit("muted\">")
        .next()
        .unwrap_or("")
        .to_string();
    assert_eq!(
        shown, "124",
        "created, renamed, two refused visits by the admin, 120 seeded"
    );
    assert!(all.body.contains("Page 1 of 3"));
    let renamed = app
        .get(&format!("{base}?action=organization.renamed"))
        .await;
    assert!(renamed.body.contains("1 event"));
    let denied = app.get(&format!("{base}?status=denied")).await;
    assert!(
        denied.body.contains("2 events"),
        "the admin's two refused visits"
    );
    let by_user = app.get(&format!("{base}?user=BOT%40example.com")).await;
    assert!(by_user.body.contains("120 events"));
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let recent = app.get(&format!("{base}?from={today}")).await;
    assert!(recent.body.contains("4 events"));
    let bad_date = app.get(&format!("{base}?from=yesterday")).await;
    assert_eq!(bad_date.status, 422);
    assert!(bad_date.body.contains("use a date like"));
    // The last day chrono can hold has no next day: refused like any bad date, never a panic.
    for far in ["%2B262142-12-31", "-0001-01-01", "0000-01-01"] {
        let r = app.get(&format!("{base}?to={far}")).await;
        assert_eq!(r.status, 422, "{far}");
        assert!(r.body.contains("use a date like"), "{far}");
        let r = app.get(&format!("/orgs/{slug}/audit.csv?to={far}")).await;
        assert_eq!(r.status, 400, "{far}");
    }

    let csv = app
        .get(&format!("/orgs/{slug}/audit.csv?user=bot%40example.com"))
        .await;
    assert_eq!(csv.status, 200);
    let lines: Vec<&str> = csv.body.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 121, "header and every filtered event");
    assert!(lines[0].starts_with("id,time,organization_id"));
    assert!(
        lines[1].contains(",'=cmd|x"),
        "formulas defused: {}",
        lines[1]
    );
    let everything = app.get(&format!("/orgs/{slug}/audit.csv")).await.body;
    assert!(
        everything.contains("\"Acme, \"\"The\"\" Company\""),
        "quotes and commas escaped"
    );
}
