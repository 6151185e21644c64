//! Invitations: the form, the lifecycle, the email, and every acceptance path.

use diesel::prelude::*;

use crate::support::{
    Options, PASSWORD, TestApp, add_member, client, eventually, memberships_of, seed_memberships,
    spawn_app, spawn_app_with,
};

fn invitation_states(app: &TestApp) -> Vec<(String, String, i32)> {
    use gatehouse::db::schema::invitations::dsl as i;
    i::invitations
        .order(i::id)
        .select((i::email, i::status, i::send_count))
        .load(&mut app.conn())
        .unwrap()
}

#[actix_web::test]
async fn a_new_person_joins_from_the_emailed_link_with_the_granted_roles() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let r = app
        .invite(
            &app.client,
            &slug,
            "Nina@Example.com",
            &[("staging", "viewer")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);

    let mail = app
        .mail
        .wait_for("nina@example.com", "Olivia Owner invited you to Acme")
        .await;
    assert!(mail.raw.contains("as member"), "role named");
    assert!(mail.raw.contains("staging: viewer"), "environments named");
    assert!(mail.raw.contains(" UTC"), "absolute expiry date");
    assert!(mail.raw.contains("Content-Type: text/html"));
    let path = app.invitation_path("nina@example.com").await;

    let visitor = client(&app.address);
    let form = app.get_with(&visitor, &path).await;
    assert_eq!(form.status, 200);
    assert!(
        form.body.contains("value=\"nina@example.com\" readonly"),
        "email filled in and locked"
    );
    let joined = app
        .post_form_with(
            &visitor,
            &path,
            &format!("{path}/signup"),
            &[("name", "Nina New"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(joined.status, 303, "{}", joined.body);
    assert_eq!(
        joined.location.as_deref(),
        Some(format!("/orgs/{slug}").as_str()),
        "straight into the organization"
    );

    let home = app.get_with(&visitor, &format!("/orgs/{slug}")).await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("Staging</a></td><td>viewer</td>"));
    let nina = gatehouse::db::users::find_by_email(&mut app.conn(), "nina@example.com")
        .unwrap()
        .unwrap();
    assert!(nina.is_verified(), "the link proves the address");
    assert!(
        nina.last_sign_in_at.is_some(),
        "joining through the invitation signs in, and is recorded as a sign-in"
    );
    assert_eq!(
        invitation_states(&app),
        vec![("nina@example.com".into(), "accepted".into(), 1)]
    );
    assert_eq!(app.audit_count("invitation.created", "successful"), 1);
    assert_eq!(app.audit_count("invitation.accepted", "successful"), 1);

    let used = app.get(&path).await;
    assert_eq!(used.status, 410);
    assert!(used.body.contains("This invitation was already used."));
    assert!(
        used.body
            .contains("Ask an owner or admin of Acme to send a new invitation.")
    );
}

#[actix_web::test]
async fn one_bad_address_sends_nothing_and_keeps_what_was_typed() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let r = app
        .invite(
            &app.client,
            &slug,
            "good@example.com\nnot-an-address, also@bad",
            &[("development", "engineer")],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("not-an-address is not an email address"));
    assert!(r.body.contains("also@bad is not an email address"));
    assert!(
        r.body
            .contains("good@example.com\nnot-an-address, also@bad</textarea>"),
        "typed text kept"
    );
    assert!(
        r.body.contains("<option value=\"engineer\" selected>"),
        "choices kept"
    );
    assert!(invitation_states(&app).is_empty());
    let r = app
        .invite(
            &app.client,
            &slug,
            &(0..51)
                .map(|i| format!("p{i}@example.com"))
                .collect::<Vec<_>>()
                .join(","),
            &[],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("at most 50"));
}

#[actix_web::test]
async fn members_neither_see_nor_open_access_control() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let member = client(&app.address);
    app.account(&member, "Mia Member", "mia@example.com").await;
    add_member(&app, &slug, "mia@example.com", "member", &[]);
    let home = app.get_with(&member, &format!("/orgs/{slug}")).await;
    assert!(!home.body.contains("Access Control"));
    for page in [
        "access/users",
        "access/invitations",
        "access/invitations/new",
        "access/roles",
    ] {
        assert_eq!(
            app.get_with(&member, &format!("/orgs/{slug}/{page}"))
                .await
                .status,
            403,
            "{page}"
        );
    }
    let owner_home = app.get(&format!("/orgs/{slug}")).await;
    assert!(owner_home.body.contains("Access Control"));
    let action = format!("/orgs/{slug}/access/invitations/new");
    let tries = app
        .post_form_with(
            &member,
            &format!("/orgs/{slug}"),
            &action,
            &[("emails", "x@example.com"), ("role", "member")],
        )
        .await;
    assert_eq!(tries.status, 403, "the form cannot be reached");
    assert!(invitation_states(&app).is_empty());
}

