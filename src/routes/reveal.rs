//! A just-created key, shown once on the page its form redirects to (post/redirect/get). It
//! travels in a short-lived cookie encrypted with the session key and scoped to that page's
//! path, so it is never written to the database (a signed-in session's state is); the page
//! clears the cookie as it shows the key. It names the session it was made in: a browser whose
//! next person signs in before the page is shown (its first load failed) shows them nothing.

use actix_web::cookie::{Cookie, CookieJar, Key, SameSite, time::Duration};
use actix_web::{HttpRequest, HttpResponse};

use crate::routes::page::Page;
use crate::routes::see_other;

/// The key that encrypts the cookie (the session key), as app data.
pub struct RevealKey(pub Key);

const COOKIE: &str = "gatehouse_new_key";

fn key(req: &HttpRequest) -> Option<&Key> {
    req.app_data::<actix_web::web::Data<RevealKey>>()
        .map(|k| &k.get_ref().0)
}

/// The redirect to `place` after creating `secret`, carrying it there once.
pub fn redirect_showing(cx: &Page, place: &str, secret: &str) -> HttpResponse {
    let mut response = see_other(place);
    let Some(key) = key(&cx.request) else {
        return response;
    };
    let sid = cx.auth.session.sid().unwrap_or_default();
    let mut jar = CookieJar::new();
    jar.private_mut(key)
        .add(Cookie::new(COOKIE, format!("{place}\n{sid}\n{secret}")));
    if let Some(sealed) = jar.get(COOKIE) {
        let mut cookie = sealed.clone();
        cookie.set_path(place.to_string());
        cookie.set_http_only(true);
        cookie.set_secure(cx.settings.secure_cookies());
        cookie.set_same_site(SameSite::Strict);
        cookie.set_max_age(Duration::minutes(5));
        let _ = response.add_cookie(&cookie);
    }
    response
}

/// The key carried to `place` in this session, if this request brings one.
pub fn take(cx: &Page, place: &str) -> Option<String> {
    let cookie = cx.request.cookie(COOKIE)?;
    let mut jar = CookieJar::new();
    jar.add_original(cookie);
    let opened = jar.private(key(&cx.request)?).get(COOKIE)?;
    let (kept_for, rest) = opened.value().split_once('\n')?;
    let (made_in, secret) = rest.split_once('\n')?;
    let sid = cx.auth.session.sid()?;
    (kept_for == place && made_in == sid).then(|| secret.to_string())
}

/// Clears the cookie on the page that showed the key: a refresh shows the list without it. A
/// HEAD showed nothing, so it clears nothing.
pub fn cleared(cx: &Page, mut response: HttpResponse, place: &str) -> HttpResponse {
    if crate::routes::answered_as_get(&cx.request) {
        return response;
    }
    let mut removal = Cookie::new(COOKIE, "");
    removal.set_path(place.to_string());
    let _ = response.add_removal_cookie(&removal);
    response
}
