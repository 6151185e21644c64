//! Typed settings, read from command-line flags or environment variables (clap), with secrets
//! held as `SecretString`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use secrecy::{ExposeSecret, SecretString};

#[derive(Debug, Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "Organizations, members and environment access"
)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the dashboard (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Grant or revoke platform operator rights; the only way to make an operator.
    Operator {
        #[command(subcommand)]
        action: OperatorAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum OperatorAction {
    /// Make the account with this email a platform operator.
    Grant { email: String },
    /// Take platform operator rights away from the account with this email.
    Revoke { email: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Plain http, the local mailbox, an embedded PostgreSQL when DATABASE_URL is unset.
    Local,
    /// Requires DATABASE_URL, SMTP_URL, an https BASE_URL and a SESSION_KEY of 64+ bytes.
    Production,
}

#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Local (development) or production mode.
    #[arg(
        long,
        env = "GATEHOUSE_MODE",
        value_enum,
        default_value = "local",
        global = true
    )]
    pub mode: Mode,
    /// PostgreSQL URL. Unset: an embedded cluster under the data directory.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<SecretString>,
    /// PostgreSQL URL of the schema owner, for migrations. Set, the server migrates through it
    /// and grants the DATABASE_URL role only what serving needs (INSERT and SELECT on the audit
    /// log). Unset: DATABASE_URL's role does both. The embedded cluster sets up both roles.
    #[arg(
        long,
        env = "MIGRATION_DATABASE_URL",
        hide_env_values = true,
        global = true
    )]
    pub migration_database_url: Option<SecretString>,
    /// SMTP server, e.g. smtp://user:pass@host:587?tls=required. Unset (local mode): the local
    /// mailbox at /dev/mailbox.
    #[arg(long, env = "SMTP_URL", hide_env_values = true, global = true)]
    pub smtp_url: Option<SecretString>,
    /// Sender address of outgoing email.
    #[arg(
        long,
        env = "MAIL_FROM",
        default_value = "Gatehouse <gatehouse@localhost>",
        global = true
    )]
    pub mail_from: String,
    /// Public URL of the dashboard, used in email links and for the Origin check.
    #[arg(
        long,
        env = "BASE_URL",
        default_value = "http://localhost:8080",
        global = true
    )]
    pub base_url: String,
    /// Key that signs session cookies, at least 64 bytes. Unset (local mode): generated once and
    /// kept in the data directory.
    #[arg(long, env = "SESSION_KEY", hide_env_values = true, global = true)]
    pub session_key: Option<SecretString>,
    /// Key that seals two-factor secrets at rest, at least 32 bytes. Unset: derived from the
    /// session key (then changing SESSION_KEY turns every account's two-factor off in effect).
    #[arg(long, env = "DATA_KEY", hide_env_values = true, global = true)]
    pub data_key: Option<SecretString>,
    /// Whether platform operators must have two-factor sign-in to use the operator console.
    /// Default: true in production mode, false in local mode.
    #[arg(long, env = "OPERATORS_REQUIRE_2FA", global = true)]
    pub operators_require_2fa: Option<bool>,
    /// Address to listen on.
    #[arg(long, env = "BIND", default_value = "127.0.0.1:8080", global = true)]
    pub bind: String,
    /// Directory for the embedded PostgreSQL cluster and the local session key.
    #[arg(
        long,
        env = "GATEHOUSE_DATA_DIR",
        default_value = ".gatehouse",
        global = true
    )]
    pub data_dir: PathBuf,
    /// Most organizations one person may belong to.
    #[arg(long, env = "MAX_ORGS_PER_USER", default_value_t = 400, global = true)]
    pub max_orgs_per_user: i64,
    /// Days before an invitation link expires.
    #[arg(long, env = "INVITE_TTL_DAYS", default_value_t = 7, global = true)]
    pub invite_ttl_days: i64,
    /// Invitations one organization may send per day.
    #[arg(
        long,
        env = "INVITES_PER_ORG_PER_DAY",
        default_value_t = 200,
        global = true
    )]
    pub invites_per_org_per_day: i64,
    /// Minutes a re-entered password counts as fresh for production grants.
    #[arg(long, env = "SUDO_MINUTES", default_value_t = 10, global = true)]
    pub sudo_minutes: i64,
    /// Failed sign-ins per account or per IP within the window before sign-in locks.
    #[arg(long, env = "SIGNIN_MAX_FAILURES", default_value_t = 10, global = true)]
    pub signin_max_failures: i64,
    /// Length in minutes of the failure window and of the lock.
    #[arg(long, env = "SIGNIN_LOCK_MINUTES", default_value_t = 15, global = true)]
    pub signin_lock_minutes: i64,
    /// Platform API requests one personal API key may make per minute.
    #[arg(
        long,
        env = "API_RATE_PER_MINUTE",
        default_value_t = 600,
        global = true
    )]
    pub api_rate_per_minute: i64,
    /// Reverse proxies in front of Gatehouse (comma-separated CIDRs, e.g. 10.0.0.0/8). Only when
    /// a request comes from one of them is the client's address read from X-Forwarded-For (the
    /// right-most address that is not a trusted proxy). Empty: the connecting address is the
    /// client's.
    #[arg(
        long,
        env = "TRUSTED_PROXIES",
        value_delimiter = ',',
        num_args = 0..,
        global = true
    )]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// A signed-in session ends after this many hours without activity.
    #[arg(long, env = "SESSION_IDLE_HOURS", default_value_t = 24, global = true)]
    pub session_idle_hours: i64,
    /// A signed-in session ends this many days after sign-in, whatever happens.
    #[arg(long, env = "SESSION_MAX_DAYS", default_value_t = 30, global = true)]
    pub session_max_days: i64,
    /// Serve Prometheus metrics at http://METRICS_BIND/metrics (e.g. 127.0.0.1:9090). Unset: off.
    #[arg(long, env = "METRICS_BIND", global = true)]
    pub metrics_bind: Option<String>,
    /// `text` (the default) or `json`: one JSON object per log line.
    #[arg(long, env = "LOG_FORMAT", default_value = "text", global = true)]
    pub log_format: String,
    /// Seconds between the outbox worker's checks for due mail when nothing wakes it (queued
    /// mail wakes every instance at once through PostgreSQL NOTIFY).
    #[arg(long, env = "OUTBOX_POLL_SECONDS", default_value_t = 5, global = true)]
    pub outbox_poll_seconds: u64,
    /// Days a sent email is kept (its links already redacted) before it is purged.
    #[arg(long, env = "OUTBOX_KEEP_DAYS", default_value_t = 30, global = true)]
    pub outbox_keep_days: i64,
    /// Database connections per instance.
    #[arg(long, env = "DATABASE_POOL_SIZE", default_value_t = 10, global = true)]
    pub database_pool_size: u32,
    /// Database statements an instance runs at once (default: one per core), at most the pool's
    /// connections and at least one per worker: each worker gets its share as blocking threads
    /// (`startup`). With PostgreSQL on the same machine, more than one per core only adds
    /// switching between them; raise it when the database is on another machine, where
    /// statements wait on the network, or when slow statements (lock waits) should not hold up
    /// the other requests of their worker.
    #[arg(long, env = "DATABASE_CONCURRENCY", global = true)]
    pub database_concurrency: Option<usize>,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "WORKERS", global = true)]
    pub workers: Option<usize>,
}

