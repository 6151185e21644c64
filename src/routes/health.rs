//! Liveness and readiness probes.

use actix_web::{HttpResponse, web};

use crate::db::{self, PgPool};

/// The process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// The database answers.
pub async fn readyz(pool: web::Data<PgPool>) -> HttpResponse {
    let ok = db::run(&pool, db::ping).await.is_ok();
    if ok {
        HttpResponse::Ok().content_type("text/plain").body("ready")
    } else {
        HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("database unreachable")
    }
}
