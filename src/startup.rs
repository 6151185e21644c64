//! Builds the running application: the database (embedded or given), migrations, the mailer and
//! outbox worker, sessions, security headers and the HTTP server.

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;

use actix_session::SessionMiddleware;
use actix_session::config::BrowserSession;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::Server;
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

use crate::auth::csrf::check_origin;
use crate::config::Settings;
use crate::db::{self, PgPool, sessions::PgSessionStore};
use crate::email::Mailer;
use crate::email::worker::{self, OutboxSignal};
use crate::error::AppError;
use crate::local_pg::Cluster;
use crate::routes;

/// Where the database lives: a URL given in the settings, or the embedded cluster.
pub struct Database {
    /// The serving role's URL.
    pub url: SecretString,
    /// The schema owner's URL, for migrations, when it is another role.
    pub migration_url: Option<SecretString>,
    pub cluster: Option<Cluster>,
}

impl Database {
    /// Uses DATABASE_URL, or starts (or attaches to) the embedded cluster under the data
    /// directory.
    pub fn open(settings: &Settings) -> anyhow::Result<Database> {
        if let Some(url) = &settings.database_url {
            return Ok(Database {
                url: url.clone(),
                migration_url: settings.migration_database_url.clone(),
                cluster: None,
            });
        }
        if !settings.is_local() {
            anyhow::bail!("production mode needs DATABASE_URL");
        }
        let cluster = Cluster::start(&settings.data_dir.join("postgres"), false)?;
        cluster.ensure_database("gatehouse")?;
        Ok(Database {
            url: SecretString::from(cluster.app_url("gatehouse")),
            migration_url: Some(SecretString::from(cluster.url("gatehouse"))),
            cluster: Some(cluster),
        })
    }

    /// Stops the embedded cluster when this process started it, or when `owner` (the server
    /// owns the cluster, and so also stops one that a killed run left behind). One-off commands
    /// leave a cluster they found running to whoever runs it.
    pub fn close(self, owner: bool) -> anyhow::Result<()> {
        match self.cluster {
            Some(cluster) if owner || cluster.started_here() => cluster.stop(),
            _ => Ok(()),
        }
    }
}

/// The session signing key: SESSION_KEY, or in local mode one generated once and kept in the
/// data directory.
pub fn session_key(settings: &Settings) -> anyhow::Result<Key> {
    if let Some(key) = &settings.session_key {
        let bytes = key.expose_secret().as_bytes();
        anyhow::ensure!(bytes.len() >= 64, "SESSION_KEY must be at least 64 bytes");
        return Ok(Key::derive_from(bytes));
    }
    anyhow::ensure!(settings.is_local(), "production mode needs SESSION_KEY");
    let path = settings.data_dir.join("session_key");
    let bytes = match std::fs::read(&path) {
        Ok(bytes) if bytes.len() >= 64 => bytes,
        _ => {
            let mut bytes = vec![0u8; 64];
            rand::rng().fill_bytes(&mut bytes);
            std::fs::create_dir_all(&settings.data_dir)?;
            write_private(&path, &bytes)?;
            bytes
        }
    };
    Ok(Key::derive_from(&bytes))
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    Ok(())
}

/// Opens the pool and applies the embedded migrations: through `migration_url` (the schema
/// owner) when given, which then grants the serving role its rights; otherwise through `url`.
pub fn connect_and_migrate(
    url: &SecretString,
    migration_url: Option<&SecretString>,
    size: u32,
    counter: db::StatementCounter,
) -> anyhow::Result<PgPool> {
    use diesel::Connection;
    let pool = db::pool(url.expose_secret(), size, counter)?;
    let mut conn = pool.get().context("Failed to connect to the database")?;
    let Some(owner_url) = migration_url else {
        db::migrate(&mut conn)?;
        return Ok(pool);
    };
    let serving_role = db::current_role(&mut conn)?;
    let mut owner = diesel::PgConnection::establish(owner_url.expose_secret())
        .context("Failed to connect with MIGRATION_DATABASE_URL")?;
    db::migrate(&mut owner)?;
    if db::current_role(&mut owner)? != serving_role {
        db::grant_serving_role(&mut owner, &serving_role)
            .context("Failed to grant the serving role its rights")?;
        if let Some(problem) = db::serving_role_problem(&mut conn)? {
            anyhow::bail!(
                "DATABASE_URL's role {serving_role} is not restricted: {problem}. With \
                 MIGRATION_DATABASE_URL set, DATABASE_URL must be a role of its own that owns \
                 nothing (DESIGN §15)."
            );
        }
    }
    Ok(pool)
}

