//! Gatehouse: a self-hosted dashboard where a company manages its organization, its members and
//! who may enter each of its environments.

#![warn(clippy::too_many_lines)]

pub mod api;
pub mod audit;
pub mod auth;
pub mod authz;
pub mod config;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod email;
pub mod error;
pub mod input;
pub mod local_pg;
pub mod metrics;
pub mod ops;
pub mod routes;
pub mod startup;
pub mod telemetry;
