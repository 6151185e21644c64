//! Page latency and statement counts at scale: a user in 400 organizations, an organization with
//! 10,000 members. Run with `cargo bench --bench pages`; results go in docs/performance.md.
//!
//! Starts its own throwaway PostgreSQL (or uses DATABASE_URL's server), seeds it, serves the
//! app on loopback and times sequential requests from one client (the numbers include HTTP on
//! loopback, so they are an upper bound on server time).

use std::net::TcpListener;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use gatehouse::config::{Mode, Settings};
use gatehouse::db::StatementCounter;
use gatehouse::local_pg::Cluster;
use secrecy::SecretString;

const PASSWORD: &str = "violet-harbor-quartz-1987";
const REQUESTS: usize = 400;

fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("gatehouse-bench-{}", std::process::id()));
    let (url, cluster) = match std::env::var("DATABASE_URL") {
        Ok(url) => (url, None),
        Err(_) => {
            let cluster = Cluster::start(&dir, true)?;
            cluster.ensure_database("bench")?;
            (cluster.url("bench"), Some(cluster))
        }
    };
    let result = run(&url);
    if let Some(cluster) = cluster {
        cluster.stop()?;
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

fn run(url: &str) -> anyhow::Result<()> {
    let statements = StatementCounter::default();
    let pool = gatehouse::startup::connect_and_migrate(
        &SecretString::from(url.to_string()),
        None,
        8,
        statements.clone(),
    )?;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let base = format!("http://127.0.0.1:{port}");
    let settings = Settings {
        mode: Mode::Local,
        database_url: Some(SecretString::from(url.to_string())),
        migration_database_url: None,
        smtp_url: None,
        mail_from: "Gatehouse <gatehouse@localhost>".into(),
        base_url: base.clone(),
        session_key: Some(SecretString::from("b".repeat(64))),
        data_key: None,
        operators_require_2fa: None,
        bind: format!("127.0.0.1:{port}"),
        data_dir: std::env::temp_dir(),
        max_orgs_per_user: 400,
        invite_ttl_days: 7,
        invites_per_org_per_day: 200,
        sudo_minutes: 10,
        signin_max_failures: 10,
        signin_lock_minutes: 15,
        api_rate_per_minute: 600,
        outbox_keep_days: 30,
        session_idle_hours: 24,
        session_max_days: 30,
        metrics_bind: None,
        log_format: "text".into(),
        outbox_poll_seconds: 5,
        trusted_proxies: Vec::new(),
        database_pool_size: 8,
        database_concurrency: None,
        workers: Some(2),
    };

    let seeded = Instant::now();
    let mut conn = pool.get()?;
    seed(&mut conn)?;
    drop(conn);
    println!("seeded in {:.1} s", seeded.elapsed().as_secs_f64());

    actix_web::rt::System::new().block_on(async move {
        let key = gatehouse::startup::session_key(&settings)?;
        let server = gatehouse::startup::run(settings, pool, key, listener)?;
        let handle = server.handle();
        actix_web::rt::spawn(server);
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let page = client
            .get(format!("{base}/signin"))
            .send()
            .await?
            .text()
            .await?;
        let token = page
            .split("name=\"csrf_token\" value=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or_default()
            .to_string();
        let signed = client
            .post(format!("{base}/signin"))
            .header("Origin", &base)
            .form(&[
                ("csrf_token", token.as_str()),
                ("email", "bench@example.com"),
                ("password", PASSWORD),
            ])
            .send()
            .await?;
        anyhow::ensure!(
            signed.status() == 303,
            "sign-in failed: {}",
            signed.status()
        );

        println!("| page | data | p50 | p95 | statements |");
        println!("|---|---|---|---|---|");
        for (path, data) in [
            ("/orgs", "user in 400 organizations, page 1 of 8"),
            ("/orgs?page=8", "user in 400 organizations, last page"),
            ("/orgs/big-org", "organization with 10,000 members"),
            ("/orgs/big-org/settings", "organization with 10,000 members"),
            (
                "/orgs/big-org/access/users",
                "Active users, 10,000 members, page 1",
            ),
            (
                "/orgs/big-org/access/users?page=200",
                "Active users, 10,000 members, last page",
            ),
            (
                "/orgs/big-org/access/users?q=member%2042",
                "Active users, 10,000 members, search by name",
            ),
            (
                "/orgs/big-org/access/users?q=member4242%40example",
                "Active users, 10,000 members, search by email",
            ),
        ] {
            let mut times = Vec::with_capacity(REQUESTS);
            let mut fewest = u64::MAX;
            for _ in 0..REQUESTS {
                let before = statements.get();
                let start = Instant::now();
                let r = client.get(format!("{base}{path}")).send().await?;
                let status = r.status();
                r.bytes().await?;
                times.push(start.elapsed());
                fewest = fewest.min(statements.get() - before);
                anyhow::ensure!(status == 200, "{path}: {status}");
            }
            times.sort();
            let ms = |d: Duration| d.as_secs_f64() * 1000.0;
            println!(
                "| `{path}` | {data} | {:.2} ms | {:.2} ms | {fewest} |",
                ms(times[REQUESTS / 2]),
                ms(times[REQUESTS * 95 / 100])
            );
        }
        handle.stop(true).await;
        anyhow::Ok(())
    })
}

fn seed(conn: &mut PgConnection) -> anyhow::Result<()> {
    let hash = argon2::password_hash::PasswordHasher::hash_password(
        &argon2::Argon2::default(),
        PASSWORD.as_bytes(),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?
    .to_string();
    diesel::sql_query("INSERT INTO users (name, email, password_hash, email_verified_at) VALUES ('Bench', 'bench@example.com', $1, now())")
        .bind::<Text, _>(&hash)
        .execute(conn)?;
    let user: i64 = gatehouse::db::users::find_by_email(conn, "bench@example.com")?
        .map(|u| u.id.get())
        .unwrap_or_default();
    // 399 organizations plus the big one: 400 memberships.
    diesel::sql_query(
        "WITH o AS (INSERT INTO organizations (name, slug)
                    SELECT 'Org ' || g, 'org-' || g FROM generate_series(1, 399) g RETURNING id),
              e AS (INSERT INTO environments (organization_id, kind)
                    SELECT o.id, k FROM o, unnest(ARRAY['development', 'staging', 'production']) k)
         INSERT INTO memberships (organization_id, user_id, role) SELECT id, $1, 'owner' FROM o",
    )
    .bind::<BigInt, _>(user)
    .execute(conn)?;
    diesel::sql_query(
        "WITH o AS (INSERT INTO organizations (name, slug) VALUES ('Big Org', 'big-org') RETURNING id),
              e AS (INSERT INTO environments (organization_id, kind)
                    SELECT o.id, k FROM o, unnest(ARRAY['development', 'staging', 'production']) k RETURNING id, organization_id, kind),
              u AS (INSERT INTO users (name, email, password_hash)
                    SELECT 'Member ' || g, 'member' || g || '@example.com', 'x' FROM generate_series(1, 9999) g RETURNING id),
              m AS (INSERT INTO memberships (organization_id, user_id, role)
                    SELECT o.id, u.id, 'member' FROM o, u
                    UNION ALL SELECT o.id, $1, 'owner' FROM o RETURNING organization_id, user_id)
         INSERT INTO environment_roles (environment_id, organization_id, user_id, role)
         SELECT e.id, e.organization_id, m.user_id, 'viewer' FROM e JOIN m ON m.organization_id = e.organization_id WHERE e.kind = 'staging'",
    )
    .bind::<BigInt, _>(user)
    .execute(conn)?;
    diesel::sql_query("ANALYZE").execute(conn)?;
    Ok(())
}