#[actix_web::test]
async fn only_owners_invite_admins() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let admin = client(&app.address);
    app.account(&admin, "Adam Admin", "adam@example.com").await;
    add_member(&app, &slug, "adam@example.com", "admin", &[]);
    let form = app
        .get_with(&admin, &format!("/orgs/{slug}/access/invitations/new"))
        .await;
    assert!(
        !form.body.contains("<option value=\"admin\""),
        "admins are not offered admin"
    );
    let r = app
        .invite(&admin, &slug, "x@example.com", &[("role", "admin")])
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("Only owners can invite admins."));
    assert_eq!(
        app.audit_count("invitation.created", "denied"),
        1,
        "the refused attempt is audited"
    );
    let ok = app.invite(&admin, &slug, "x@example.com", &[]).await;
    assert_eq!(ok.status, 303);
    let by_owner = app
        .invite(&app.client, &slug, "y@example.com", &[("role", "admin")])
        .await;
    assert_eq!(by_owner.status, 303);
    let mail = app.mail.wait_for("y@example.com", "invited you").await;
    assert!(mail.raw.contains("as admin"));
}

#[actix_web::test]
async fn a_production_role_needs_the_inviters_password_once_every_few_minutes() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let none = app
        .invite(
            &app.client,
            &slug,
            "p1@example.com",
            &[("production", "viewer")],
        )
        .await;
    assert_eq!(none.status, 422);
    assert!(
        none.body
            .contains("Re-enter your password to grant or raise a production role.")
    );
    let wrong = app
        .invite(
            &app.client,
            &slug,
            "p1@example.com",
            &[("production", "viewer"), ("password", "not-my-password-1")],
        )
        .await;
    assert_eq!(wrong.status, 422);
    let right = app
        .invite(
            &app.client,
            &slug,
            "p1@example.com",
            &[("production", "viewer"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(right.status, 303, "{}", right.body);
    let again = app
        .invite(
            &app.client,
            &slug,
            "p2@example.com",
            &[("production", "support")],
        )
        .await;
    assert_eq!(again.status, 303, "no retyping within the window");
    let staging_only = app
        .invite(
            &app.client,
            &slug,
            "p3@example.com",
            &[("staging", "engineer")],
        )
        .await;
    assert_eq!(staging_only.status, 303);
}

#[actix_web::test]
async fn inviting_a_member_is_refused_and_inviting_a_pending_address_resends() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let member = app
        .invite(&app.client, &slug, "owner@example.com", &[])
        .await;
    assert_eq!(member.status, 422);
    assert!(member.body.contains("already members"));
    assert!(member.body.contains("<li>owner@example.com</li>"));

    app.invite(&app.client, &slug, "pat@example.com", &[]).await;
    let first = app.invitation_path("pat@example.com").await;
    // Sending the form again at once does not get round the one-a-minute resend limit.
    let at_once = app.invite(&app.client, &slug, "pat@example.com", &[]).await;
    assert_eq!(at_once.status, 422);
    assert!(
        at_once.body.contains("less than a minute ago"),
        "{}",
        at_once.body
    );
    assert_eq!(app.audit_count("invitation.resent", "denied"), 1);
    diesel::RunQueryDsl::execute(
        diesel::sql_query("UPDATE invitations SET last_sent_at = now() - interval '2 minutes'"),
        &mut app.conn(),
    )
    .unwrap();
    let r = app
        .invite(
            &app.client,
            &slug,
            "pat@example.com",
            &[("staging", "support")],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(
        invitation_states(&app),
        vec![("pat@example.com".into(), "pending".into(), 2)]
    );
    eventually("the second email", || async {
        let to_pat = app
            .mail
            .all()
            .into_iter()
            .filter(|m| m.to.contains(&"pat@example.com".to_string()));
        (to_pat.count() >= 2).then_some(())
    })
    .await;
    let second = app.invitation_path("pat@example.com").await;
    assert_ne!(first, second);
    assert!(
        app.get(&first)
            .await
            .body
            .contains("This invitation link is not valid."),
        "old link dead"
    );
    assert_eq!(app.audit_count("invitation.resent", "successful"), 1);
}

#[actix_web::test]
async fn resend_makes_a_new_link_at_most_once_a_minute() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    app.invite(&app.client, &slug, "rex@example.com", &[]).await;
    let old = app.invitation_path("rex@example.com").await;
    let id: i64 = {
        use gatehouse::db::schema::invitations::dsl as i;
        i::invitations.select(i::id).first(&mut app.conn()).unwrap()
    };
    let list = format!("/orgs/{slug}/access/invitations");
    let too_soon = app
        .post_form(&list, &format!("{list}/{id}/resend"), &[])
        .await;
    assert_eq!(too_soon.status, 303);
    assert!(app.get(&list).await.body.contains("less than a minute ago"));
    assert_eq!(app.audit_count("invitation.resent", "denied"), 1);
    diesel::sql_query("UPDATE invitations SET last_sent_at = now() - interval '2 minutes', expires_at = now() + interval '1 hour'")
        .execute(&mut app.conn())
        .unwrap();
    let resent = app
        .post_form(&list, &format!("{list}/{id}/resend"), &[])
        .await;
    assert_eq!(resent.status, 303);
    let page = app.get(&list).await.body;
    assert!(page.contains("sent again with a new link"), "{page}");
    let expires: chrono::DateTime<chrono::Utc> = {
        use gatehouse::db::schema::invitations::dsl as i;
        i::invitations
            .select(i::expires_at)
            .first(&mut app.conn())
            .unwrap()
    };
    assert!(
        expires > chrono::Utc::now() + chrono::Duration::days(6),
        "expiry reset"
    );
    assert_eq!(app.get(&old).await.status, 404, "old link dead");
}

#[actix_web::test]
async fn the_invited_users_tab_shows_state_and_delivery() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    app.invite(&app.client, &slug, "sam@example.com", &[]).await;
    app.mail.wait_for("sam@example.com", "invited you").await;
    let tab = format!("/orgs/{slug}/access/invitations");
    let page = eventually("the delivery shown as sent", || async {
        Some(app.get(&tab).await.body).filter(|page| page.contains("state-sent"))
    })
    .await;
    assert!(page.contains("sam@example.com") && page.contains("state-pending"));

    // An address whose mail keeps failing: shown as failed with the reason, and audited.
    app.invite(&app.client, &slug, "bounce@example.com", &[])
        .await;
    app.mail.wait_for("bounce@example.com", "invited you").await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut settings = app.settings.clone();
    settings.smtp_url = Some(secrecy::SecretString::from(format!(
        "smtp://127.0.0.1:{closed}"
    )));
    let broken = gatehouse::email::Mailer::from_settings(&settings).unwrap();
    // The app's own worker (with a working mailer) may win a race for the row; try until the
    // broken mailer has had the last attempt.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        diesel::sql_query(
            "UPDATE email_outbox SET status = 'queued', attempts = 7, next_attempt_at = now() - interval '1 second'
             WHERE id = (SELECT outbox_id FROM invitations WHERE email = 'bounce@example.com') AND status <> 'failed'",
        )
        .execute(&mut app.conn())
        .unwrap();
        gatehouse::email::worker::deliver_due(&app.pool, &broken)
            .await
            .unwrap();
        let failed: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "SELECT count(*) FROM email_outbox WHERE status = 'failed' AND id = (SELECT outbox_id FROM invitations WHERE email = 'bounce@example.com')",
        )
        .get_result(&mut app.conn())
        .unwrap();
        if failed == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the last attempt never failed"
        );
    }
    let page = app
        .get(&format!("/orgs/{slug}/access/invitations"))
        .await
        .body;
    assert!(page.contains("state-failed"), "{page}");
    assert!(
        page.contains("Connection refused") || page.contains("connection"),
        "the reason is shown"
    );
    assert_eq!(app.audit_count("invitation.email_failed", "successful"), 1);
}

