//! Real faults (DESIGN §15): PostgreSQL stops while the dashboard runs. Pages answer a clear 503
//! (never a 500 or a hang), the API a 503 in JSON, /readyz 503; when PostgreSQL returns, the
//! instance recovers by itself and nothing acknowledged is lost. The test runs its own cluster,
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
    let visitor = reqwest::get(app.url("/signin")).await.unwrap();
    assert_ne!(
        visitor.status(),
        500,
        "pages that need no database still answer"
    );

    cluster.start_again().expect("start PostgreSQL again");
    eventually("the instance recovers by itself", || async {
        (app.get(&format!("/orgs/{slug}")).await.status == 200).then_some(())
    })
    .await;
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
