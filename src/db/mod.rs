//! Database access: the connection pool, the embedded migrations, the two ways handlers run
//! database work on the blocking pool (`run`, and `finish` for writes that follow work already
//! done), and one module per aggregate.

pub mod api_keys;
pub mod assets;
pub mod audit;
pub mod email_limits;
pub mod invitations;
pub mod kept;
pub mod lifecycle;
pub mod members;
pub mod orgs;
pub mod outbox;
pub mod passkeys;
pub mod roles;
pub mod schema;
pub mod sessions;
pub mod throttle;
pub mod tokens;
pub mod two_factor;
pub mod types;
pub mod users;

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_web::web;
use diesel::PgConnection;
use diesel::connection::{Connection, InstrumentationEvent};
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::AppError;

pub type PgPool = Pool<ConnectionManager<PgConnection>>;
/// A connection and a query's result, for the loaders pages hand to `ops` (so that handlers
/// name no diesel of their own).
pub type PgConn = PgConnection;
pub type QueryResult<T> = diesel::QueryResult<T>;
pub type Conn = PooledConnection<ConnectionManager<PgConnection>>;

/// A statement whose SQL text never changes, kept prepared on each connection (diesel's
/// statement cache), although diesel would not cache it by itself: raw SQL (`sql_query`) and
/// query-builder statements with an SQL fragment are parsed and planned on every call. Use it
/// only for text that is the same on every call (a query built with `format!` from values
/// would fill the cache); PostgreSQL then plans it for the first five executions and afterwards
/// keeps a generic plan when that costs no more. The access check, the member page, the
/// switcher and the API key lookup are hot paths that pay for that planning on every request
/// otherwise (docs/performance.md).
///
/// `Prepared::new` finds the statement among the prepared ones by its text, which diesel writes
/// out and hashes on every call. `Prepared::keyed` finds it by a key of its call site's own
/// (`Key<T>`, with a type `T` declared for it): for the session's statement (2.5 KB of text)
/// that spares a tenth of a page's instructions in the server. A key must name one text: a call
/// site with two texts has a key for each. Debug builds (the tests) check it on every call.
///
/// Overriding `is_safe_to_cache_prepared` needs diesel's
/// `i-implement-a-third-party-backend-and-opt-into-breaking-changes` feature; the version is
/// pinned by `Cargo.lock`.
pub struct Prepared<Q, K = ByText>(Q, std::marker::PhantomData<K>);

/// How a `Prepared` statement is found among the prepared ones.
pub trait StatementKey: 'static {
    /// Whether by the type itself (else by the statement's text).
    const STATIC: bool;
}

/// By the statement's SQL text and bind types.
pub struct ByText;

impl StatementKey for ByText {
    const STATIC: bool = false;
}

/// By the type `T`, declared for one statement's text.
pub struct Key<T>(std::marker::PhantomData<T>);

impl<T: 'static> StatementKey for Key<T> {
    const STATIC: bool = true;
}

impl<Q> Prepared<Q> {
    pub fn new(query: Q) -> Prepared<Q> {
        Prepared(query, std::marker::PhantomData)
    }
}

impl<Q: diesel::query_builder::QueryFragment<diesel::pg::Pg>, T: 'static> Prepared<Q, Key<T>> {
    pub fn keyed(query: Q) -> Prepared<Q, Key<T>> {
        #[cfg(debug_assertions)]
        one_text_per_key::<T>(&query);
        Prepared(query, std::marker::PhantomData)
    }
}

/// Panics when the key `K` was used before with another SQL text than `query`'s.
#[cfg(debug_assertions)]
fn one_text_per_key<K: 'static>(query: &impl diesel::query_builder::QueryFragment<diesel::pg::Pg>) {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static TEXTS: OnceLock<Mutex<HashMap<std::any::TypeId, String>>> = OnceLock::new();
    let shown = diesel::debug_query::<diesel::pg::Pg, _>(query).to_string();
    let text = shown
        .rsplit_once(" -- binds: ")
        .map_or(shown.as_str(), |(sql, _)| sql);
    let mut texts = TEXTS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let known = texts
        .entry(std::any::TypeId::of::<K>())
        .or_insert_with(|| text.to_string());
    assert_eq!(
        known,
        text,
        "the key {} names two statements",
        std::any::type_name::<K>()
    );
}