#[actix_web::test]
async fn revoked_expired_and_declined_links_say_which_and_whom_to_ask() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    app.invite(&app.client, &slug, "r@example.com, e@example.com", &[])
        .await;
    let revoked = app.invitation_path("r@example.com").await;
    let expired = app.invitation_path("e@example.com").await;
    let id: i64 = {
        use gatehouse::db::schema::invitations::dsl as i;
        i::invitations
            .filter(i::email.eq("r@example.com"))
            .select(i::id)
            .first(&mut app.conn())
            .unwrap()
    };
    let list = format!("/orgs/{slug}/access/invitations");
    assert_eq!(
        app.post_form(&list, &format!("{list}/{id}/revoke"), &[])
            .await
            .status,
        303
    );
    diesel::sql_query("UPDATE invitations SET expires_at = now() - interval '1 minute' WHERE email = 'e@example.com'").execute(&mut app.conn()).unwrap();

    let visitor = client(&app.address);
    let r = app.get_with(&visitor, &revoked).await;
    assert_eq!(r.status, 410);
    assert!(r.body.contains("This invitation was revoked."));
    assert!(
        r.body
            .contains("Ask an owner or admin of Acme to send a new invitation.")
    );
    let e = app.get_with(&visitor, &expired).await;
    assert_eq!(e.status, 410);
    assert!(e.body.contains("This invitation has expired."));
    assert!(app.get(&list).await.body.contains("state-expired"));
    let bogus = app.get_with(&visitor, "/invitations/not-a-token").await;
    assert_eq!(bogus.status, 404);
    assert!(
        bogus.body.contains("This invitation link is not valid."),
        "never a bare 404"
    );
    assert_eq!(app.audit_count("invitation.revoked", "successful"), 1);
}

