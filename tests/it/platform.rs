//! Cross-cutting behaviour: CSRF and Origin, security headers, error pages, probes, the outbox
//! worker, database-held invariants, the command line and the embedded PostgreSQL.

use std::process::Command;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use gatehouse::db::outbox::{self, NewMessage};

use crate::support::{PASSWORD, client, csrf_token, spawn_app};

#[actix_web::test]
async fn posts_without_the_csrf_token_or_from_another_origin_are_refused() {
    let app = spawn_app().await;
    let page = app.get("/signup").await.body;
    let token = csrf_token(&page);
    let form = [
        ("name", "Ada"),
        ("email", "ada@example.com"),
        ("password", PASSWORD),
    ];

    let no_token = app
        .client
        .post(app.url("/signup"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 403);

    let mut with_token = vec![("csrf_token", token.as_str())];
    with_token.extend_from_slice(&form);
    let foreign = app
        .client
        .post(app.url("/signup"))
        .header("Origin", "https://evil.example")
        .form(&with_token)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);

    let no_origin = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    no_origin.get(app.url("/signup")).send().await.unwrap();
    let r = no_origin
        .post(app.url("/signup"))
        .form(&with_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "neither Origin nor Referer");

    assert!(
        gatehouse::db::users::find_by_email(&mut app.conn(), "ada@example.com")
            .unwrap()
            .is_none()
    );
    let ok = app
        .client
        .post(app.url("/signup"))
        .form(&with_token)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

#[actix_web::test]
async fn pages_carry_security_headers_and_cookies_are_httponly_lax() {
    let app = spawn_app().await;
    let r = app.client.get(app.url("/signin")).send().await.unwrap();
    let h = r.headers();
    let csp = h.get("content-security-policy").unwrap().to_str().unwrap();
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"));
    let cookie = h.get("set-cookie").unwrap().to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain http base URL");
    let body = r.text().await.unwrap();
    // The one script is the static passkey script, loaded from this site; nothing inline.
    let scripts: Vec<&str> = body.split("<script").skip(1).collect();
    assert!(
        scripts
            .iter()
            .all(|s| s.starts_with(r#" src="/static/js/passkeys.js" defer></script>"#)),
        "no inline script: {scripts:?}"
    );
    assert!(!body.contains("style="), "no inline style");
    assert!(!body.contains(" onclick=") && !body.contains(" onsubmit="));
}

#[actix_web::test]
async fn errors_are_rendered_pages_and_probes_answer() {
    let app = spawn_app().await;
    let missing = app.get("/nothing-here").await;
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("<h1>Page not found</h1>"));
    assert_eq!(app.get("/healthz").await.body, "ok");
    assert_eq!(app.get("/readyz").await.status, 200);
    let r = app.get("/orgs").await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location.as_deref(), Some("/signin?next=%2Forgs"));
    let garbage = app
        .client
        .post(app.url("/signin"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("%%%&&&==")
        .send()
        .await
        .unwrap();
    assert!(
        garbage.status().as_u16() < 500,
        "malformed form is not a 500"
    );
}

#[actix_web::test]
async fn the_local_mailbox_is_absent_when_mail_goes_over_smtp() {
    let app = spawn_app().await;
    assert_eq!(app.get("/dev/mailbox").await.status, 404);
}

#[actix_web::test]
async fn failed_deliveries_are_retried_with_backoff_and_record_the_error() {
    let app = spawn_app().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut settings = app.settings.clone();
    settings.smtp_url = Some(secrecy::SecretString::from(format!(
        "smtp://127.0.0.1:{closed}"
    )));
    let mailer = gatehouse::email::Mailer::from_settings(&settings).unwrap();
    let id = outbox::enqueue(
        &mut app.conn(),
        NewMessage {
            kind: "test",
            recipient: "x@example.com",
            subject: "s",
            text_body: "t",
            html_body: "<p>h</p>",
        },
    )
    .unwrap();
    // The app's own worker may claim the message first; deliver through the broken mailer
    // until it has been attempted by it.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        gatehouse::email::worker::deliver_due(&app.pool, &mailer)
            .await
            .unwrap();
        let m = outbox::find(&mut app.conn(), id).unwrap().unwrap();
        if m.last_error.is_some() {
            assert_eq!(m.status, "queued", "to be retried");
            assert!(m.attempts >= 1);
            break;
        }
        assert!(Instant::now() < deadline, "never attempted: {m:?}");
        diesel::sql_query("UPDATE email_outbox SET status = 'queued', next_attempt_at = now() WHERE status = 'sent'").execute(&mut app.conn()).unwrap();
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    use gatehouse::db::schema::email_outbox::dsl as o;
    let next: chrono::DateTime<chrono::Utc> = o::email_outbox
        .find(id)
        .select(o::next_attempt_at)
        .first(&mut app.conn())
        .unwrap();
    assert!(next > chrono::Utc::now(), "retry is scheduled later");
    // After the last attempt it is failed for good.
    diesel::update(o::email_outbox.find(id))
        .set((
            o::attempts.eq(outbox::MAX_ATTEMPTS - 1),
            o::next_attempt_at.eq(chrono::Utc::now()),
        ))
        .execute(&mut app.conn())
        .unwrap();
    let message = outbox::claim_due(&mut app.conn(), 10, chrono::Duration::minutes(5))
        .unwrap()
        .into_iter()
        .find(|m| m.id == id)
        .expect("claimed");
    assert!(outbox::mark_failed(&mut app.conn(), &message, "still down").unwrap());
    assert_eq!(
        outbox::find(&mut app.conn(), id).unwrap().unwrap().status,
        "failed"
    );
}

#[actix_web::test]
async fn two_workers_never_claim_the_same_message() {
    let app = spawn_app().await;
    // Hold the app's own worker off: mark every message as far in the future first.
    for i in 0..40 {
        let to = format!("p{i}@example.com");
        outbox::enqueue(
            &mut app.conn(),
            NewMessage {
                kind: "test",
                recipient: &to,
                subject: "s",
                text_body: "t",
                html_body: "h",
            },
        )
        .unwrap();
    }
    diesel::sql_query("UPDATE email_outbox SET next_attempt_at = now() + interval '1 hour'")
        .execute(&mut app.conn())
        .unwrap();
    diesel::sql_query("UPDATE email_outbox SET next_attempt_at = now() - interval '1 second'")
        .execute(&mut app.conn())
        .unwrap();
    let (a, b) = std::thread::scope(|s| {
        let first = s.spawn(|| {
            outbox::claim_due(&mut app.conn(), 25, chrono::Duration::minutes(5)).unwrap()
        });
        let second = s.spawn(|| {
            outbox::claim_due(&mut app.conn(), 25, chrono::Duration::minutes(5)).unwrap()
        });
        (first.join().unwrap(), second.join().unwrap())
    });
    let mut ids: Vec<i64> = a.iter().chain(b.iter()).map(|m| m.id).collect();
    let claimed = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), claimed, "a message was claimed twice");
}

#[actix_web::test]
async fn the_database_keeps_the_invariants_itself() {
    let app = spawn_app().await;
    app.signed_up_verified("Ada", "ada@example.com").await;
    let slug = app.create_org("Acme").await;
    let mut conn = app.conn();
    let update = diesel::sql_query("UPDATE audit_events SET action = 'x'").execute(&mut conn);
    assert!(update.is_err(), "audit events cannot be changed");
    assert!(
        diesel::sql_query("DELETE FROM audit_events")
            .execute(&mut conn)
            .is_err(),
        "nor deleted"
    );
    assert!(
        diesel::sql_query("TRUNCATE audit_events")
            .execute(&mut conn)
            .is_err(),
        "nor truncated"
    );
    assert!(
        diesel::sql_query("ALTER TABLE audit_events DISABLE TRIGGER ALL")
            .execute(&mut conn)
            .is_err(),
        "the application's own role cannot switch the append-only trigger off"
    );
    let lonely =
        diesel::sql_query("INSERT INTO organizations (name, slug) VALUES ('No Envs', 'no-envs')")
            .execute(&mut conn);
    assert!(
        lonely.is_err(),
        "an organization needs its three environments"
    );
    let env_delete = diesel::sql_query(format!("DELETE FROM environments WHERE organization_id = (SELECT id FROM organizations WHERE slug = '{slug}')")).execute(&mut conn);
    assert!(env_delete.is_err(), "environments stay");
    let stranger = diesel::sql_query(
        "INSERT INTO users (name, email, password_hash) VALUES ('S', 's@example.com', 'x');
         ",
    )
    .execute(&mut conn);
    assert!(stranger.is_ok());
    let role_for_non_member = diesel::sql_query(format!(
        "INSERT INTO environment_roles (environment_id, organization_id, user_id, role)
         SELECT e.id, e.organization_id, (SELECT id FROM users WHERE email = 's@example.com'), 'viewer'
         FROM environments e JOIN organizations o ON o.id = e.organization_id WHERE o.slug = '{slug}' LIMIT 1"
    ))
    .execute(&mut conn);
    assert!(
        role_for_non_member.is_err(),
        "environment roles only for members"
    );
    assert!(
        diesel::sql_query(
            "INSERT INTO users (name, email, password_hash) VALUES ('A', 'ADA@example.com', 'x')"
        )
        .execute(&mut conn)
        .is_err(),
        "emails are stored lower-case and unique"
    );
}

fn gatehouse_bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    for var in [
        "DATABASE_URL",
        "MIGRATION_DATABASE_URL",
        "SMTP_URL",
        "BASE_URL",
        "SESSION_KEY",
        "GATEHOUSE_MODE",
        "BIND",
        "GATEHOUSE_DATA_DIR",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

#[test]
fn help_lists_every_setting_with_its_environment_variable() {
    let out = gatehouse_bin().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for var in [
        "DATABASE_URL",
        "MIGRATION_DATABASE_URL",
        "SMTP_URL",
        "BASE_URL",
        "SESSION_KEY",
        "BIND",
        "MAX_ORGS_PER_USER",
        "INVITE_TTL_DAYS",
        "SUDO_MINUTES",
        "INVITES_PER_ORG_PER_DAY",
        "GATEHOUSE_MODE",
    ] {
        assert!(
            help.contains(&format!("env: {var}")),
            "--help lacks {var}:\n{help}"
        );
    }
    for command in ["serve", "migrate", "operator"] {
        assert!(help.contains(command));
    }
}

#[test]
fn production_mode_refuses_to_start_without_smtp() {
    let out = gatehouse_bin()
        .env("GATEHOUSE_MODE", "production")
        .env("DATABASE_URL", "postgres://127.0.0.1:1/none")
        .env("BASE_URL", "https://gatehouse.example")
        .env("SESSION_KEY", "k".repeat(64))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("SMTP_URL"));
}

#[actix_web::test]
async fn operators_are_granted_and_revoked_from_the_command_line_only() {
    let app = spawn_app().await;
    app.account(&app.client, "Olga", "olga@example.com").await;
    let url = secrecy::ExposeSecret::expose_secret(app.settings.database_url.as_ref().unwrap())
        .to_string();
    let grant = gatehouse_bin()
        .env("DATABASE_URL", &url)
        .env("MIGRATION_DATABASE_URL", app.owner_url())
        .args(["operator", "grant", "Olga@Example.com"])
        .output()
        .unwrap();
    assert!(
        grant.status.success(),
        "{}",
        String::from_utf8_lossy(&grant.stderr)
    );
    assert!(
        gatehouse::db::users::find_by_email(&mut app.conn(), "olga@example.com")
            .unwrap()
            .unwrap()
            .is_operator
    );
    let revoke = gatehouse_bin()
        .env("DATABASE_URL", &url)
        .env("MIGRATION_DATABASE_URL", app.owner_url())
        .args(["operator", "revoke", "olga@example.com"])
        .output()
        .unwrap();
    assert!(revoke.status.success());
    assert!(
        !gatehouse::db::users::find_by_email(&mut app.conn(), "olga@example.com")
            .unwrap()
            .unwrap()
            .is_operator
    );
    let unknown = gatehouse_bin()
        .env("DATABASE_URL", &url)
        .env("MIGRATION_DATABASE_URL", app.owner_url())
        .args(["operator", "grant", "nobody@example.com"])
        .output()
        .unwrap();
    assert!(!unknown.status.success());

    // Anyone can sign up with a colleague's address: a grant goes to verified accounts only.
    let visitor = crate::support::client(&app.address);
    app.sign_up(&visitor, "Not Nora", "nora@example.com").await;
    let unverified = gatehouse_bin()
        .env("DATABASE_URL", &url)
        .env("MIGRATION_DATABASE_URL", app.owner_url())
        .args(["operator", "grant", "nora@example.com"])
        .output()
        .unwrap();
    assert!(!unverified.status.success());
    assert!(String::from_utf8_lossy(&unverified.stderr).contains("not verified"));
    let nora = gatehouse::db::users::find_by_email(&mut app.conn(), "nora@example.com")
        .unwrap()
        .unwrap();
    assert!(!nora.is_operator);
    // Nor does an operator flag set on an unverified account by other means open the console.
    use diesel::prelude::*;
    use gatehouse::db::schema::users::dsl as u;
    diesel::update(u::users.filter(u::id.eq(nora.id)))
        .set(u::is_operator.eq(true))
        .execute(&mut app.owner_conn())
        .unwrap();
    let signed_in = crate::support::client(&app.address);
    assert_eq!(
        app.sign_in(&signed_in, "nora@example.com", crate::support::PASSWORD)
            .await
            .status,
        303
    );
    assert_eq!(app.get_with(&signed_in, "/operator").await.status, 404);
    let page = app.get_with(&signed_in, "/account").await;
    assert!(!page.body.contains("href=\"/operator\""), "no console link");
}

fn wait_healthy(port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            let _ = s.write_all(b"GET /readyz HTTP/1.0\r\n\r\n");
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            if out.starts_with("HTTP/1.0 200") || out.starts_with("HTTP/1.1 200") {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

/// `gatehouse` with no DATABASE_URL: creates its own cluster, reuses it, survives a stale
/// postmaster.pid, serves the local mailbox, and stops the cluster on SIGTERM.
#[test]
fn the_embedded_default_starts_reuses_and_stops_its_own_postgres() {
    let dir = std::env::temp_dir().join(format!("gatehouse-embedded-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let pid_file = dir.join("postgres/pgdata/postmaster.pid");
    for run in 0..2 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = gatehouse_bin()
            .env("GATEHOUSE_DATA_DIR", &dir)
            .env("BIND", format!("127.0.0.1:{port}"))
            .env("BASE_URL", format!("http://127.0.0.1:{port}"))
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let healthy = wait_healthy(port);
        let mailbox = reqwest::blocking_get(port, None);
        let named = reqwest::blocking_get(port, Some(&format!("127.0.0.1:{port}")));
        // DNS rebinding: a page elsewhere pointed at 127.0.0.1 sends its own name.
        let rebound = reqwest::blocking_get(port, Some("rebound.example"));
        if healthy {
            embedded_cluster_needs_passwords(&dir);
        }
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let status = child.wait().unwrap();
        assert!(healthy, "run {run}: never became ready");
        assert_eq!((mailbox, named), (200, 200), "the local mailbox is served");
        assert_eq!(rebound, 404, "not to another name");
        assert!(status.success(), "run {run}: exit {status:?}");
        assert!(!pid_file.exists(), "run {run}: the cluster was stopped");
        assert!(dir.join("session_key").exists());
        // Leave a stale pid file behind, as a killed run would, and make the cluster trust
        // local connections as one made by an older version did: the next run secures it.
        std::fs::write(&pid_file, "999999\n/nowhere\n0\n5432\n").unwrap();
        let hba = dir.join("postgres/pgdata/pg_hba.conf");
        let trusting = std::fs::read_to_string(&hba)
            .unwrap()
            .replace("scram-sha-256", "trust");
        std::fs::write(&hba, trusting).unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The embedded cluster takes no connection without a password, and the role the server uses
/// can neither rewrite the audit log nor switch its trigger off.
fn embedded_cluster_needs_passwords(dir: &std::path::Path) {
    use diesel::{Connection, PgConnection};
    let pid = std::fs::read_to_string(dir.join("postgres/pgdata/postmaster.pid")).unwrap();
    let port: u16 = pid.lines().nth(3).unwrap().trim().parse().unwrap();
    let hba = std::fs::read_to_string(dir.join("postgres/pgdata/pg_hba.conf")).unwrap();
    assert!(
        !hba.lines()
            .any(|l| !l.starts_with('#') && l.contains("trust")),
        "{hba}"
    );
    for role in ["gatehouse", "gatehouse_app", "postgres"] {
        let url = format!("postgres://{role}@127.0.0.1:{port}/gatehouse");
        assert!(
            PgConnection::establish(&url).is_err(),
            "{role} connected without a password"
        );
    }
    let password = std::fs::read_to_string(dir.join("postgres/app.password")).unwrap();
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dir.join("postgres/app.password"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o077, 0, "the password file is private");
    let url = format!("postgres://gatehouse_app:{password}@127.0.0.1:{port}/gatehouse");
    let mut app = PgConnection::establish(&url).expect("the serving role connects");
    for statement in [
        "UPDATE audit_events SET action = action",
        "DELETE FROM audit_events",
        "ALTER TABLE audit_events DISABLE TRIGGER ALL",
        "CREATE TABLE intruder (id int)",
    ] {
        assert!(
            diesel::RunQueryDsl::execute(diesel::sql_query(statement), &mut app).is_err(),
            "the serving role could: {statement}"
        );
    }
    let count = diesel::RunQueryDsl::execute(
        diesel::sql_query("SELECT count(*) FROM audit_events"),
        &mut app,
    );
    assert!(count.is_ok(), "the serving role reads the audit log");
}

/// Local mode serves an open mailbox: it listens on loopback only.
#[test]
fn local_mode_refuses_to_listen_beyond_this_machine() {
    for bind in ["0.0.0.0:8080", "[::]:8080", "192.0.2.7:8080"] {
        let out = gatehouse_bin()
            .env("BIND", bind)
            .arg("migrate")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bind}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("GATEHOUSE_MODE=production"),
            "{bind}"
        );
    }
}

mod reqwest {
    pub use ::reqwest::*;

    /// Status of GET /dev/mailbox, without an async runtime, with this `Host` header or none.
    pub fn blocking_get(port: u16, host: Option<&str>) -> u16 {
        use std::io::{Read, Write};
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
            return 0;
        };
        let host = host.map(|h| format!("Host: {h}\r\n")).unwrap_or_default();
        let _ = s.write_all(format!("GET /dev/mailbox HTTP/1.0\r\n{host}\r\n").as_bytes());
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out.split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0)
    }
}

#[actix_web::test]
async fn a_signed_in_user_whose_account_is_gone_is_signed_out() {
    let app = spawn_app().await;
    app.account(&app.client, "Ada", "ada@example.com").await;
    assert_eq!(app.get("/orgs").await.status, 200);
    let other = client(&app.address);
    let _ = other;
    diesel::sql_query("DELETE FROM users WHERE email = 'ada@example.com'")
        .execute(&mut app.conn())
        .unwrap();
    assert_eq!(app.get("/orgs").await.status, 303);
}

#[actix_web::test]
async fn a_server_error_is_a_rendered_page_without_details() {
    let app = spawn_app().await;
    app.signed_up_verified("Ada", "ada@example.com").await;
    let slug = app.create_org("Acme").await;
    // A table only the page reads (the session's statement reads organizations and
    // memberships; a failing session store answers 503, as when the database is away).
    diesel::sql_query("ALTER TABLE environments RENAME TO environments_gone")
        .execute(&mut app.owner_conn())
        .unwrap();
    let r = app.get(&format!("/orgs/{slug}")).await;
    assert_eq!(r.status, 500);
    assert!(r.body.contains("<h1>Something went wrong</h1>"));
    assert!(
        !r.body.contains("environments_gone") && !r.body.contains("relation"),
        "no internal details"
    );
}

#[actix_web::test]
async fn every_migration_reverts_and_applies_again() {
    use diesel_migrations::MigrationHarness;
    let app = spawn_app().await;
    let mut conn = app.owner_conn();
    conn.revert_all_migrations(gatehouse::db::MIGRATIONS)
        .expect("down.sql runs");
    let left: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'",
    )
    .get_result(&mut conn)
    .unwrap();
    assert_eq!(left, 0, "down.sql leaves nothing behind");
    gatehouse::db::migrate(&mut conn).expect("up again");
}

#[test]
fn cookies_are_secure_when_the_dashboard_is_served_over_https() {
    use clap::Parser;
    let cli = gatehouse::config::Cli::parse_from([
        "gatehouse",
        "--base-url",
        "https://gatehouse.example",
    ]);
    assert!(cli.settings.secure_cookies());
    assert_eq!(cli.settings.origin(), "https://gatehouse.example");
    let local =
        gatehouse::config::Cli::parse_from(["gatehouse", "--base-url", "http://127.0.0.1:8080"]);
    assert!(!local.settings.secure_cookies());
}

/// With MIGRATION_DATABASE_URL set, a DATABASE_URL role that could still rewrite the audit log
/// (here: it owns a table, as after running migrations itself) stops the start with a message.
#[actix_web::test]
async fn a_serving_role_that_owns_tables_is_refused() {
    let app = spawn_app().await;
    if app.owner_url()
        == secrecy::ExposeSecret::expose_secret(app.settings.database_url.as_ref().unwrap())
    {
        return; // One role for everything (an external DATABASE_URL): nothing to check.
    }
    let role = format!("sneaky_{}", std::process::id());
    let mut owner = app.owner_conn();
    for statement in [
        format!("CREATE ROLE {role} LOGIN PASSWORD 'sneaky-password'"),
        format!("CREATE TABLE {role}_table (id int)"),
        format!("ALTER TABLE {role}_table OWNER TO {role}"),
    ] {
        diesel::sql_query(statement).execute(&mut owner).unwrap();
    }
    let mut serving = url::Url::parse(app.owner_url()).unwrap();
    serving.set_username(&role).unwrap();
    serving.set_password(Some("sneaky-password")).unwrap();
    let refused = gatehouse::startup::connect_and_migrate(
        &secrecy::SecretString::from(serving.to_string()),
        Some(&secrecy::SecretString::from(app.owner_url().to_string())),
        1,
        Default::default(),
    );
    let Err(refusal) = refused else {
        panic!("a serving role that owns tables was accepted")
    };
    let message = format!("{refusal:#}");
    assert!(message.contains("owns tables"), "{message}");
    for statement in [
        format!("DROP TABLE {role}_table"),
        format!("DROP OWNED BY {role}"),
        format!("DROP ROLE {role}"),
    ] {
        diesel::sql_query(statement).execute(&mut owner).unwrap();
    }
}

/// A 404 or 403 keeps the signed-in frame: the organization switcher and Sign out.
#[actix_web::test]
async fn error_pages_keep_the_signed_in_top_bar() {
    let app = spawn_app().await;
    let slug = app.owner_with_org().await;
    let missing = app.get("/orgs/no-such-organization").await;
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("Page not found"), "{}", missing.body);
    assert!(missing.body.contains("Sign out") && missing.body.contains(&format!("/orgs/{slug}")));
    let mia = crate::support::member(&app, &slug, "Mia", "mia@example.com", "member").await;
    let refused = app
        .get_with(&mia, &format!("/orgs/{slug}/access/invitations/new"))
        .await;
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("Not allowed") && refused.body.contains("Sign out"));
    let visitor = app.get_with(&client(&app.address), "/no-such-page").await;
    assert_eq!(visitor.status, 404);
    assert!(!visitor.body.contains("Sign out"));
    let favicon = reqwest::get(app.url("/favicon.ico")).await.unwrap();
    assert_eq!(favicon.status(), 200);
    assert_eq!(favicon.headers()["content-type"], "image/x-icon");
    assert!(favicon.bytes().await.unwrap().starts_with(&[0, 0, 1, 0]));
    let manifest: serde_json::Value = reqwest::get(app.url("/static/manifest.webmanifest"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(manifest["name"], "Gatehouse");
    assert!(manifest["theme_color"].is_string());
    assert!(missing.body.contains("rel=\"icon\"") && missing.body.contains("rel=\"manifest\""));
}

/// METRICS_BIND serves Prometheus text: requests by route pattern (never a raw path), the
/// pool, the outbox and sign-in failures.
#[actix_web::test]
async fn metrics_are_served_on_their_own_address() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = crate::support::spawn_app_with(crate::support::Options {
        metrics_bind: Some(format!("127.0.0.1:{port}")),
        ..Default::default()
    })
    .await;
    app.get("/signin").await;
    app.get("/invitations/some-secret-token").await;
    app.sign_in(
        &client(&app.address),
        "nobody@example.com",
        "wrong-password-1",
    )
    .await;
    let text = crate::support::eventually("the metrics endpoint", || async {
        let r = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
            .await
            .ok()?;
        (r.status() == 200).then_some(())?;
        r.text().await.ok()
    })
    .await;
    for expected in [
        "gatehouse_http_requests_total{",
        "route=\"/signin\"",
        "route=\"/invitations/{token}\"",
        "gatehouse_http_request_duration_seconds_bucket",
        "gatehouse_db_pool_connections_idle",
        "gatehouse_outbox_depth",
        "gatehouse_outbox_oldest_seconds",
        "gatehouse_sign_in_failures_total",
    ] {
        assert!(text.contains(expected), "{expected} missing in:\n{text}");
    }
    assert!(
        !text.contains("some-secret-token"),
        "paths with tokens never appear"
    );
    // Not on the dashboard's own address.
    assert_eq!(app.get("/metrics").await.status, 404);
}
