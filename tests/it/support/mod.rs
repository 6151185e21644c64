//! The test harness: a real PostgreSQL (one database per test, cloned from a migrated template),
//! a real SMTP server on loopback per test, and the application on a random port.

pub mod browser;
pub mod cluster;
pub mod smtp;

use std::net::TcpListener;
use std::sync::LazyLock;
use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use gatehouse::config::{Mode, Settings};
use gatehouse::db::PgPool;
use reqwest::header::{HeaderMap, HeaderValue, ORIGIN};
use secrecy::SecretString;

pub use smtp::SmtpSink;

/// A password that passes the strength rules, for test accounts.
pub const PASSWORD: &str = "violet-harbor-quartz-1987";

/// `PASSWORD` hashed once for every account the fixtures create (argon2 is deliberately slow).
static PASSWORD_HASH: LazyLock<String> = LazyLock::new(|| {
    gatehouse::auth::password::hash_blocking(&SecretString::from(PASSWORD)).expect("hash")
});

/// Polls `check` until it gives a value, for at most 20 seconds, pausing 5 ms at first and at
/// most 100 ms between tries: waits for what happens in the background (an email, a delivery
/// state) without fixed sleeps.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut pause = Duration::from_millis(5);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        actix_web::rt::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub pool: PgPool,
    pub mail: SmtpSink,
    pub settings: Settings,
    /// Statements run through the application's pool.
    pub statements: gatehouse::db::StatementCounter,
    _db: cluster::TestDatabase,
}

pub struct Options {
    pub max_orgs_per_user: i64,
    pub signin_max_failures: i64,
    pub invites_per_org_per_day: i64,
    pub api_rate_per_minute: i64,
    /// Serve as if behind https (`BASE_URL` https://localhost:PORT): Secure cookies.
    pub https: bool,
    /// TRUSTED_PROXIES.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// A database of the test's own (serving URL, owner URL) instead of a copy of the template.
    pub database: Option<(String, String)>,
    /// OUTBOX_POLL_SECONDS.
    pub outbox_poll_seconds: u64,
    /// METRICS_BIND.
    pub metrics_bind: Option<String>,
    /// BASE_URL, when the app is reached through something else (a proxy).
    pub base_url: Option<String>,
    /// OPERATORS_REQUIRE_2FA.
    pub operators_require_2fa: Option<bool>,
    /// BASE_URL http://localhost:PORT, as the local default is (passkeys need a host name).
    pub localhost: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_orgs_per_user: 400,
            signin_max_failures: 10,
            invites_per_org_per_day: 200,
            api_rate_per_minute: 600,
            https: false,
            trusted_proxies: Vec::new(),
            database: None,
            outbox_poll_seconds: 5,
            metrics_bind: None,
            base_url: None,
            operators_require_2fa: None,
            localhost: false,
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

pub async fn spawn_app_with(options: Options) -> TestApp {
    let db = match options.database.clone() {
        Some((url, owner_url)) => cluster::TestDatabase::given(url, owner_url),
        None => cluster::TestDatabase::create(),
    };
    let mail = SmtpSink::start();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let address = format!("http://127.0.0.1:{port}");
    let settings = Settings {
        mode: Mode::Local,
        database_url: Some(SecretString::from(db.url.clone())),
        migration_database_url: Some(SecretString::from(db.owner_url.clone())),
        smtp_url: Some(SecretString::from(format!(
            "smtp://127.0.0.1:{}",
            mail.port
        ))),
        mail_from: "Gatehouse <gatehouse@example.test>".into(),
        base_url: if let Some(base) = &options.base_url {
            base.clone()
        } else if options.localhost {
            format!("http://localhost:{port}")
        } else if options.https {
            format!("https://localhost:{port}")
        } else {
            address.clone()
        },
        session_key: Some(SecretString::from("k".repeat(64))),
        data_key: None,
        operators_require_2fa: options.operators_require_2fa,
        bind: format!("127.0.0.1:{port}"),
        data_dir: std::env::temp_dir().join("gatehouse-test-unused"),
        max_orgs_per_user: options.max_orgs_per_user,
        invite_ttl_days: 7,
        invites_per_org_per_day: options.invites_per_org_per_day,
        sudo_minutes: 10,
        signin_max_failures: options.signin_max_failures,
        signin_lock_minutes: 15,
        api_rate_per_minute: options.api_rate_per_minute,
        outbox_keep_days: 30,
        session_idle_hours: 24,
        session_max_days: 30,
        metrics_bind: options.metrics_bind.clone(),
        log_format: "text".into(),
        outbox_poll_seconds: options.outbox_poll_seconds,
        trusted_proxies: options.trusted_proxies.clone(),
        database_pool_size: 8,
        database_concurrency: None,
        workers: Some(2),
    };
    let statements = gatehouse::db::StatementCounter::default();
    let url = settings.database_url.as_ref().expect("url");
    let owner_url = SecretString::from(db.owner_url.clone());
    let pool =
        gatehouse::startup::connect_and_migrate(url, Some(&owner_url), 8, statements.clone())
            .expect("pool");
    let key = gatehouse::startup::session_key(&settings).expect("key");
    let server =
        gatehouse::startup::run(settings.clone(), pool.clone(), key, listener).expect("server");
    actix_web::rt::spawn(server);
    TestApp {
        address,
        client: client(&format!("http://127.0.0.1:{port}")),
        pool,
        mail,
        settings,
        statements,
        _db: db,
    }
}

/// A browser-like client: keeps cookies, does not follow redirects (tests look at them), and
/// sends this site's Origin as a browser does on form posts.
pub fn client(origin: &str) -> reqwest::Client {
    let mut headers = HeaderMap::new();
    headers.insert(ORIGIN, HeaderValue::from_str(origin).expect("origin"));
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .user_agent("gatehouse-tests")
        .timeout(Duration::from_secs(60))
        // The server closes a connection idle for 5 s (actix's keep-alive); a request sent on
        // one just as it closes fails. Reuse only connections idle for less than that.
        .pool_idle_timeout(Duration::from_secs(2))
        .build()
        .expect("client")
}

/// The value of the CSRF token in a page's forms.
pub fn csrf_token(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("no CSRF token in page:\n{html}"))
        + marker.len();
    html[start..].split('"').next().expect("token").to_string()
}

