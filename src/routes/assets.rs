//! Static assets, compiled into the binary so it runs from any directory.

use actix_web::HttpResponse;
use actix_web::http::header;

const APP_CSS: &str = include_str!("../../static/css/app.css");

pub async fn css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(APP_CSS)
}

const ICON_SVG: &str = include_str!("../../static/icons/gatehouse.svg");
const FAVICON_ICO: &[u8] = include_bytes!("../../static/icons/favicon.ico");
const MANIFEST: &str = include_str!("../../static/manifest.webmanifest");

/// The icon browsers show in tabs and bookmarks (linked from every page).
pub async fn icon() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(ICON_SVG)
}

/// `/favicon.ico`, for clients that ask for it without reading the page.
pub async fn favicon() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/x-icon")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(FAVICON_ICO)
}

/// The web app manifest: name, start page, theme colour and icon.
pub async fn manifest() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/manifest+json")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(MANIFEST)
}

const PASSKEYS_JS: &str = include_str!("../../static/js/passkeys.js");

/// The one script: the browser side of passkeys.
pub async fn passkeys_js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(PASSKEYS_JS)
}
