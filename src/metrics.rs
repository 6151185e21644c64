//! Prometheus metrics (DESIGN §15), served on `METRICS_BIND` when set: requests by route
//! pattern, method and status with latency histograms, the database pool (connections in use
//! and idle, calls that gave up waiting for a blocking thread or a connection), the outbox
//! (depth, age of the oldest email, sent and failed), sign-in failures and throttle locks.
//! Recorded with the `metrics` facade; rendered by `metrics-exporter-prometheus`.

use std::sync::OnceLock;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{App, HttpResponse, HttpServer, web};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::db::{self, PgPool};

pub const REQUESTS: &str = "gatehouse_http_requests_total";
pub const REQUEST_SECONDS: &str = "gatehouse_http_request_duration_seconds";
pub const POOL_TIMEOUTS: &str = "gatehouse_db_pool_timeouts_total";
pub const EMAILS_SENT: &str = "gatehouse_emails_sent_total";
pub const EMAILS_FAILED: &str = "gatehouse_emails_failed_total";
pub const SIGN_IN_FAILURES: &str = "gatehouse_sign_in_failures_total";
pub const THROTTLE_LOCKS: &str = "gatehouse_throttle_locks_total";

/// The process's recorder, installed once (the `metrics` facade has one global recorder).
fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[
                0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0,
            ])
            .map(PrometheusBuilder::build_recorder)
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let handle = recorder.handle();
        // Only fails when another recorder was installed first; ours then records nothing.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Counts and times every request by its route pattern (never the raw path: it may hold a
/// token), method and status.
pub async fn record_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().to_string();
    let response = next.call(req).await?;
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".into());
    let status = response.status().as_u16().to_string();
    let labels = [("route", route), ("method", method), ("status", status)];
    metrics::counter!(REQUESTS, &labels).increment(1);
    metrics::histogram!(REQUEST_SECONDS, &labels[..2]).record(started.elapsed().as_secs_f64());
    Ok(response)
}

/// The Prometheus text, with the gauges read now: the pool and the outbox.
async fn render(pool: web::Data<PgPool>) -> HttpResponse {
    let state = pool.state();
    metrics::gauge!("gatehouse_db_pool_connections_in_use")
        .set(f64::from(state.connections - state.idle_connections));
    metrics::gauge!("gatehouse_db_pool_connections_idle").set(f64::from(state.idle_connections));
    if let Ok((depth, oldest)) = db::run(&pool, db::outbox::backlog).await {
        metrics::gauge!("gatehouse_outbox_depth").set(depth as f64);
        metrics::gauge!("gatehouse_outbox_oldest_seconds").set(oldest);
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(handle().render())
}

/// Installs the recorder; called at start whether or not metrics are served, so every metric
/// is recorded from the first request.
pub fn install() {
    handle();
}

/// Serves GET /metrics on `bind`, apart from the dashboard (keep it off the public network).
pub fn serve(bind: &str, pool: PgPool) -> anyhow::Result<actix_web::dev::Server> {
    let pool = web::Data::new(pool);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(pool.clone())
            .route("/metrics", web::get().to(render))
    })
    .workers(1)
    .bind(bind)
    .map_err(|e| anyhow::anyhow!("cannot serve metrics on {bind}: {e}"))?
    .run();
    Ok(server)
}