pub struct Response {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.get_with(&self.client, path).await
    }

    pub async fn get_with(&self, client: &reqwest::Client, path: &str) -> Response {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            self.url(path)
        };
        into_response(client.get(url).send().await.expect("GET")).await
    }

    /// Posts a form the way a browser does: with the CSRF token of the page it came from.
    pub async fn post_form(&self, page: &str, action: &str, fields: &[(&str, &str)]) -> Response {
        self.post_form_with(&self.client, page, action, fields)
            .await
    }

    pub async fn post_form_with(
        &self,
        client: &reqwest::Client,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> Response {
        let html = self.get_with(client, page).await.body;
        let token = csrf_token(&html);
        let mut form: Vec<(&str, &str)> = vec![("csrf_token", &token)];
        form.extend_from_slice(fields);
        into_response(
            client
                .post(self.url(action))
                .form(&form)
                .send()
                .await
                .expect("POST"),
        )
        .await
    }

    /// A verified account, created through the library with `PASSWORD`, signed in on
    /// `self.client` (tests about sign-up itself use `sign_up`).
    pub async fn signed_up_verified(&self, name: &str, email: &str) {
        self.create_account(name, email, true);
        self.signed_in(&self.client, email).await;
    }

    /// A verified account, created through the library with `PASSWORD`, signed in on `client`
    /// (an unverified one comes from `sign_up`, the real form).
    pub async fn account(&self, client: &reqwest::Client, name: &str, email: &str) {
        self.create_account(name, email, true);
        self.signed_in(client, email).await;
    }

    /// A verified account, created through the library with `PASSWORD`, not signed in.
    pub fn create_account_verified(&self, name: &str, email: &str) {
        self.create_account(name, email, true);
    }

    fn create_account(&self, name: &str, email: &str, verified: bool) {
        let created = gatehouse::db::users::create(
            &mut self.conn(),
            name,
            &email.to_lowercase(),
            &PASSWORD_HASH,
            verified,
        )
        .expect("create account");
        assert!(created.is_some(), "{email} already has an account");
    }

    async fn signed_in(&self, client: &reqwest::Client, email: &str) {
        let r = self.sign_in(client, email, PASSWORD).await;
        assert_eq!(r.status, 303, "sign-in failed: {}", r.body);
    }

    pub async fn sign_up(&self, client: &reqwest::Client, name: &str, email: &str) {
        let r = self
            .post_form_with(
                client,
                "/signup",
                "/signup",
                &[("name", name), ("email", email), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(r.status, 200, "sign-up failed: {}", r.body);
        assert!(r.body.contains("Check your email"), "{}", r.body);
        let r = self.sign_in(client, email, PASSWORD).await;
        assert_eq!(r.status, 303, "sign-in after sign-up failed: {}", r.body);
    }

    pub async fn sign_in(&self, client: &reqwest::Client, email: &str, password: &str) -> Response {
        self.post_form_with(
            client,
            "/signin",
            "/signin",
            &[("email", email), ("password", password)],
        )
        .await
    }

    /// Olivia Owner, signed in on `self.client`, with the organization Acme; returns its slug.
    pub async fn owner_with_org(&self) -> String {
        self.signed_up_verified("Olivia Owner", "owner@example.com")
            .await;
        self.create_org("Acme").await
    }

    /// Creates an organization as the signed-in user and returns its slug.
    /// Sends the invite form as the given client; fields beyond the addresses default to a
    /// plain member with no environment roles.
    pub async fn invite(
        &self,
        client: &reqwest::Client,
        slug: &str,
        emails: &str,
        extra: &[(&str, &str)],
    ) -> Response {
        let page = format!("/orgs/{slug}/access/invitations/new");
        let mut fields = vec![("emails", emails), ("role", "member")];
        for (k, v) in extra {
            fields.retain(|(name, _)| name != k);
            fields.push((k, v));
        }
        self.post_form_with(client, &page, &page, &fields).await
    }

    /// The invitation link from the latest invitation email to `to`, as a path.
    pub async fn invitation_path(&self, to: &str) -> String {
        let mail = self.mail.wait_for(to, "invited you to").await;
        mail.link(&self.address)
            .expect("invitation link")
            .trim_start_matches(&self.address)
            .to_string()
    }

    pub async fn create_org(&self, name: &str) -> String {
        let r = self
            .post_form("/orgs/new", "/orgs/new", &[("name", name)])
            .await;
        assert_eq!(r.status, 303, "create failed: {}", r.body);
        r.location
            .expect("location")
            .trim_start_matches("/orgs/")
            .to_string()
    }

    /// A connection as the application's own (serving) role.
    pub fn conn(&self) -> gatehouse::db::Conn {
        self.pool.get().expect("connection")
    }

    /// The schema owner's URL (migrations, DDL).
    pub fn owner_url(&self) -> &str {
        &self._db.owner_url
    }

    /// A connection as the schema owner, for tests that change the schema itself.
    pub fn owner_conn(&self) -> diesel::PgConnection {
        use diesel::Connection;
        diesel::PgConnection::establish(&self._db.owner_url).expect("owner connection")
    }

    pub fn user_id(&self, email: &str) -> i64 {
        gatehouse::db::users::find_by_email(&mut self.conn(), email)
            .expect("query")
            .expect("user")
            .id
            .get()
    }

    /// A personal API key named `name` of the account with this email, made directly (the
    /// account page's form checks what such a key may be made for).
    pub fn personal_key(&self, email: &str, name: &str) -> String {
        let user = gatehouse::db::users::find_by_email(&mut self.conn(), email)
            .expect("query")
            .expect("user");
        gatehouse::db::api_keys::create(&mut self.conn(), &user, name, None, &Default::default())
            .expect("a key")
    }

    /// The id of the account with this email, if there is one.
    pub fn user_id_opt(&self, email: &str) -> Option<i64> {
        gatehouse::db::users::find_by_email(&mut self.conn(), email)
            .expect("query")
            .map(|u| u.id.get())
    }

    pub fn audit_count(&self, action: &str, status: &str) -> i64 {
        use gatehouse::db::schema::audit_events::dsl as a;
        a::audit_events
            .filter(a::action.eq(action))
            .filter(a::status.eq(status))
            .count()
            .get_result(&mut self.conn())
            .expect("count")
    }
}

/// Runs `request` while another transaction holds the row `held` locks (`SELECT … FOR UPDATE`);
/// once a statement waits for a lock, tries `probe` (`SELECT … FOR UPDATE NOWAIT`) from that
/// transaction, then lets go. Returns the request's outcome, and whether the probed row was
/// still free while the request waited (it had not taken that row before the held one).
pub async fn while_held<T>(
    app: &TestApp,
    held: &str,
    probe: &str,
    request: impl std::future::Future<Output = T>,
) -> (T, diesel::QueryResult<usize>) {
    let mut holder = app.owner_conn();
    let run = |c: &mut diesel::PgConnection, sql: &str| diesel::sql_query(sql).execute(c);
    run(&mut holder, "BEGIN").expect("begin");
    run(&mut holder, held).expect("hold");
    let check = async {
        eventually("a statement waits for a lock", || async {
            let waiting: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'",
            )
            .get_result(&mut app.owner_conn())
            .expect("pg_stat_activity");
            (waiting > 0).then_some(())
        })
        .await;
        let free = run(&mut holder, probe);
        run(&mut holder, "COMMIT").expect("commit");
        free
    };
    tokio::join!(request, check)
}

/// The id of the organization with this slug.
pub fn org_id(app: &TestApp, slug: &str) -> i64 {
    diesel::sql_query("SELECT id FROM organizations WHERE slug = $1")
        .bind::<diesel::sql_types::Text, _>(slug)
        .get_result::<IdRow>(&mut app.conn())
        .expect("organization")
        .id
}

/// The id of one of the organization's environments.
pub fn env_id(app: &TestApp, slug: &str, kind: &str) -> i64 {
    diesel::sql_query(
        "SELECT e.id FROM environments e JOIN organizations o ON o.id = e.organization_id
         WHERE o.slug = $1 AND e.kind = $2",
    )
    .bind::<diesel::sql_types::Text, _>(slug)
    .bind::<diesel::sql_types::Text, _>(kind)
    .get_result::<IdRow>(&mut app.conn())
    .expect("environment")
    .id
}

#[derive(diesel::QueryableByName)]
struct IdRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// A signed-up member of the organization with this role, signed in on their own client.
pub async fn member(
    app: &TestApp,
    slug: &str,
    name: &str,
    email: &str,
    role: &str,
) -> reqwest::Client {
    let c = client(&app.address);
    app.account(&c, name, email).await;
    add_member(app, slug, email, role, &[]);
    c
}

/// Makes the user a member of `count` seeded organizations, straight in the database.
pub fn seed_memberships(app: &TestApp, user_id: i64, count: i64) {
    diesel::sql_query(
        "WITH o AS (INSERT INTO organizations (name, slug)
                    SELECT 'Seed ' || g, 'seed-' || g FROM generate_series(1, $1) g RETURNING id),
              e AS (INSERT INTO environments (organization_id, kind)
                    SELECT o.id, k FROM o, unnest(ARRAY['development', 'staging', 'production']) k)
         INSERT INTO memberships (organization_id, user_id, role) SELECT id, $2, 'member' FROM o",
    )
    .bind::<BigInt, _>(count)
    .bind::<BigInt, _>(user_id)
    .execute(&mut app.conn())
    .expect("seed memberships");
}