/// Starts the HTTP server on `listener` and the background outbox worker.
pub fn run(
    settings: Settings,
    pool: PgPool,
    key: Key,
    listener: TcpListener,
) -> anyhow::Result<Server> {
    serve(settings, pool, key, listener).map(|(server, _)| server)
}

/// `run`, also giving the outbox worker's signal, so that a stopping server can wait for the
/// email being sent (`OutboxSignal::finish_sending`).
pub fn serve(
    settings: Settings,
    pool: PgPool,
    key: Key,
    listener: TcpListener,
) -> anyhow::Result<(Server, OutboxSignal)> {
    install_crypto_provider();
    let signal = start_background_work(&settings, &pool)?;
    let outbox = signal.clone();

    let secure = settings.secure_cookies();
    let cookie_days = settings.session_max_days.max(1);
    // actix's own default, worked out here so the blocking threads are shared out the same way.
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let workers = settings.workers.unwrap_or(cores);
    let blocking = blocking_threads_per_worker(
        settings.database_concurrency.unwrap_or(cores),
        settings.database_pool_size,
        workers,
    );
    let settings = web::Data::new(settings);
    let pool_data = web::Data::new(pool.clone());
    let signal = web::Data::new(signal);
    let reveal_key = web::Data::new(routes::reveal::RevealKey(key.clone()));
    let session_cookie = web::Data::new(SessionCookie(session_cookie_name(secure)));
    let limiter = web::Data::new(crate::api::limit::RateLimiter::new(
        settings.api_rate_per_minute,
    ));
    let passkeys = web::Data::new(routes::accounts::passkeys::Passkeys(
        crate::ops::passkeys::relying_party(&settings),
    ));
    let data_key = web::Data::new(match &settings.data_key {
        Some(data_key) => crate::crypto::DataKey::derive(data_key.expose_secret().as_bytes()),
        None => crate::crypto::DataKey::derive(key.master()),
    });
    let member_lists = web::Data::new(crate::db::members::ListCache::default());
    let org_lists = web::Data::new(crate::db::orgs::OrgListCache::default());
    let member_rows = web::Data::new(routes::access::users::RowsCache::default());
    let switchers = web::Data::new(crate::db::sessions::Switchers::default());
    let kept_access = web::Data::new(crate::db::orgs::KeptAccess::default());
    crate::metrics::install();
    if let Some(bind) = &settings.metrics_bind {
        actix_web::rt::spawn(crate::metrics::serve(bind, pool.clone())?);
    }
    let mut server = HttpServer::new(move || {
        App::new()
            .wrap(from_fn(head_as_get))
            .wrap(from_fn(routes::errors::framed))
            .wrap(from_fn(crate::input::refuse_unstorable_query))
            .wrap(from_fn(check_origin))
            .wrap(sessions(&pool, &key, secure, cookie_days))
            .wrap(from_fn(drop_unchanged_session_cookie))
            .wrap(from_fn(session_store_unavailable))
            .wrap(security_headers(secure))
            .wrap(from_fn(crate::metrics::record_requests))
            .wrap(tracing_actix_web::TracingLogger::<
                crate::telemetry::RouteSpans,
            >::new())
            .app_data(settings.clone())
            .app_data(pool_data.clone())
            .app_data(signal.clone())
            .app_data(reveal_key.clone())
            .app_data(session_cookie.clone())
            .app_data(data_key.clone())
            .app_data(passkeys.clone())
            .app_data(limiter.clone())
            .app_data(member_lists.clone())
            .app_data(org_lists.clone())
            .app_data(member_rows.clone())
            .app_data(switchers.clone())
            .app_data(kept_access.clone())
            .configure(extractors)
            .configure(routes::config)
            .default_service(web::to(not_found))
    })
    .listen(listener)?;
    server = server
        .workers(workers)
        .worker_max_blocking_threads(blocking);
    Ok((server.run(), outbox))
}

