//! Real faults (DESIGN §15): PostgreSQL stops while the dashboard runs under load. Pages answer
//! a clear 503 (never a 500 or a hang), the API a 503 in JSON, /readyz 503; when PostgreSQL
//! returns, the instance recovers by itself and every acknowledged change is stored. The test runs its own cluster,
//! so stopping it disturbs no other test.

use std::time::{Duration, Instant};

use crate::api::{create_key, send};
use crate::support::{Options, eventually, spawn_app_with};
use gatehouse::local_pg::Cluster;

#[actix_web::test]
async fn while_postgres_is_down_pages_say_so_and_it_recovers_by_itself() {
    let dir = std::env::temp_dir().join(format!("gatehouse-faults-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cluster = Cluster::start(&dir, true).expect("a cluster of its own");
    let _stopped_at_the_end = StopOnDrop(&cluster, dir.clone());
    cluster.ensure_database("gatehouse").expect("database");
    let app = spawn_app_with(Options {
        database: Some((cluster.app_url("gatehouse"), cluster.url("gatehouse"))),
        ..Options::default()
    })
    .await;
    let slug = app.owner_with_org().await;
    let key = create_key(&app, &app.client, "tool").await;
    assert_eq!(app.get("/orgs").await.status, 200);

    // Load: three clients keep adding configuration values through the whole fault.
    let env = format!("/orgs/{slug}/env/development");
    let token = crate::support::csrf_token(&app.get(&env).await.body);
    let done = std::cell::Cell::new(false);
    let acked = std::cell::RefCell::new(Vec::new());
    let statuses = std::cell::RefCell::new(Vec::new());
    let loader = |n: u32| {
        let (app, env, token, done, acked, statuses) =
            (&app, &env, &token, &done, &acked, &statuses);
        async move {
            let mut i = 0;
            while !done.get() {
                i += 1;
                let key = format!("LOAD_{n}_{i}");
                let sent = app
                    .client
                    .post(app.url(&format!("{env}/config")))
                    .form(&[
                        ("csrf_token", token.as_str()),
                        ("key", &key),
                        ("value", "v"),
                    ])
                    .send()
                    .await;
                if let Ok(r) = sent {
                    let status = r.status().as_u16();
                    statuses.borrow_mut().push(status);
                    if status == 303 {
                        acked.borrow_mut().push(key);
                    }
                }
                actix_web::rt::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    let fault = async {
        actix_web::rt::time::sleep(Duration::from_millis(300)).await;
        cluster.stop().expect("stop PostgreSQL");
        let started = Instant::now();
        let page = app.get(&format!("/orgs/{slug}")).await;
        assert_eq!(page.status, 503, "{}", page.body);
        assert!(
            page.body.contains("cannot reach its database"),
            "{}",
            page.body
        );
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "answered within the pool's short wait, not a hang"
        );
        let (status, body) = send(&app, &key, "GET", "/api/v1/organizations", None).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (503, Some("unavailable"))
        );
        let ready = reqwest::get(app.url("/readyz")).await.unwrap();
        assert_eq!(ready.status(), 503);
        let acked_before_restart = acked.borrow().len();

        cluster.start_again().expect("start PostgreSQL again");
        eventually("the instance recovers by itself", || async {
            (app.get(&format!("/orgs/{slug}")).await.status == 200).then_some(())
        })
        .await;
        eventually("changes are acknowledged again", || async {
            (acked.borrow().len() > acked_before_restart + 3).then_some(())
        })
        .await;
        done.set(true);
    };
    futures::join!(loader(1), loader(2), loader(3), fault);

    let statuses = statuses.into_inner();
    assert!(!statuses.contains(&500), "never a 500: {statuses:?}");
    assert!(statuses.contains(&503), "the load met the outage");
    let acked = acked.into_inner();
    let stored: Vec<String> = diesel::RunQueryDsl::load(
        diesel::dsl::sql::<diesel::sql_types::Text>("SELECT key FROM config_values"),
        &mut app.conn(),
    )
    .unwrap();
    for key in &acked {
        assert!(
            stored.contains(key),
            "{key} was acknowledged but is not stored"
        );
    }
    let (status, _) = send(&app, &key, "GET", "/api/v1/organizations", None).await;
    assert_eq!(status, 200);
}

/// Stops the test's cluster and removes its files however the test ends.
struct StopOnDrop<'a>(&'a Cluster, std::path::PathBuf);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.stop();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

/// While the mail server refuses, 50 emails wait in the outbox with their error and a later
/// retry; when it is back, every one is delivered, once.
#[actix_web::test]
async fn while_smtp_is_down_mail_waits_and_then_goes_out_once() {
    use gatehouse::db::outbox::{NewMessage, enqueue};
    let app = spawn_app_with(Options {
        outbox_poll_seconds: 1,
        ..Options::default()
    })
    .await;
    app.mail.go_down();
    let recipients: Vec<String> = (0..50).map(|i| format!("person{i}@example.com")).collect();
    for to in &recipients {
        enqueue(
            &mut app.conn(),
            NewMessage {
                kind: "test",
                recipient: to,
                subject: "Waiting",
                text_body: "t",
                html_body: "<p>t</p>",
            },
        )
        .unwrap();
    }
    let waiting = || -> i64 {
        diesel::RunQueryDsl::get_result(
            diesel::dsl::sql::<diesel::sql_types::BigInt>(
                "SELECT count(*) FROM email_outbox
                 WHERE status = 'queued' AND last_error IS NOT NULL AND next_attempt_at > now()",
            ),
            &mut app.conn(),
        )
        .unwrap()
    };
    eventually("every email tried, failed and scheduled again", || async {
        (waiting() == 50).then_some(())
    })
    .await;
    assert!(app.mail.all().is_empty());

    app.mail.come_back();
    // Time passes until the retries are due.
    diesel::RunQueryDsl::execute(
        diesel::sql_query("UPDATE email_outbox SET next_attempt_at = now()"),
        &mut app.conn(),
    )
    .unwrap();
    eventually("every email delivered", || async {
        (app.mail.all().len() >= 50).then_some(())
    })
    .await;
    for to in &recipients {
        let n = app
            .mail
            .all()
            .iter()
            .filter(|m| m.to.iter().any(|t| t == to))
            .count();
        assert_eq!(n, 1, "{to} got it once");
    }
}

/// On SIGTERM the server stops, and the email it is sending is finished first: the slow mail
/// server receives it and the outbox records it as sent. Only the child process has a worker.
#[actix_web::test]
async fn sigterm_finishes_the_email_being_sent() {
    use diesel::Connection;
    use gatehouse::db::outbox::{NewMessage, enqueue};
    let db = crate::support::cluster::TestDatabase::create();
    let mail = crate::support::SmtpSink::start();
    mail.slow_down(Duration::from_secs(5));
    let mut conn = diesel::PgConnection::establish(&db.owner_url).unwrap();
    let smtp = [("SMTP_URL", format!("smtp://127.0.0.1:{}", mail.port))];
    let (mut child, _) =
        serve_binary(&db.url, &db.owner_url, &smtp, std::process::Stdio::null()).await;
    let id = enqueue(
        &mut conn,
        NewMessage {
            kind: "test",
            recipient: "late@example.com",
            subject: "Sent while stopping",
            text_body: "t",
            html_body: "<p>t</p>",
        },
    )
    .unwrap();
    let mut status = move || -> String {
        diesel::RunQueryDsl::get_result(
            diesel::dsl::sql::<diesel::sql_types::Text>(&format!(
                "SELECT status FROM email_outbox WHERE id = {id}"
            )),
            &mut conn,
        )
        .unwrap()
    };
    // The mail server takes 5 s per message: the email stays "sending" that long.
    let mut sending = false;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if status() == "sending" {
            sending = true;
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(sending, "the child started sending");
    terminate(&child);
    let exited = actix_web::rt::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exited.success(), "{exited:?}");
    assert_eq!(status(), "sent", "the email in flight was finished");
    assert!(
        mail.all()
            .iter()
            .any(|m| m.to.iter().any(|t| t == "late@example.com"))
    );
}

/// LOG_FORMAT=json: every log line is one JSON object.
#[actix_web::test]
async fn json_logs_are_one_object_per_line() {
    let db = crate::support::cluster::TestDatabase::create();
    let env = [
        ("LOG_FORMAT", "json".to_string()),
        ("RUST_LOG", "info".to_string()),
    ];
    let (mut child, _) =
        serve_binary(&db.url, &db.owner_url, &env, std::process::Stdio::piped()).await;
    terminate(&child);
    let output = actix_web::rt::task::spawn_blocking(move || {
        let _ = child.wait();
        let mut out = String::new();
        std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
        out
    })
    .await
    .unwrap();
    let logs: Vec<&str> = output.lines().filter(|l| l.starts_with('{')).collect();
    assert!(!logs.is_empty(), "no JSON log lines in:\n{output}");
    for line in logs {
        let entry: serde_json::Value = serde_json::from_str(line).expect("a JSON object");
        assert!(
            entry["level"].is_string() && entry["timestamp"].is_string(),
            "{line}"
        );
    }
}

/// SIGTERM during a slow request (here: one waiting for a row lock held by the test): the
/// request completes, new connections are refused, and the process exits cleanly.
#[actix_web::test]
async fn sigterm_lets_a_slow_request_finish_and_refuses_new_connections() {
    use diesel::Connection;
    let app = crate::support::spawn_app().await;
    let slug = app.owner_with_org().await;
    let serving = secrecy::ExposeSecret::expose_secret(app.settings.database_url.as_ref().unwrap())
        .to_string();
    let smtp = [("SMTP_URL", format!("smtp://127.0.0.1:{}", app.mail.port))];
    let (mut child, port) = serve_binary(
        &serving,
        app.owner_url(),
        &smtp,
        std::process::Stdio::null(),
    )
    .await;
    let base = format!("http://127.0.0.1:{port}");
    let browser = crate::support::client(&base);
    let token = crate::support::csrf_token(
        &browser
            .get(format!("{base}/signin"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    let signed_in = browser
        .post(format!("{base}/signin"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("email", "owner@example.com"),
            ("password", crate::support::PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    let settings = format!("{base}/orgs/{slug}/settings");
    let token = crate::support::csrf_token(
        &browser
            .get(&settings)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );

    // Hold the organization's row: the rename below waits for it.
    let mut holder = diesel::PgConnection::establish(app.owner_url()).unwrap();
    for statement in [
        "BEGIN".to_string(),
        format!("SELECT id FROM organizations WHERE slug = '{slug}' FOR UPDATE"),
    ] {
        diesel::RunQueryDsl::execute(diesel::sql_query(statement), &mut holder).unwrap();
    }
    let rename = browser
        .post(&settings)
        .form(&[
            ("csrf_token", token.as_str()),
            ("name", "Renamed While Stopping"),
        ])
        .send();
    let stop_and_release = async {
        actix_web::rt::time::sleep(Duration::from_millis(500)).await;
        terminate(&child);
        eventually("new connections are refused", || async {
            std::net::TcpStream::connect(("127.0.0.1", port))
                .is_err()
                .then_some(())
        })
        .await;
        diesel::RunQueryDsl::execute(diesel::sql_query("ROLLBACK"), &mut holder).unwrap();
    };
    let (renamed, ()) = futures::join!(rename, stop_and_release);
    assert_eq!(
        renamed.unwrap().status(),
        303,
        "the request in flight completed"
    );
    let exited = actix_web::rt::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exited.success(), "{exited:?}");
    let name: String = diesel::RunQueryDsl::get_result(
        diesel::dsl::sql::<diesel::sql_types::Text>(&format!(
            "SELECT name FROM organizations WHERE slug = '{slug}'"
        )),
        &mut app.conn(),
    )
    .unwrap();
    assert_eq!(name, "Renamed While Stopping");
}

/// The gatehouse binary on a free port against the database at `serving` (migrated as
/// `owner`), with `env` besides, ready (`/readyz`) when this returns: the child and its port.
async fn serve_binary(
    serving: &str,
    owner: &str,
    env: &[(&str, String)],
    stdout: std::process::Stdio,
) -> (std::process::Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .env("DATABASE_URL", serving)
        .env("MIGRATION_DATABASE_URL", owner)
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("BASE_URL", format!("http://127.0.0.1:{port}"))
        .env(
            "GATEHOUSE_DATA_DIR",
            std::env::temp_dir().join(format!("gatehouse-bin-{port}")),
        )
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(stdout)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    eventually("the instance is up", || async {
        let r = reqwest::get(format!("http://127.0.0.1:{port}/readyz"))
            .await
            .ok()?;
        (r.status() == 200).then_some(())
    })
    .await;
    (child, port)
}

/// Sends SIGTERM, as systemd or a container runtime does to stop an instance.
fn terminate(child: &std::process::Child) {
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
}

/// A request waits for a connection three seconds at most: with the one connection busy, two
/// more requests answer "unavailable" when the three seconds are up, and the busy one finishes.
#[actix_web::test]
async fn a_request_waits_for_a_busy_database_three_seconds_at_most() {
    use diesel::RunQueryDsl;
    use gatehouse::error::AppError;
    let app = crate::support::spawn_app().await;
    let pool = gatehouse::db::pool(app.owner_url(), 1, Default::default()).expect("pool");
    let busy = {
        let pool = pool.clone();
        actix_web::rt::spawn(async move {
            gatehouse::db::run(&pool, |c| {
                diesel::sql_query("SELECT pg_sleep(5)").execute(c)
            })
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let quick = |pool: gatehouse::db::PgPool| async move {
        let result = gatehouse::db::run(&pool, |c| diesel::sql_query("SELECT 1").execute(c)).await;
        (result, started.elapsed())
    };
    let ((second, second_after), (third, third_after)) =
        tokio::join!(quick(pool.clone()), quick(pool.clone()));
    for (result, after) in [(second, second_after), (third, third_after)] {
        assert!(matches!(result, Err(AppError::Unavailable)), "{result:?}");
        assert!(
            after >= Duration::from_millis(2_500) && after < Duration::from_millis(4_500),
            "answered after {after:?}"
        );
    }
    assert!(
        busy.await.expect("joined").is_ok(),
        "the busy request finishes"
    );
}

/// The three seconds count from the request, not from when a blocking thread takes its work:
/// with the only blocking thread busy, queued work answers "unavailable" at the deadline and
/// never reaches the database afterwards, nor does work whose caller went away; work that had
/// started is waited for past the deadline, and a follow-up write (`finish`) is never abandoned.
#[test]
fn waiting_for_a_blocking_thread_counts_towards_the_three_seconds() {
    use diesel::RunQueryDsl;
    use gatehouse::error::AppError;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let touching = |touched: &Arc<AtomicBool>| {
        let touched = Arc::clone(touched);
        move |c: &mut diesel::PgConnection| {
            touched.store(true, Ordering::SeqCst);
            diesel::sql_query("SELECT 1").execute(c)
        }
    };
    on_one_blocking_thread(|pool| async move {
        let busy = hold_the_thread(&pool, "4.5");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let started = Instant::now();
        let (left, timed_out) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let gone = tokio::spawn({
            let (pool, work) = (pool.clone(), touching(&left));
            async move { gatehouse::db::run(&pool, work).await }
        });
        let follow_up = tokio::spawn({
            let pool = pool.clone();
            async move {
                gatehouse::db::finish(&pool, |c| diesel::sql_query("SELECT 1").execute(c)).await
            }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        gone.abort();
        let queued = gatehouse::db::run(&pool, touching(&timed_out)).await;
        let after = started.elapsed();
        assert!(matches!(queued, Err(AppError::Unavailable)), "{queued:?}");
        assert!(
            after >= Duration::from_millis(2_500) && after < Duration::from_millis(4_000),
            "answered after {after:?}"
        );
        assert!(
            matches!(busy.await.expect("joined"), Ok(1)),
            "the work that had started is waited for past its deadline"
        );
        let follow_up = follow_up.await.expect("joined");
        assert!(matches!(follow_up, Ok(1)), "{follow_up:?}");
        let next = gatehouse::db::run(&pool, |c| diesel::sql_query("SELECT 1").execute(c)).await;
        assert!(matches!(next, Ok(1)), "{next:?}");
        assert!(
            !timed_out.load(Ordering::SeqCst),
            "work abandoned at the deadline never reaches the database"
        );
        assert!(
            !left.load(Ordering::SeqCst),
            "work whose caller went away never reaches the database"
        );
    });
}

/// A refusal is recorded in the audit log even when the client leaves while the record waits
/// for a blocking thread: records of what happened are never abandoned in the queue.
#[test]
fn a_refusal_is_recorded_even_if_the_client_leaves_while_it_waits() {
    use diesel::prelude::*;
    use gatehouse::audit::{Action, Actor, Denied, RequestMeta};
    use gatehouse::db::schema::audit_events::dsl as a;
    on_one_blocking_thread(|pool| async move {
        let busy = hold_the_thread(&pool, "1");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let refused = tokio::spawn({
            let pool = pool.clone();
            async move {
                let ctx = gatehouse::ops::Ctx {
                    actor: Actor::Visitor,
                    meta: RequestMeta {
                        ip: Some("192.0.2.7".into()),
                        user_agent: None,
                    },
                    path: "/operator".into(),
                };
                let denied = Denied {
                    organization: None,
                    action: Action::UserSignInFailed,
                    target: Some("someone@example.com".into()),
                    details: serde_json::json!({}),
                };
                gatehouse::ops::access::deny(&pool, &ctx, denied).await
            }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        refused.abort();
        assert!(busy.await.expect("joined").is_ok());
        // One blocking thread, first in first out: the record is written before this count.
        let recorded: i64 = gatehouse::db::run(&pool, |c| {
            a::audit_events
                .filter(a::status.eq("denied"))
                .filter(a::target.eq("someone@example.com"))
                .count()
                .get_result(c)
        })
        .await
        .expect("count");
        assert_eq!(recorded, 1);
    });
}

/// A right answer releases its claim on the sign-in throttle even when the client leaves while
/// the answer is checked (argon2 or a two-factor code): the attempt would otherwise stay counted
/// as a failure, and a few dropped connections would lock a person out.
#[actix_web::test]
async fn a_right_answer_is_not_counted_as_a_failure_when_the_client_leaves() {
    use diesel::prelude::*;
    use gatehouse::db::schema::sign_in_failures::dsl as f;
    use gatehouse::ops::reauth::{Checked, throttled};
    let app = crate::support::spawn_app().await;
    let checking = std::sync::Arc::new(tokio::sync::Notify::new());
    let caller = tokio::spawn({
        let (pool, settings, checking) = (app.pool.clone(), app.settings.clone(), checking.clone());
        async move {
            throttled(
                &pool,
                &settings,
                "left@example.com",
                "192.0.2.9",
                move || async move {
                    checking.notify_one();
                    tokio::time::sleep(Duration::from_millis(400)).await;
                    Ok(true)
                },
            )
            .await
        }
    });
    checking.notified().await;
    caller.abort();
    let failures = |email: &'static str| {
        let pool = app.pool.clone();
        async move {
            gatehouse::db::run(&pool, move |c| {
                f::sign_in_failures
                    .filter(f::email.eq(email))
                    .count()
                    .get_result::<i64>(c)
            })
            .await
            .expect("count")
        }
    };
    assert_eq!(
        failures("left@example.com").await,
        1,
        "claimed while checked"
    );
    eventually("the right answer's claim released", || async {
        (failures("left@example.com").await == 0).then_some(())
    })
    .await;

    // A wrong answer stays counted, whether the client waits or not.
    let wrong = throttled(
        &app.pool,
        &app.settings,
        "wrong@example.com",
        "192.0.2.9",
        || async { Ok(false) },
    )
    .await
    .expect("checked");
    assert_eq!(wrong, Checked::Wrong);
    assert_eq!(failures("wrong@example.com").await, 1);
}

/// Runs `test` on a runtime with a single blocking thread, with a pool of two connections to a
/// fresh database.
fn on_one_blocking_thread<F, Fut>(test: F)
where
    F: FnOnce(gatehouse::db::PgPool) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let db = crate::support::cluster::TestDatabase::create();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(1)
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let pool = gatehouse::db::pool(&db.owner_url, 2, Default::default()).expect("pool");
        test(pool).await;
    });
}

/// Holds the only blocking thread with a statement of `seconds`.
fn hold_the_thread(
    pool: &gatehouse::db::PgPool,
    seconds: &'static str,
) -> tokio::task::JoinHandle<Result<usize, gatehouse::error::AppError>> {
    use diesel::RunQueryDsl;
    let pool = pool.clone();
    tokio::spawn(async move {
        gatehouse::db::run(&pool, move |c| {
            diesel::sql_query(format!("SELECT pg_sleep({seconds})")).execute(c)
        })
        .await
    })
}
