//! Request spans for the logs: method, route pattern and status, never the raw path or query,
//! which carry invitation, verification and reset tokens (DESIGN §6).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use tracing::Span;
use tracing_actix_web::RootSpanBuilder;

/// Names a request by its route pattern (`/invitations/{token}`), not its path.
pub struct RouteSpans;

/// The route pattern a path matches, or `(no route)`.
pub fn route_of(request: &ServiceRequest) -> String {
    request
        .request()
        .resource_map()
        .match_pattern(request.path())
        .unwrap_or_else(|| "(no route)".to_string())
}

impl RootSpanBuilder for RouteSpans {
    fn on_request_start(request: &ServiceRequest) -> Span {
        tracing::info_span!(
            "request",
            method = %request.method(),
            route = %route_of(request),
            status = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        let status = match outcome {
            Ok(response) => response.status(),
            Err(error) => error.as_response_error().status_code(),
        };
        span.record("status", status.as_u16());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use actix_web::dev::Service;
    use actix_web::{App, test};

    use super::route_of;

    #[actix_web::test]
    async fn a_request_is_named_by_its_route_never_its_token() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let app = test::init_service(
            App::new()
                .wrap_fn(move |req, srv| {
                    record.lock().unwrap().push(route_of(&req));
                    srv.call(req)
                })
                .configure(crate::routes::config),
        )
        .await;
        for path in [
            "/invitations/s3cr3t-t0ken",
            "/password/reset?token=s3cr3t-t0ken",
            "/nowhere/s3cr3t-t0ken",
        ] {
            let _ = test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
        }
        let seen = seen.lock().unwrap().clone();
        assert_eq!(
            seen,
            ["/invitations/{token}", "/password/reset", "(no route)"]
        );
    }
}