impl<Q, K> diesel::query_builder::QueryFragment<diesel::pg::Pg> for Prepared<Q, K>
where
    Q: diesel::query_builder::QueryFragment<diesel::pg::Pg>,
{
    fn walk_ast<'b>(
        &'b self,
        pass: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> diesel::QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &diesel::pg::Pg) -> diesel::QueryResult<bool> {
        Ok(true)
    }
}

impl<Q, K: StatementKey> diesel::query_builder::QueryId for Prepared<Q, K> {
    // Without a static id diesel keys the cached statement by its SQL text and bind types.
    type QueryId = K;
    const HAS_STATIC_QUERY_ID: bool = K::STATIC;
}

impl<Q: diesel::query_builder::Query, K> diesel::query_builder::Query for Prepared<Q, K> {
    type SqlType = Q::SqlType;
}

impl<Q, K, C> diesel::RunQueryDsl<C> for Prepared<Q, K> {}

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Counts the SQL statements (queries and transaction control) run through a pool, and the
/// connections taken from it (each a trip to the blocking pool), so tests and benchmarks can
/// hold pages to a fixed number of both. Also sets up each new connection.
#[derive(Debug, Clone, Default)]
pub struct StatementCounter {
    statements: Arc<AtomicU64>,
    checkouts: Arc<AtomicU64>,
}

impl StatementCounter {
    pub fn get(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// How many times a connection was taken from the pool.
    pub fn checkouts(&self) -> u64 {
        self.checkouts.load(Ordering::Relaxed)
    }
}

impl diesel::r2d2::HandleEvent for StatementCounter {
    fn handle_checkout(&self, _event: diesel::r2d2::event::CheckoutEvent) {
        self.checkouts.fetch_add(1, Ordering::Relaxed);
    }
}

impl CustomizeConnection<PgConnection, diesel::r2d2::Error> for StatementCounter {
    fn on_acquire(&self, conn: &mut PgConnection) -> Result<(), diesel::r2d2::Error> {
        // Plans: PostgreSQL's default (`plan_cache_mode = auto`). Diesel prepares and caches the
        // statements of its query builder, and `Prepared` the hot raw ones; after five
        // executions PostgreSQL keeps a generic plan when it costs no more than the custom ones,
        // which saves the planning (measured: 1.5 to 2 ms of a page's 2 ms of database time went
        // to planning when every execution was re-planned). Prepared statements are written so
        // that their generic plan is right whatever the values (the access check starts from
        // the organization, a person's organizations from their index; a member search holds
        // both of its plans and picks one as it runs). docs/performance.md has the measurements.
        let counter = self.statements.clone();
        conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if matches!(
                event,
                InstrumentationEvent::StartQuery { .. }
                    | InstrumentationEvent::BeginTransaction { .. }
                    | InstrumentationEvent::CommitTransaction { .. }
                    | InstrumentationEvent::RollbackTransaction { .. }
            ) {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        });
        Ok(())
    }
}

pub fn pool(url: &str, size: u32, counter: StatementCounter) -> anyhow::Result<PgPool> {
    let manager = ConnectionManager::<PgConnection>::new(url);
    Ok(Pool::builder()
        .max_size(size)
        // For the callers of `get` (start-up, the outbox); requests wait through `run`.
        .connection_timeout(WAIT)
        // No `SELECT 1` before every checkout: it would double the statements of a page. A
        // connection that broke is dropped by r2d2 when it is returned.
        .test_on_check_out(false)
        .event_handler(Box::new(counter.clone()))
        .connection_customizer(Box::new(counter))
        .build(manager)?)
}

/// Applies every pending embedded migration.
pub fn migrate(conn: &mut PgConnection) -> anyhow::Result<()> {
    conn.run_pending_migrations(MIGRATIONS)
        .map_err(|e| anyhow::anyhow!("Failed to apply migrations: {e}"))?;
    Ok(())
}

/// The role a connection acts as.
pub fn current_role(conn: &mut PgConnection) -> diesel::QueryResult<String> {
    use diesel::RunQueryDsl;
    diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
        "current_user::text",
    ))
    .get_result(conn)
}