pub fn memberships_of(app: &TestApp, user_id: i64) -> i64 {
    use gatehouse::db::schema::memberships::dsl as m;
    m::memberships
        .filter(m::user_id.eq(user_id))
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

/// Adds an existing user to an organization with a role and environment roles.
pub fn add_member(app: &TestApp, slug: &str, email: &str, role: &str, env_roles: &[(&str, &str)]) {
    let mut conn = app.conn();
    let user_id = app.user_id(email);
    diesel::sql_query("INSERT INTO memberships (organization_id, user_id, role) SELECT id, $1, $2 FROM organizations WHERE slug = $3")
        .bind::<BigInt, _>(user_id)
        .bind::<diesel::sql_types::Text, _>(role)
        .bind::<diesel::sql_types::Text, _>(slug)
        .execute(&mut conn)
        .unwrap();
    for (kind, env_role) in env_roles {
        add_member_env_role(app, slug, email, kind, env_role);
    }
}

async fn into_response(r: reqwest::Response) -> Response {
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = r.text().await.unwrap_or_default();
    Response {
        status,
        location,
        body,
    }
}

/// Gives an existing member a role in one environment, straight in the database.
pub fn add_member_env_role(app: &TestApp, slug: &str, email: &str, kind: &str, role: &str) {
    let user_id = app.user_id(email);
    diesel::sql_query(
        "INSERT INTO environment_roles (environment_id, organization_id, user_id, role)
         SELECT e.id, e.organization_id, $1, $2 FROM environments e JOIN organizations o ON o.id = e.organization_id
         WHERE o.slug = $3 AND e.kind = $4",
    )
    .bind::<BigInt, _>(user_id)
    .bind::<diesel::sql_types::Text, _>(role)
    .bind::<diesel::sql_types::Text, _>(slug)
    .bind::<diesel::sql_types::Text, _>(kind)
    .execute(&mut app.conn())
    .unwrap();
}