#[actix_web::test]
async fn an_existing_account_signs_in_then_accepts_or_declines() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let kim = client(&app.address);
    app.account(&kim, "Kim Known", "kim@example.com").await;
    app.post_form_with(&kim, "/orgs", "/signout", &[]).await;

    app.invite(
        &app.client,
        &slug,
        "kim@example.com",
        &[("development", "support")],
    )
    .await;
    let path = app.invitation_path("kim@example.com").await;
    let r = app.get_with(&kim, &path).await;
    assert_eq!(r.status, 303);
    let to_signin = r.location.unwrap();
    assert!(
        to_signin.starts_with("/signin?next=%2Finvitations%2F")
            && to_signin.contains("email=kim%40example.com"),
        "{to_signin}"
    );
    let signin_page = app.get_with(&kim, &to_signin).await;
    assert!(
        signin_page.body.contains("value=\"kim@example.com\""),
        "email filled in"
    );
    let next = to_signin
        .split("next=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .replace("%2F", "/");
    let signed = app
        .post_form_with(
            &kim,
            &to_signin,
            "/signin",
            &[
                ("email", "kim@example.com"),
                ("password", PASSWORD),
                ("next", &next),
            ],
        )
        .await;
    assert_eq!(
        signed.location.as_deref(),
        Some(path.as_str()),
        "back to the invitation"
    );

    let accept_page = app.get_with(&kim, &path).await;
    assert!(
        accept_page.body.contains("Olivia Owner")
            && accept_page.body.contains("development: support")
    );
    let accepted = app
        .post_form_with(&kim, &path, &format!("{path}/accept"), &[])
        .await;
    assert_eq!(
        accepted.location.as_deref(),
        Some(format!("/orgs/{slug}").as_str())
    );
    assert_eq!(memberships_of(&app, app.user_id("kim@example.com")), 1);

    // Declining another invitation.
    let other = app.create_org("Other").await;
    app.invite(&app.client, &other, "kim@example.com", &[])
        .await;
    let second = eventually("the second invitation to kim", || async {
        Some(app.invitation_path("kim@example.com").await).filter(|p| *p != path)
    })
    .await;
    let declined = app
        .post_form_with(&kim, &second, &format!("{second}/decline"), &[])
        .await;
    assert_eq!(declined.status, 303);
    assert!(
        app.get_with(&kim, &second)
            .await
            .body
            .contains("This invitation was declined.")
    );
    assert_eq!(memberships_of(&app, app.user_id("kim@example.com")), 1);
    assert_eq!(app.audit_count("invitation.declined", "successful"), 1);
}