/// How the extractors refuse what they cannot read: a bad query string is a 400 (JSON under
/// /api), a path segment that is not a valid id names nothing (the 404 of its side); bodies are
/// capped at 64 KiB.
fn extractors(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::QueryConfig::default().error_handler(|e, req| {
        if is_api(req) {
            crate::api::ApiError::invalid_parameter(e.to_string()).into()
        } else {
            AppError::BadRequest(e.to_string()).into()
        }
    }))
    .app_data(web::PathConfig::default().error_handler(|_, req| {
        if is_api(req) {
            crate::api::ApiError::not_found().into()
        } else {
            AppError::NotFound.into()
        }
    }))
    .app_data(web::PayloadConfig::new(64 * 1024))
    .app_data(
        web::JsonConfig::default()
            .limit(64 * 1024)
            .error_handler(|e, _| crate::api::writes::json_error(e).into()),
    );
}

/// Each worker's blocking threads: its share of the statements the instance runs at once
/// (`DATABASE_CONCURRENCY`, at most the pool's connections), at least one. Work beyond that
/// waits in the worker's queue without a thread of its own (at most `db::WAIT` through
/// `db::run`), instead of as a parked thread woken in no order whenever a connection comes back
/// to the pool. With PostgreSQL on the same two cores, two statements at once served the member
/// page 17 % faster than ten, at half the p99 (docs/performance.md). (argon2 has threads of its
/// own, `auth::password`.)
fn blocking_threads_per_worker(concurrency: usize, pool_size: u32, workers: usize) -> usize {
    concurrency
        .min(pool_size as usize)
        .div_ceil(workers.max(1))
        .max(1)
}

/// The outbox worker and its listener, and the periodic clean-up; the worker's signal.
fn start_background_work(settings: &Settings, pool: &PgPool) -> anyhow::Result<OutboxSignal> {
    let mailer = Arc::new(Mailer::from_settings(settings)?);
    let signal = OutboxSignal::default();
    let poll = std::time::Duration::from_secs(settings.outbox_poll_seconds.max(1));
    actix_web::rt::spawn(worker::run(pool.clone(), mailer, signal.clone(), poll));
    worker::listen(pool.clone(), &signal).context("Failed to start the outbox listener")?;
    actix_web::rt::spawn(maintenance(pool.clone(), settings.clone(), signal.clone()));
    crate::auth::password::warm_up();
    Ok(signal)
}

/// Sessions: signed-in ones in PostgreSQL (read by the request, `db::sessions::read`), signed-out ones in the
/// encrypted cookie.
fn sessions(
    pool: &PgPool,
    key: &Key,
    secure: bool,
    cookie_days: i64,
) -> SessionMiddleware<PgSessionStore> {
    SessionMiddleware::builder(PgSessionStore::new(pool.clone()), key.clone())
        .cookie_name(session_cookie_name(secure).into())
        .cookie_secure(secure)
        // Encrypted, not only signed: a signed-out session's state rides in it.
        .cookie_content_security(actix_session::config::CookieContentSecurity::Private)
        .cookie_path("/".into())
        .cookie_domain(None)
        .cookie_http_only(true)
        .cookie_same_site(SameSite::Lax)
        .session_lifecycle(
            BrowserSession::default()
                .state_ttl(actix_web::cookie::time::Duration::days(cookie_days)),
        )
        .build()
}

