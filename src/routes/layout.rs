//! What every page's frame needs: who is signed in, the organization switcher, the CSRF token
//! for forms, and the flash message.

use crate::routes::page::Page;
use std::collections::HashMap;

use crate::auth::session::Flash;
use crate::db::orgs::MyOrganization;
use crate::error::AppError;

pub struct Layout {
    pub title: String,
    pub user_name: Option<String>,
    pub csrf: String,
    pub flash: Option<Flash>,
    pub switcher: Vec<MyOrganization>,
    pub switcher_more: bool,
    pub current_org: Option<String>,
    pub local_mailbox: bool,
    pub operator: bool,
    /// The signed-in user's address is verified (they may create organizations).
    pub verified: bool,
}

impl Layout {
    /// The frame of a page titled `title`. Nothing to read: the switcher and the user's organization
    /// count came with the session (`db::sessions`).
    pub async fn load(cx: &Page, title: impl Into<String>) -> Result<Layout, AppError> {
        Layout::new(cx, title)
    }

    pub fn new(cx: &Page, title: impl Into<String>) -> Result<Layout, AppError> {
        let Page { settings, auth, .. } = cx;
        Ok(Layout {
            title: title.into(),
            user_name: auth.user.as_ref().map(|u| u.name.clone()),
            csrf: auth.session.csrf_token()?,
            flash: if super::answered_as_get(&cx.request) {
                None
            } else {
                auth.session.take_flash()
            },
            switcher_more: auth.switcher.total > auth.switcher.first.len() as i64,
            switcher: auth.switcher.first.clone(),
            current_org: auth.session.current_org(),
            local_mailbox: settings.is_local() && settings.smtp_url.is_none(),
            // As `routes::operator::require_operator` lets in: verified operators only.
            operator: auth
                .user
                .as_ref()
                .is_some_and(|u| u.is_operator && u.is_verified()),
            verified: auth.user.as_ref().is_some_and(|u| u.is_verified()),
        })
    }

    pub fn is_current(&self, slug: &str) -> bool {
        self.current_org.as_deref() == Some(slug)
    }
}

/// Messages shown beside the form fields they are about.
#[derive(Debug, Default)]
pub struct FieldErrors(HashMap<&'static str, String>);

impl FieldErrors {
    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.entry(field).or_insert_with(|| message.into());
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Keeps the value when it parses; records its message under `field` when it does not.
    pub fn check<T>(&mut self, field: &'static str, parsed: Result<T, &str>) -> Option<T> {
        match parsed {
            Ok(v) => Some(v),
            Err(message) => {
                self.add(field, message);
                None
            }
        }
    }
}