#[actix_web::test]
async fn someone_else_signed_in_is_offered_to_sign_out_and_continue() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    app.invite(&app.client, &slug, "zoe@example.com", &[]).await;
    let path = app.invitation_path("zoe@example.com").await;
    let page = app.get(&path).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("This invitation is for another account"));
    assert!(page.body.contains("Sign out and continue"));
    let refused = app.post_form(&path, &format!("{path}/accept"), &[]).await;
    assert_eq!(refused.status, 403, "cannot accept for someone else");
    let switched = app.post_form(&path, &format!("{path}/switch"), &[]).await;
    assert_eq!(switched.location.as_deref(), Some(path.as_str()));
    let now = app.get(&path).await;
    assert!(
        now.body.contains("Create account and join"),
        "signed out, now on the sign-up path"
    );
}

#[actix_web::test]
async fn twenty_concurrent_acceptances_at_399_end_with_exactly_400() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let _ = slug;
    let invitee = client(&app.address);
    app.account(&invitee, "Ivy Invitee", "ivy@example.com")
        .await;
    let ivy = app.user_id("ivy@example.com");
    seed_memberships(&app, ivy, 399);
    // Twenty organizations, each with an open invitation to Ivy, tokens known to the test.
    let mut tokens = Vec::new();
    for i in 0..20 {
        let org = app.create_org(&format!("Inviter {i}")).await;
        let token = format!("token-{i}-{}", "x".repeat(20));
        diesel::sql_query(
            "INSERT INTO invitations (organization_id, email, role, token_hash, invited_by_name, expires_at, invited_by)
             SELECT id, 'ivy@example.com', 'member', sha256(convert_to($1, 'UTF8')), 'Olivia Owner', now() + interval '7 days', (SELECT m.user_id FROM memberships m WHERE m.organization_id = organizations.id AND m.role = 'owner' LIMIT 1)
             FROM organizations WHERE slug = $2",
        )
        .bind::<diesel::sql_types::Text, _>(&token)
        .bind::<diesel::sql_types::Text, _>(&org)
        .execute(&mut app.conn())
        .unwrap();
        tokens.push(token);
    }
    let html = app
        .get_with(&invitee, &format!("/invitations/{}", tokens[0]))
        .await
        .body;
    let csrf = crate::support::csrf_token(&html);
    let requests = tokens.iter().map(|t| {
        let req = invitee
            .post(app.url(&format!("/invitations/{t}/accept")))
            .form(&[("csrf_token", csrf.as_str())]);
        async move {
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap_or_default())
        }
    });
    let results = futures::future::join_all(requests).await;
    assert_eq!(
        results.iter().filter(|(s, _)| *s == 303).count(),
        1,
        "{:?}",
        results.iter().map(|r| r.0).collect::<Vec<_>>()
    );
    assert!(results.iter().filter(|(s, _)| *s == 422).all(|(_, body)| body.contains("You already belong to 400 organizations, the most allowed. Leave one before joining another.")));
    assert_eq!(memberships_of(&app, ivy), 400);
    assert_eq!(app.audit_count("invitation.accepted", "denied"), 19);
}