/// Over https the cookie carries the `__Host-` prefix: browsers then only take it when Secure,
/// for this exact host and path `/`, so a sibling subdomain cannot plant or shadow it.
pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-gatehouse_session"
    } else {
        "gatehouse_session"
    }
}

/// The session cookie's name.
struct SessionCookie(&'static str);

/// Reading a stored session marks it changed for the session middleware, which then has the
/// store update it (`PgSessionStore::update` writes nothing when the state is unchanged) and
/// sends the cookie again with the same key. That copy is dropped: it would put a header on
/// every page, and a slow request finishing after the session was renewed elsewhere (a password
/// change) would put the old, ended key back in the browser. The store says when it kept the
/// key it was given (`db::sessions::KEY_KEPT`, for this request's task only).
async fn drop_unchanged_session_cookie(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<
    actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody + 'static>,
    actix_web::Error,
> {
    use actix_web::http::header::SET_COOKIE;
    let kept = std::rc::Rc::new(std::cell::Cell::new(false));
    let mut response = crate::db::sessions::KEY_KEPT
        .scope(kept.clone(), next.call(req))
        .await?;
    if !kept.get() || !response.headers().contains_key(SET_COOKIE) {
        return Ok(response);
    }
    let Some(cookie) = response
        .request()
        .app_data::<web::Data<SessionCookie>>()
        .cloned()
    else {
        return Ok(response);
    };
    let ours = |value: &actix_web::http::header::HeaderValue| {
        value
            .as_bytes()
            .strip_prefix(cookie.0.as_bytes())
            .is_some_and(|rest| rest.starts_with(b"="))
    };
    let headers = response.headers_mut();
    let set: Vec<_> = headers.get_all(SET_COOKIE).cloned().collect();
    headers.remove(SET_COOKIE);
    for value in set.into_iter().filter(|v| !ours(v)) {
        headers.append(SET_COOKIE, value);
    }
    Ok(response)
}

/// Two rustls providers end up compiled in through dependencies; TLS (SMTP over TLS) needs one
/// chosen for the process.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// HEAD is answered as GET without its body (RFC 9110 §9.3.2: every server supports both): the
/// route table lists GETs, and the request is routed, checked and answered as its GET, headers
/// and `Content-Length` included; HTTP's encoder leaves the body out of a HEAD's response.
/// Every layer outside this one (the Origin check, the logs, the metrics) still sees HEAD. The
/// GETs that act (`routes::GETS_THAT_ACT`) answer HEAD with 405, and a HEAD answered as GET
/// uses up nothing shown once (`routes::AnsweredAsGet`: the flash, a new key's cookie).
async fn head_as_get(
    mut req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<
    actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody + 'static>,
    actix_web::Error,
> {
    // The path as the router reads it (percent-encoding undone), not as sent.
    if req.method() == actix_web::http::Method::HEAD
        && routes::answers_head(req.match_info().as_str())
    {
        req.head_mut().method = actix_web::http::Method::GET;
        actix_web::HttpMessage::extensions_mut(&req).insert(routes::AnsweredAsGet);
    }
    next.call(req).await
}

/// The session layer writes changed sessions to PostgreSQL after the handler (requests read
/// them themselves, through `db::run`, whose failures are `AppError::Unavailable`); when it
/// fails, the database is away: a clear 503 (JSON under /api), not an empty 500. It
/// answers through the error path (the request cannot be kept for a response of its own while
/// routing runs), so the security headers are added here.
async fn session_store_unavailable(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<
    actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody + 'static>,
    actix_web::Error,
> {
    let api = is_api(req.request());
    let https = req
        .app_data::<web::Data<Settings>>()
        .is_some_and(|s| s.secure_cookies());
    next.call(req).await.map_err(|e| {
        tracing::warn!(error = %e, "session store unavailable");
        let mut response = if api {
            actix_web::ResponseError::error_response(&crate::api::ApiError::unavailable())
        } else {
            crate::error::unavailable_page()
        };
        for (name, value) in security_header_pairs(https) {
            response.headers_mut().insert(
                actix_web::http::header::HeaderName::from_static(name),
                actix_web::http::header::HeaderValue::from_static(value),
            );
        }
        actix_web::error::InternalError::from_response("database unavailable", response).into()
    })
}

/// Whether the request is the API's: its errors answer in JSON.
fn is_api(req: &actix_web::HttpRequest) -> bool {
    req.path().starts_with("/api/")
}

/// Requests no route takes: 405 with `Allow` when the path exists for other methods, else a
/// rendered 404 page; in JSON under /api.
async fn not_found(
    req: actix_web::HttpRequest,
) -> Result<actix_web::HttpResponse, actix_web::Error> {
    let allowed = routes::methods_for(req.match_info().as_str());
    if !allowed.is_empty() {
        let allow = allowed.join(", ");
        let mut response = if is_api(&req) {
            actix_web::ResponseError::error_response(&crate::api::ApiError::method_not_allowed(
                &allow,
            ))
        } else {
            actix_web::ResponseError::error_response(&AppError::MethodNotAllowed)
        };
        if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&allow) {
            response
                .headers_mut()
                .insert(actix_web::http::header::ALLOW, value);
        }
        return Ok(response);
    }
    Err(if is_api(&req) {
        crate::api::ApiError::not_found().into()
    } else {
        AppError::NotFound.into()
    })
}

/// The headers every response carries (DESIGN §16).
fn security_header_pairs(https: bool) -> Vec<(&'static str, &'static str)> {
    let mut headers = vec![
        (
            "content-security-policy",
            "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
        ),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
        // Pages show who is signed in, members and revealed secrets: no cache keeps them.
        // Static assets set their own Cache-Control, which this default does not replace.
        ("cache-control", "no-store"),
    ];
    if https {
        headers.push((
            "strict-transport-security",
            "max-age=31536000; includeSubDomains",
        ));
    }
    headers
}

fn security_headers(https: bool) -> DefaultHeaders {
    security_header_pairs(https)
        .into_iter()
        .fold(DefaultHeaders::new(), |headers, pair| headers.add(pair))
}

/// Clears expired sessions, old sign-in failures and old sent emails every few minutes.
async fn maintenance(pool: PgPool, settings: Settings, outbox: OutboxSignal) {
    let (lock_minutes, outbox_keep_days) =
        (settings.signin_lock_minutes, settings.outbox_keep_days);
    let settings = Arc::new(settings);
    loop {
        let result = db::run(&pool, move |c| -> Result<(), diesel::result::Error> {
            db::sessions::purge_expired(c)?;
            db::outbox::purge_sent(c, chrono::Duration::days(outbox_keep_days))?;
            db::email_limits::purge(c)?;
            db::passkeys::purge(c)?;
            db::throttle::purge(c, chrono::Duration::minutes(lock_minutes))
        })
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "maintenance");
        }
        let settings = settings.clone();
        match db::run(&pool, move |c| {
            crate::ops::accounts::remind_expiring_keys(c, &settings)
        })
        .await
        {
            Ok(0) => {}
            Ok(_) => outbox.wake(),
            Err(e) => tracing::warn!(error = %e, "API key expiry reminders"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(300)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::blocking_threads_per_worker;

    #[test]
    fn each_worker_gets_its_share_of_the_statements_at_once() {
        assert_eq!(blocking_threads_per_worker(2, 8, 2), 1);
        assert_eq!(blocking_threads_per_worker(8, 8, 2), 4);
        assert_eq!(
            blocking_threads_per_worker(16, 8, 2),
            4,
            "no more than the pool"
        );
        assert_eq!(blocking_threads_per_worker(3, 10, 2), 2);
        assert_eq!(blocking_threads_per_worker(1, 1, 4), 1);
        assert_eq!(blocking_threads_per_worker(0, 0, 0), 1);
    }
}
