//! Authentication: password hashing, the typed session, CSRF and Origin checks, and the
//! extractor that tells who is asking.

pub mod csrf;
pub mod password;
pub mod session;
pub mod two_factor;

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};

use crate::audit::{Actor, RequestMeta};
use crate::db::users::User;
use crate::error::AppError;
use session::TypedSession;

/// Who is asking: the session, the signed-in user (loaded from the database on every request, so
/// a deleted account is signed out at once) and the request's IP and user agent.
pub struct Auth {
    pub session: TypedSession,
    pub user: Option<User>,
    /// The signed-in user's organization count and first organizations, for the frame's
    /// switcher (read with the session; empty when nobody is signed in).
    pub switcher: crate::db::orgs::Switcher,
    pub meta: RequestMeta,
    pub path: String,
}

impl Auth {
    /// The signed-in user, or a redirect to the sign-in page that comes back here.
    pub fn require_user(&self) -> Result<&User, AppError> {
        self.user
            .as_ref()
            .ok_or_else(|| AppError::SignInRequired(self.path.clone()))
    }

    /// Who acts and from which request, for the use cases of `ops`.
    pub fn ctx(&self) -> crate::ops::Ctx {
        crate::ops::Ctx {
            actor: self.actor(),
            meta: self.meta.clone(),
            path: self.path.clone(),
        }
    }

    pub fn actor(&self) -> Actor {
        actor_of(self.user.as_ref())
    }
}

/// The actor a signed-in user (or a visitor) is in the audit log.
pub fn actor_of(user: Option<&User>) -> Actor {
    match user {
        Some(u) => Actor::User {
            id: u.id,
            email: u.email.clone(),
        },
        None => Actor::Visitor,
    }
}

/// The client's address (DESIGN §15): the connecting address, unless that is a trusted proxy;
/// then the right-most address of X-Forwarded-For that is not a trusted proxy (addresses to its
/// left were written by whoever sent the request, and prove nothing). The header is read from
/// the right and no further than that address, so what a client writes on the left (garbage
/// included) never changes the answer; an entry that is not an address ends the walk at the
/// hop that wrote it. Throttles, sessions and the audit log all use it.
pub fn client_ip(req: &HttpRequest, trusted: &[ipnet::IpNet]) -> Option<std::net::IpAddr> {
    let peer = req.peer_addr()?.ip();
    let is_trusted = |ip: &std::net::IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let lines: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect();
    let mut client = peer;
    for entry in lines.iter().rev().flat_map(|line| line.rsplit(',')) {
        let Ok(ip) = entry.trim().parse::<std::net::IpAddr>() else {
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    Some(client)
}

pub fn request_meta(req: &HttpRequest) -> RequestMeta {
    let trusted = req
        .app_data::<web::Data<crate::config::Settings>>()
        .map(|s| s.trusted_proxies.as_slice())
        .unwrap_or_default();
    RequestMeta {
        ip: client_ip(req, trusted).map(|ip| ip.to_string()),
        user_agent: req
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    }
}

impl Auth {
    /// Who is asking, from a session already read and who it signs in (`session::signed_in`):
    /// the user's row came with the session, in the same statement (`db::sessions::read`), so it
    /// is fresh on every request. A session whose account is gone is signed out. A row of another
    /// user than the session's (read before the request signed someone else in) signs nobody in.
    pub fn with(
        session: TypedSession,
        signed_in: Option<crate::db::sessions::SignedIn>,
        meta: RequestMeta,
        path: String,
    ) -> Result<Auth, AppError> {
        let (user, switcher) = match (session.user_id()?, signed_in) {
            (Some(id), Some(signed_in)) if signed_in.user.id == id => {
                session.touch();
                (Some(signed_in.user), signed_in.switcher)
            }
            (Some(_), Some(_)) => (None, crate::db::orgs::Switcher::default()),
            (Some(_), None) => {
                session.sign_out();
                (None, crate::db::orgs::Switcher::default())
            }
            (None, _) => (None, crate::db::orgs::Switcher::default()),
        };
        Ok(Auth {
            session,
            user,
            switcher,
            meta,
            path,
        })
    }
}

/// The path and query asked for, named in sign-in redirects and audit events.
pub fn request_path(req: &HttpRequest) -> String {
    req.uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into())
}

impl FromRequest for Auth {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let session = TypedSession::from_request(req, payload);
        let meta = request_meta(req);
        let path = request_path(req);
        let req = req.clone();
        Box::pin(async move {
            let session = session.await?;
            Auth::with(session, session::signed_in(&req), meta, path)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::UserId;
    use actix_session::SessionExt;

    fn row(id: i64) -> crate::db::sessions::SignedIn {
        crate::db::sessions::SignedIn {
            user: User {
                id: UserId(id),
                name: "Ada".into(),
                email: "ada@example.com".into(),
                password_hash: String::new(),
                email_verified_at: None,
                is_operator: false,
                last_sign_in_at: None,
                created_at: chrono::Utc::now(),
                totp_enabled_at: None,
                pending_email: None,
                passkey_count: 0,
            },
            switcher: crate::db::orgs::Switcher::default(),
        }
    }

    /// A user's row read with the session counts only for the user the session signs in: one read
    /// before the request signed someone else in signs nobody in, and does not sign out the
    /// one signed in now.
    #[actix_web::test]
    async fn only_the_sessions_own_users_row_signs_it_in() {
        let req = actix_web::test::TestRequest::default().to_http_request();
        let session = req.get_session();
        session
            .insert(crate::db::sessions::USER_ID_KEY, 2_i64)
            .unwrap();
        let auth = |row| {
            let meta = RequestMeta {
                ip: None,
                user_agent: None,
            };
            Auth::with(TypedSession::read(session.clone()), row, meta, "/".into()).unwrap()
        };
        assert!(auth(Some(row(1))).user.is_none());
        assert_eq!(
            session
                .get::<i64>(crate::db::sessions::USER_ID_KEY)
                .unwrap(),
            Some(2)
        );
        assert_eq!(auth(Some(row(2))).user.map(|u| u.id), Some(UserId(2)));
        // The account is gone: the session is signed out.
        assert!(auth(None).user.is_none());
        assert_eq!(
            session
                .get::<i64>(crate::db::sessions::USER_ID_KEY)
                .unwrap(),
            None
        );
    }
}