#[actix_web::test]
async fn inviting_someone_at_the_limit_warns_the_inviter() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let full = client(&app.address);
    app.account(&full, "Fay Full", "fay@example.com").await;
    seed_memberships(&app, app.user_id("fay@example.com"), 400);
    let r = app.invite(&app.client, &slug, "fay@example.com", &[]).await;
    assert_eq!(r.status, 303);
    let list = app.get(&format!("/orgs/{slug}/access/invitations")).await;
    assert!(
        list.body
            .contains("fay@example.com already belongs to 400 organizations"),
        "{}",
        list.body
    );
}

#[actix_web::test]
async fn the_daily_invitation_limit_holds() {
    let app = spawn_app_with(Options {
        invites_per_org_per_day: 3,
        ..Options::default()
    })
    .await;
    let slug = app.owner_with_org().await;
    assert_eq!(
        app.invite(&app.client, &slug, "a@example.com, b@example.com", &[])
            .await
            .status,
        303
    );
    let over = app
        .invite(&app.client, &slug, "c@example.com, d@example.com", &[])
        .await;
    assert_eq!(over.status, 422);
    assert!(over.body.contains("at most 3 a day"));
    assert_eq!(invitation_states(&app).len(), 2);
    assert_eq!(
        app.invite(&app.client, &slug, "c@example.com", &[])
            .await
            .status,
        303
    );

    // The sender's own limit holds across organizations: a new one (made, filled and deleted
    // again and again) does not bring three more.
    let other = app.create_org("Second").await;
    let elsewhere = app.invite(&app.client, &other, "e@example.com", &[]).await;
    assert_eq!(elsewhere.status, 422);
    assert!(
        elsewhere
            .body
            .contains("You sent 3 invitations in the last 24 hours, across your organizations"),
        "{}",
        elsewhere.body
    );
    // Another sender in that organization is not held by it.
    let ann = crate::support::member(&app, &other, "Ann Admin", "ann@example.com", "admin").await;
    assert_eq!(
        app.invite(&ann, &other, "e@example.com", &[]).await.status,
        303
    );
}

/// An invitation grants what its sender could grant when it is accepted: once the admin who sent
/// it is removed, it no longer stands, and its environment roles are never granted.
#[actix_web::test]
async fn a_removed_admins_pending_invitation_grants_nothing() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let adam = crate::support::member(&app, &slug, "Adam Admin", "adam@example.com", "admin").await;
    let sent = app
        .invite(&adam, &slug, "eve@example.com", &[("staging", "engineer")])
        .await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    let path = app.invitation_path("eve@example.com").await;

    let id = app.user_id("adam@example.com");
    let view = format!("/orgs/{slug}/access/users/{id}");
    assert_eq!(
        app.post_form(&view, &format!("{view}/remove"), &[])
            .await
            .status,
        303
    );

    let eve = crate::support::client(&app.address);
    app.account(&eve, "Eve", "eve@example.com").await;
    let accepted = app
        .post_form_with(&eve, &path, &format!("{path}/accept"), &[])
        .await;
    assert_ne!(
        accepted.location.as_deref(),
        Some(format!("/orgs/{slug}").as_str())
    );
    assert_eq!(memberships_of(&app, app.user_id("eve@example.com")), 0);
    assert!(app.get_with(&eve, &path).await.body.contains("revoked"));
    // Revoked when Adam was removed, by the system (DESIGN §5).
    let revoked_by: Vec<(String, String)> = diesel::RunQueryDsl::load(
        diesel::sql_query(
            "SELECT actor_kind AS name, target AS email FROM audit_events
             WHERE action = 'invitation.revoked' ORDER BY id",
        ),
        &mut app.conn(),
    )
    .unwrap()
    .into_iter()
    .map(|r: NameEmail| (r.name, r.email))
    .collect();
    assert_eq!(revoked_by, [("system".into(), "eve@example.com".into())]);
}