/// Gives the serving role what serving needs and no more, run as the schema owner after every
/// migration (DESIGN §15): reading and writing the tables, reading the migration list, and on
/// the audit log only INSERT and SELECT, so not even the application can rewrite history or
/// switch off the audit table's trigger (only its owner could).
pub fn grant_serving_role(owner: &mut PgConnection, role: &str) -> diesel::QueryResult<()> {
    use diesel::RunQueryDsl;
    let role = format!("\"{}\"", role.replace('"', "\"\""));
    for statement in [
        format!("GRANT USAGE ON SCHEMA public TO {role}"),
        format!("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"),
        format!("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}"),
        format!("REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON audit_events FROM {role}"),
        format!(
            "REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON __diesel_schema_migrations FROM {role}"
        ),
    ] {
        diesel::sql_query(statement).execute(owner)?;
    }
    // Before PostgreSQL 15 everyone may create objects in `public`, where a later migration
    // could pick them up; only the schema's owner can take that away, so this may not apply.
    let _ = diesel::sql_query("REVOKE CREATE ON SCHEMA public FROM PUBLIC").execute(owner);
    Ok(())
}

/// Why the serving connection's role is not restricted as DESIGN §15 wants, if it is not: a
/// superuser, a role that bypasses row security, owns tables, or is a member of the tables'
/// owner could still rewrite the audit log whatever was granted.
pub fn serving_role_problem(serving: &mut PgConnection) -> diesel::QueryResult<Option<String>> {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Check {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        privileged: bool,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        owns_tables: bool,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        member_of_owner: bool,
    }
    let check: Check = diesel::sql_query(
        "SELECT r.rolsuper OR r.rolbypassrls AS privileged,
                EXISTS (SELECT 1 FROM pg_class c WHERE c.relowner = r.oid
                        AND c.relnamespace = 'public'::regnamespace) AS owns_tables,
                pg_has_role(r.oid, (SELECT relowner FROM pg_class WHERE oid = 'audit_events'::regclass),
                            'MEMBER') AS member_of_owner
         FROM pg_roles r WHERE r.rolname = current_user",
    )
    .get_result(serving)?;
    Ok(if check.privileged {
        Some("it is a superuser or bypasses row security".into())
    } else if check.owns_tables {
        Some("it owns tables in the schema (it ran migrations before); make the schema owner own them".into())
    } else if check.member_of_owner {
        Some("it is a member of the role that owns the tables".into())
    } else {
        None
    })
}