/// Whether a `host:port` listens on this machine only (127.0.0.0/8, ::1 or localhost).
fn is_loopback(bind: &str) -> bool {
    if let Ok(addr) = bind.parse::<std::net::SocketAddr>() {
        return addr.ip().is_loopback();
    }
    bind.rsplit_once(':')
        .is_some_and(|(host, _)| host.eq_ignore_ascii_case("localhost"))
}

impl Settings {
    /// Whether a form posted from `origin` comes from this site: `BASE_URL`'s origin; in local
    /// mode with a `localhost` BASE_URL, the same port on 127.0.0.1 too (an old bookmark).
    pub fn origin_allowed(&self, origin: &str) -> bool {
        let expected = self.origin();
        if origin == expected {
            return true;
        }
        let Ok(base) = url::Url::parse(&self.base_url) else {
            return false;
        };
        self.is_local()
            && base.host_str() == Some("localhost")
            && base
                .port_or_known_default()
                .is_some_and(|port| origin == format!("{}://127.0.0.1:{port}", base.scheme()))
    }

    /// Whether the operator console needs two-factor sign-in (DESIGN §14).
    pub fn operators_need_two_factor(&self) -> bool {
        self.operators_require_2fa.unwrap_or(!self.is_local())
    }

    /// Checks the rules of production mode, so a misconfigured production start stops at once
    /// with a message instead of running with local defaults.
    pub fn validate(&self) -> Result<(), String> {
        let base =
            url::Url::parse(&self.base_url).map_err(|e| format!("BASE_URL is not a URL: {e}"))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err("BASE_URL must start with http:// or https://".into());
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            return Err("LOG_FORMAT is text or json".into());
        }
        if self.mode == Mode::Local && !is_loopback(&self.bind) {
            return Err(format!(
                "local mode serves an open mailbox and listens on this machine only; BIND={} is \
                 not a loopback address. Use 127.0.0.1 or localhost, or GATEHOUSE_MODE=production \
                 to serve other machines.",
                self.bind
            ));
        }
        if self.mode == Mode::Production {
            if self.database_url.is_none() {
                return Err("production mode needs DATABASE_URL".into());
            }
            if self.smtp_url.is_none() {
                return Err(
                    "production mode needs SMTP_URL (there is no local mailbox in production)"
                        .into(),
                );
            }
            if base.scheme() != "https" {
                return Err("production mode needs an https:// BASE_URL".into());
            }
            match &self.session_key {
                Some(k) if k.expose_secret().len() >= 64 => {}
                _ => return Err("production mode needs a SESSION_KEY of at least 64 bytes".into()),
            }
        }
        if self
            .data_key
            .as_ref()
            .is_some_and(|k| k.expose_secret().len() < 32)
        {
            return Err("DATA_KEY must be at least 32 bytes".into());
        }
        Ok(())
    }

    pub fn is_local(&self) -> bool {
        self.mode == Mode::Local
    }

    /// How long a signed-in session lives (at least an hour idle, a day in all).
    pub fn session_lifetimes(&self) -> crate::db::sessions::Lifetimes {
        crate::db::sessions::Lifetimes {
            idle: chrono::Duration::hours(self.session_idle_hours.max(1)),
            max: chrono::Duration::days(self.session_max_days.max(1)),
        }
    }

    /// Cookies are Secure whenever the dashboard is reached over https.
    pub fn secure_cookies(&self) -> bool {
        self.base_url.starts_with("https://")
    }

    /// `scheme://host[:port]` of BASE_URL, as browsers send it in the Origin header.
    pub fn origin(&self) -> String {
        url::Url::parse(&self.base_url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default()
    }

    /// An absolute link to a path of the dashboard.
    pub fn link(&self, path_and_query: &str) -> String {
        format!("{}{}", self.base_url.trim_end_matches('/'), path_and_query)
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::Parser;

    #[test]
    fn local_mode_takes_forms_from_localhost_and_the_same_port_on_127_0_0_1_only() {
        let local = Cli::parse_from(["gatehouse"]).settings;
        assert_eq!(local.base_url, "http://localhost:8080");
        assert!(local.origin_allowed("http://localhost:8080"));
        assert!(local.origin_allowed("http://127.0.0.1:8080"));
        assert!(!local.origin_allowed("http://127.0.0.1:8081"));
        assert!(!local.origin_allowed("http://evil.example"));
        assert!(!local.origin_allowed("https://127.0.0.1:8080"));
        let production = Cli::parse_from([
            "gatehouse",
            "--mode",
            "production",
            "--base-url",
            "https://localhost:8443",
        ])
        .settings;
        assert!(production.origin_allowed("https://localhost:8443"));
        assert!(!production.origin_allowed("https://127.0.0.1:8443"));
    }
}