#[derive(diesel::QueryableByName)]
struct NameEmail {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    email: String,
}

/// What an admin sent and is still open is revoked when they are demoted below admin or leave;
/// what another admin sent stays.
#[actix_web::test]
async fn a_demoted_or_departed_admins_open_invitations_are_revoked() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let adam = crate::support::member(&app, &slug, "Adam Admin", "adam@example.com", "admin").await;
    let alma = crate::support::member(&app, &slug, "Alma Admin", "alma@example.com", "admin").await;
    for (who, to) in [(&adam, "eve@example.com"), (&alma, "finn@example.com")] {
        assert_eq!(app.invite(who, &slug, to, &[]).await.status, 303);
    }
    let status = |email: &str| -> String {
        use gatehouse::db::schema::invitations::dsl as i;
        i::invitations
            .filter(i::email.eq(email))
            .select(i::status)
            .first(&mut app.conn())
            .unwrap()
    };
    let id = app.user_id("adam@example.com");
    let roles = format!("/orgs/{slug}/access/users/{id}/roles");
    let demoted = app
        .post_form(&roles, &roles, &[("role", "member"), ("confirm", "yes")])
        .await;
    assert_eq!(demoted.status, 303, "{}", demoted.body);
    assert_eq!(status("eve@example.com"), "revoked");
    assert_eq!(status("finn@example.com"), "pending", "another admin's");
    assert_eq!(app.audit_count("invitation.revoked", "successful"), 1);

    let leave = format!("/orgs/{slug}/leave");
    assert_eq!(
        app.post_form_with(&alma, &leave, &leave, &[]).await.status,
        303
    );
    assert_eq!(status("finn@example.com"), "revoked");
    assert_eq!(app.audit_count("invitation.revoked", "successful"), 2);
}

/// Accepting takes the organization's row before the invitation's, as every change to an
/// organization's people does (removing a sender revokes their invitations under it): the other
/// order could deadlock. While another transaction holds the organization, an acceptance waits
/// without holding the invitation.
#[actix_web::test]
async fn accepting_waits_for_the_organization_before_taking_the_invitation() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    assert_eq!(
        app.invite(&app.client, &slug, "eve@example.com", &[])
            .await
            .status,
        303
    );
    let path = app.invitation_path("eve@example.com").await;
    let eve = crate::support::client(&app.address);
    app.account(&eve, "Eve", "eve@example.com").await;

    let action = format!("{path}/accept");
    let (accepted, free) = crate::support::while_held(
        &app,
        &format!("SELECT id FROM organizations WHERE slug = '{slug}' FOR UPDATE"),
        "SELECT id FROM invitations WHERE email = 'eve@example.com' FOR UPDATE NOWAIT",
        app.post_form_with(&eve, &path, &action, &[]),
    )
    .await;
    assert!(
        free.is_ok(),
        "the invitation was held while waiting: {free:?}"
    );
    assert_eq!(accepted.status, 303, "{}", accepted.body);
    assert_eq!(memberships_of(&app, app.user_id("eve@example.com")), 1);
}
