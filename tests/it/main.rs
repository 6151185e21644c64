//! Behaviour tests through HTTP against the real application, a real PostgreSQL and a real
//! SMTP conversation; browser journeys in headless Chromium.

mod account;
mod accounts;
mod api;
mod audit_coverage;
mod browser;
mod contract;
mod enforcement;
mod faults;
mod instances;
mod invitations;
mod lifecycle;
mod matrix;
mod members;
mod nginx;
mod orgs;
mod platform;
mod proxies;
mod roles;
mod security;
mod sessions;
mod support;
mod two_factor;
mod ux;