/// A `LIKE` pattern matching values that contain `q`, taken literally: `%`, `_` and backslash
/// are escaped (queries say `ESCAPE` backslash). Queries fold its case in SQL, with the values
/// they match it against: `fold_case(name) LIKE fold_case($n)`, one folding for both sides.
pub fn contains_pattern(q: &str) -> String {
    let escaped = q
        .trim()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// One round trip to the database (the readiness probe).
pub fn ping(conn: &mut PgConnection) -> diesel::QueryResult<()> {
    diesel::RunQueryDsl::execute(diesel::sql_query("SELECT 1"), conn).map(|_| ())
}

/// How long one call of [`run`] waits for the database, for a blocking thread and a connection
/// together; past it, it answers 503 ("unavailable").
pub const WAIT: Duration = Duration::from_secs(3);

/// Runs database work on the blocking pool, never on an async worker thread.
///
/// Each worker has a few blocking threads (`startup::blocking_threads_per_worker`), so work can
/// wait in the worker's queue before a thread takes it. The wait for a thread and for a
/// connection share one deadline, `WAIT` from the call. Work still queued at the deadline, or
/// whose caller has gone (the client hung up), is abandoned: it answers 503 and never touches
/// the database when a thread reaches it. Work already started is always waited for, so a
/// write that went through is never reported as failed by this call.
pub async fn run<T, E, F>(pool: &PgPool, f: F) -> Result<T, AppError>
where
    F: FnOnce(&mut PgConnection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: Into<AppError> + Send + 'static,
{
    on_blocking_pool(pool, f, true).await
}

/// Runs a write that follows work already done, such as saving the session after a change
/// went through, releasing a sign-in throttle's claim after a right password, or recording a
/// refusal or a failed attempt in the audit log: never abandoned while it waits for a
/// blocking thread (a client leaving cannot keep it from being written), then `WAIT` at most
/// for a connection.
pub async fn finish<T, E, F>(pool: &PgPool, f: F) -> Result<T, AppError>
where
    F: FnOnce(&mut PgConnection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: Into<AppError> + Send + 'static,
{
    on_blocking_pool(pool, f, false).await
}

const QUEUED: u8 = 0;
const STARTED: u8 = 1;
const ABANDONED: u8 = 2;

/// The state of work handed to the blocking pool; exactly one of the thread (starting it) and
/// the caller (abandoning it) moves it out of `QUEUED`.
struct Handed(Arc<AtomicU8>);

impl Handed {
    fn to(&self, state: u8) -> bool {
        self.0
            .compare_exchange(QUEUED, state, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

/// The caller's side: dropping it (the request went away) abandons work still queued.
struct Caller(Handed);

impl Drop for Caller {
    fn drop(&mut self) {
        self.0.to(ABANDONED);
    }
}

/// Why a call answered "unavailable": no blocking thread took it before the deadline (the
/// instance is saturated), or no connection came (the database is away or every connection
/// is busy).
#[derive(Debug, Clone, Copy)]
enum Wait {
    Thread,
    Connection,
}

/// Counts every call that gave up, by cause, and warns at most once a second: under overload
/// every request would otherwise write a line.
fn unavailable(wait: Wait, e: &dyn std::fmt::Display) -> AppError {
    let reason = match wait {
        Wait::Thread => "thread",
        Wait::Connection => "connection",
    };
    metrics::counter!(crate::metrics::POOL_TIMEOUTS, "waiting_for" => reason).increment(1);
    static STARTED: std::sync::LazyLock<Instant> = std::sync::LazyLock::new(Instant::now);
    static WARNED: OncePerSecond = OncePerSecond::new();
    if WARNED.allow(STARTED.elapsed()) {
        tracing::warn!(
            error = %e,
            waiting_for = reason,
            "database work gave up waiting (more this second are only counted in {})",
            crate::metrics::POOL_TIMEOUTS
        );
    }
    AppError::Unavailable
}

/// Lets one event through per second, given the time since a fixed start (a monotonic
/// clock: a wall clock stepped back would silence it).
struct OncePerSecond(AtomicU64);

impl OncePerSecond {
    const fn new() -> Self {
        OncePerSecond(AtomicU64::new(0))
    }

    fn allow(&self, since_start: Duration) -> bool {
        // Seconds counted from 1, so that the first second lets one through.
        let second = since_start.as_secs() + 1;
        let last = self.0.load(Ordering::Relaxed);
        second > last
            && self
                .0
                .compare_exchange(last, second, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

async fn on_blocking_pool<T, E, F>(pool: &PgPool, f: F, abandonable: bool) -> Result<T, AppError>
where
    F: FnOnce(&mut PgConnection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: Into<AppError> + Send + 'static,
{
    let pool = pool.clone();
    let deadline = Instant::now() + WAIT;
    let state = Arc::new(AtomicU8::new(QUEUED));
    let caller = abandonable.then(|| Caller(Handed(Arc::clone(&state))));
    let handed = Handed(state);
    let task = web::block(move || {
        let deadline = if abandonable {
            if !handed.to(STARTED) {
                // Abandoned: the caller has answered already.
                return Err(AppError::Unavailable);
            }
            deadline
        } else {
            Instant::now() + WAIT
        };
        let mut conn = pool
            .get_timeout(deadline.saturating_duration_since(Instant::now()))
            .map_err(|e| unavailable(Wait::Connection, &e))?;
        f(&mut conn).map_err(Into::into)
    });
    let joined = match caller {
        None => task.await,
        Some(caller) => {
            let mut task = std::pin::pin!(task);
            match tokio::time::timeout_at(deadline.into(), &mut task).await {
                Ok(joined) => joined,
                Err(_) if caller.0.to(ABANDONED) => {
                    return Err(unavailable(
                        Wait::Thread,
                        &"no blocking thread before the deadline",
                    ));
                }
                Err(_) => task.await,
            }
        }
    };
    joined.map_err(|e| AppError::Internal(anyhow::anyhow!("blocking task failed: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::OncePerSecond;
    use std::time::Duration;

    #[test]
    fn a_warning_goes_out_once_a_second_at_most() {
        let once = OncePerSecond::new();
        let at = Duration::from_millis;
        assert!(once.allow(at(0)));
        assert!(!once.allow(at(10)));
        assert!(!once.allow(at(999)));
        assert!(once.allow(at(1_000)));
        assert!(!once.allow(at(1_500)));
        assert!(once.allow(at(3_200)));
        assert!(!once.allow(at(3_900)));
    }
}
