//! Error pages in the normal page frame: a 403 or 404 keeps the signed-in top bar (organization
//! switcher, account, Sign out) instead of a bare page. The bare page `AppError` renders stays
//! the answer when the frame cannot be built (the database is away, say).

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpResponse};
use askama::Template;

use crate::error::ErrorText;
use crate::routes::layout::Layout;
use crate::routes::page::Page;

#[derive(Template)]
#[template(path = "error_framed.html")]
struct FramedError {
    layout: Layout,
    status: u16,
    message: String,
    action: Option<(String, String)>,
}

/// Renders the error pages of people who are signed in again, inside the page frame.
pub async fn framed(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static, BoxBody>>, actix_web::Error> {
    let response = next.call(req).await?;
    let text = response.response().extensions().get::<ErrorText>().cloned();
    // Cloned only now: routing needs the request to itself while it runs.
    let request = response.request().clone();
    // A 503 means the database is away: the frame (who is signed in) cannot be read either,
    // and trying would make the answer wait for a connection a second time.
    let unavailable = response.status() == actix_web::http::StatusCode::SERVICE_UNAVAILABLE;
    let Some(text) = text.filter(|_| !request.path().starts_with("/api/") && !unavailable) else {
        return Ok(response.map_into_left_body());
    };
    let Ok(cx) = Page::from_request(&request, &mut Payload::None).await else {
        return Ok(response.map_into_left_body());
    };
    if cx.auth.user.is_none() {
        return Ok(response.map_into_left_body());
    }
    let status = response.status();
    let Ok(layout) = cx.layout(text.title.clone()).await else {
        return Ok(response.map_into_left_body());
    };
    let page = FramedError {
        layout,
        status: status.as_u16(),
        message: text.message,
        action: text.action,
    };
    let Ok(body) = page.render() else {
        return Ok(response.map_into_left_body());
    };
    drop(cx);
    let (request, old) = response.into_parts();
    let mut framed = HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body);
    for (name, value) in old.headers() {
        if name != actix_web::http::header::CONTENT_TYPE
            && name != actix_web::http::header::CONTENT_LENGTH
        {
            framed.headers_mut().append(name.clone(), value.clone());
        }
    }
    Ok(ServiceResponse::new(request, framed).map_into_right_body())
}
