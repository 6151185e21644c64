//! The tests' PostgreSQL: the server at DATABASE_URL when set, otherwise a throwaway cluster
//! started once per test process (and stopped by a watchdog when the process ends). A template
//! database is migrated once; each test gets its own copy. On the throwaway cluster the
//! application serves as its restricted role, as the embedded default does; with DATABASE_URL
//! it uses that one role for everything.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use diesel::prelude::*;
use diesel::sql_query;
use gatehouse::local_pg::Cluster;

struct Server {
    /// URL of a database on the server as the schema owner, with `{db}` where the name goes.
    url_pattern: String,
    /// The same as the serving role.
    app_pattern: String,
    template: String,
    create_lock: Mutex<()>,
}

static SERVER: OnceLock<Server> = OnceLock::new();
static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn server() -> &'static Server {
    SERVER.get_or_init(|| {
        let (url_pattern, app_pattern) = match std::env::var("DATABASE_URL") {
            Ok(url) => {
                let mut parsed = url::Url::parse(&url).expect("DATABASE_URL is a URL");
                parsed.set_path("/{db}");
                let pattern = parsed.to_string().replace("%7Bdb%7D", "{db}");
                (pattern.clone(), pattern)
            }
            Err(_) => start_throwaway_cluster(),
        };
        let template = format!("gatehouse_template_{}", std::process::id());
        let admin = url_pattern.replace("{db}", "postgres");
        let mut conn = PgConnection::establish(&admin).expect("connect to the test PostgreSQL");
        sql_query(format!("DROP DATABASE IF EXISTS {template}"))
            .execute(&mut conn)
            .expect("drop template");
        sql_query(format!("CREATE DATABASE {template}"))
            .execute(&mut conn)
            .expect("create template");
        {
            let mut t = PgConnection::establish(&url_pattern.replace("{db}", &template))
                .expect("connect to template");
            gatehouse::db::migrate(&mut t).expect("migrate template");
            let mut app = PgConnection::establish(&app_pattern.replace("{db}", &template))
                .expect("connect to template as the serving role");
            let role = gatehouse::db::current_role(&mut app).expect("role");
            if role != gatehouse::db::current_role(&mut t).expect("role") {
                gatehouse::db::grant_serving_role(&mut t, &role).expect("grant");
            }
        }
        Server {
            url_pattern,
            app_pattern,
            template,
            create_lock: Mutex::new(()),
        }
    })
}

/// The data folder of the throwaway cluster (when the tests run one).
pub fn throwaway_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("gatehouse-test-pg-{}", std::process::id()))
}

/// Starts the throwaway cluster: the schema owner's and the serving role's URL patterns.
fn start_throwaway_cluster() -> (String, String) {
    let dir = throwaway_dir();
    let _ = std::fs::remove_dir_all(&dir);
    let cluster = Cluster::start(&dir, true)
        .unwrap_or_else(|e| panic!("could not start a test PostgreSQL: {e:#}"));
    // The test process may end without running destructors; this watchdog stops the cluster and
    // removes its files once the process is gone.
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf '{dir}'",
        pid = std::process::id(),
        stop = cluster.stop_command(),
        dir = dir.display()
    );
    // Detached on purpose: it must outlive this process, so nothing here waits for it.
    let watchdog = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("watchdog");
    std::mem::forget(watchdog);
    let urls = (cluster.url("{db}"), cluster.app_url("{db}"));
    std::mem::forget(cluster);
    urls
}

/// One test's database, dropped when the test ends.
pub struct TestDatabase {
    /// As the serving role.
    pub url: String,
    /// As the schema owner.
    pub owner_url: String,
    name: String,
}

impl TestDatabase {
    pub fn create() -> TestDatabase {
        let server = server();
        let name = format!(
            "gatehouse_test_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let _guard = server.create_lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut conn = PgConnection::establish(&server.url_pattern.replace("{db}", "postgres"))
            .expect("connect");
        sql_query(format!(
            "CREATE DATABASE {name} TEMPLATE {}",
            server.template
        ))
        .execute(&mut conn)
        .expect("create test database");
        TestDatabase {
            url: server.app_pattern.replace("{db}", &name),
            owner_url: server.url_pattern.replace("{db}", &name),
            name,
        }
    }
}

impl TestDatabase {
    /// A database the test manages itself (its own cluster): nothing to drop afterwards.
    pub fn given(url: String, owner_url: String) -> TestDatabase {
        TestDatabase {
            url,
            owner_url,
            name: String::new(),
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if self.name.is_empty() {
            return;
        }
        if let Some(server) = SERVER.get()
            && let Ok(mut conn) =
                PgConnection::establish(&server.url_pattern.replace("{db}", "postgres"))
        {
            let _ = sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut conn);
        }
    }
}
