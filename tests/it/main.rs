//! Behaviour tests through HTTP against the real application, a real PostgreSQL and a real
//! SMTP conversation; browser journeys in headless Chromium.

mod accounts;
mod browser;
mod orgs;
mod platform;
mod support;
