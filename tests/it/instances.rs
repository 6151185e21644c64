//! Several instances on one PostgreSQL (DESIGN §15): mail queued anywhere wakes every
//! instance's worker at once through LISTEN/NOTIFY, each email goes out exactly once, and a
//! dropped listening connection is replaced. The poll fallback is set to ten minutes here, so
//! only a notification can deliver within the test's wait.

use std::net::TcpListener;

use diesel::RunQueryDsl;
use gatehouse::db::outbox::{NewMessage, enqueue};

use crate::support::{Options, TestApp, eventually, spawn_app_with};

fn queue(app: &TestApp, to: &str) {
    enqueue(
        &mut app.conn(),
        NewMessage {
            kind: "test",
            recipient: to,
            subject: "Hello from another instance",
            text_body: "hello",
            html_body: "<p>hello</p>",
        },
    )
    .expect("queue");
}

async fn delivered(app: &TestApp, to: &str) -> usize {
    eventually(&format!("an email to {to}"), || async {
        let n = app
            .mail
            .all()
            .iter()
            .filter(|m| m.to.iter().any(|t| t == to))
            .count();
        (n > 0).then_some(n)
    })
    .await
}

#[actix_web::test]
async fn mail_queued_anywhere_goes_out_at_once_and_once() {
    let app = spawn_app_with(Options {
        outbox_poll_seconds: 600,
        ..Options::default()
    })
    .await;
    // A second instance on the same database and mail server.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let second = gatehouse::startup::run(
        app.settings.clone(),
        app.pool.clone(),
        gatehouse::startup::session_key(&app.settings).unwrap(),
        listener,
    )
    .unwrap();
    actix_web::rt::spawn(second);

    // Queued straight into the table, as another instance would: no local wake-up.
    for i in 0..5 {
        queue(&app, &format!("person{i}@example.com"));
    }
    for i in 0..5 {
        assert_eq!(delivered(&app, &format!("person{i}@example.com")).await, 1);
    }

    // The listening connections are dropped: they are replaced and still wake the workers.
    let dropped: Vec<bool> = diesel::dsl::sql::<diesel::sql_types::Bool>(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()",
    )
    .load(&mut app.conn())
    .unwrap();
    assert!(!dropped.is_empty(), "the instances listen");
    // Announced while they reconnect, or after: a reconnected listener wakes its worker anyway.
    queue(&app, "after@example.com");
    assert_eq!(delivered(&app, "after@example.com").await, 1);
    let total = app.mail.all().len();
    assert_eq!(total, 6, "each email was sent once");
}
