//! The embedded-default PostgreSQL cluster: found among the server binaries on the machine,
//! created on first use in a directory of ours, started on a private port, and run under an
//! unprivileged account when we are root (PostgreSQL refuses to run as root).
//!
//! It accepts no password-less connection (scram-sha-256 on its socket and on loopback), with
//! two roles whose generated passwords are kept in files only we can read: the superuser, which
//! owns the schema and runs migrations, and `gatehouse_app`, which serves with only the rights
//! serving needs (DESIGN §12, §15).

use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, anyhow, bail};

/// Superuser created by `initdb` in our clusters: owns the schema, runs migrations.
const SUPERUSER: &str = "gatehouse";
/// The role the server connects as: no superuser, owner of nothing.
const APP_ROLE: &str = "gatehouse_app";

/// Who may connect, and how: a password (scram) always, on the socket and on loopback.
const HBA: &str = "# Written by Gatehouse: no connection without a password.
local all all scram-sha-256
host all all 127.0.0.1/32 scram-sha-256
host all all ::1/128 scram-sha-256
";

#[derive(Debug)]
pub struct Cluster {
    data_dir: PathBuf,
    bin_dir: PathBuf,
    port: u16,
    run_as: Option<(nix::unistd::Uid, nix::unistd::Gid)>,
    started_here: bool,
    superuser_password: String,
    app_password: String,
    /// How this process started the server (for `start_again`).
    started_with: Option<(PathBuf, String)>,
}

impl Cluster {
    /// Starts the cluster in `dir` (creating it when new), or attaches to it when a previous run
    /// left it running. A stale `postmaster.pid` from a killed run is cleared.
    pub fn start(dir: &Path, fast_and_unsafe: bool) -> Result<Self> {
        let bin_dir = find_bin_dir()?;
        fs::create_dir_all(dir).with_context(|| format!("Failed to create {}", dir.display()))?;
        let dir = dir.canonicalize()?;
        let data_dir = dir.join("pgdata");
        let run_as = unprivileged_account()?;
        if let Some((uid, gid)) = run_as {
            // The account must reach the directory: it needs its own folder, and every parent
            // must be traversable.
            std::os::unix::fs::chown(&dir, Some(uid.as_raw()), Some(gid.as_raw()))
                .context("Failed to chown data dir")?;
            check_traversable(&dir)?;
        }
        let mut cluster = Cluster {
            data_dir,
            bin_dir,
            port: 0,
            run_as,
            started_here: false,
            superuser_password: secret_file(&dir.join("superuser.password"))?,
            app_password: secret_file(&dir.join("app.password"))?,
            started_with: None,
        };

        if !cluster.data_dir.join("PG_VERSION").exists() {
            cluster.init(&dir)?;
        }
        if let Some(port) = cluster.running_port() {
            cluster.port = port;
            cluster.secure()?;
            return Ok(cluster);
        }
        // Not running: any postmaster.pid left behind is stale.
        let _ = fs::remove_file(cluster.data_dir.join("postmaster.pid"));
        cluster.port = free_port()?;
        let mut options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            cluster.port,
            cluster.data_dir.display()
        );
        if fast_and_unsafe {
            options.push_str(" -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
        }
        let log = dir.join("postgres.log");
        if cluster.trusting()? {
            // A cluster from an older version trusts local connections: secure it with only
            // its socket open (inside the private data folder), then start it for real.
            let private = options.replace("listen_addresses=127.0.0.1", "listen_addresses=''");
            cluster.pg_ctl_start(&log, &private)?;
            let secured = cluster.secure();
            cluster.stop()?;
            secured?;
        }
        cluster.pg_ctl_start(&log, &options)?;
        cluster.started_here = true;
        cluster.started_with = Some((log, options));
        cluster.secure()?;
        Ok(cluster)
    }

    /// Starts the server again after `stop`, on the same port (fault tests: the database goes
    /// away and comes back).
    pub fn start_again(&self) -> Result<()> {
        let Some((log, options)) = &self.started_with else {
            bail!("this process did not start the cluster");
        };
        self.pg_ctl_start(log, options)
    }

    fn pg_ctl_start(&self, log: &Path, options: &str) -> Result<()> {
        let status = self
            .command("pg_ctl")
            .args(["start", "-w", "-t", "60", "-D"])
            .arg(&self.data_dir)
            .arg("-l")
            .arg(log)
            .arg("-o")
            .arg(options)
            .stdout(Stdio::null())
            .status()
            .context("Failed to run pg_ctl start")?;
        if !status.success() {
            let tail = fs::read_to_string(log).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(10).collect();
            bail!(
                "PostgreSQL did not start (see {}):\n{}",
                log.display(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        Ok(())
    }

    /// Whether pg_hba.conf still trusts some connections (a cluster from an older version).
    fn trusting(&self) -> Result<bool> {
        let hba = fs::read_to_string(self.data_dir.join("pg_hba.conf"))
            .context("Failed to read pg_hba.conf")?;
        Ok(hba
            .lines()
            .any(|l| !l.trim_start().starts_with('#') && l.contains("trust")))
    }

    /// Makes sure no connection gets in without a password (a cluster made by an older version
    /// trusted every local user: it gets its superuser password and scram now), and that the
    /// serving role exists with its password.
    fn secure(&self) -> Result<()> {
        use diesel::{Connection, PgConnection, RunQueryDsl, sql_query};
        let hba_path = self.data_dir.join("pg_hba.conf");
        let mut conn = if self.trusting()? {
            // Through the socket in the private data folder.
            let url = format!(
                "postgres://{SUPERUSER}@/postgres?host={}&port={}",
                self.data_dir.display(),
                self.port
            );
            let mut conn = PgConnection::establish(&url)
                .context("Failed to connect to the embedded PostgreSQL")?;
            sql_query("SET password_encryption = 'scram-sha-256'").execute(&mut conn)?;
            sql_query(format!(
                "ALTER ROLE {SUPERUSER} PASSWORD '{}'",
                self.superuser_password
            ))
            .execute(&mut conn)?;
            fs::write(&hba_path, HBA).context("Failed to write pg_hba.conf")?;
            sql_query("SELECT pg_reload_conf()").execute(&mut conn)?;
            conn
        } else {
            PgConnection::establish(&self.url("postgres"))
                .context("Failed to connect to the embedded PostgreSQL")?
        };
        sql_query(format!(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') \
             THEN CREATE ROLE {APP_ROLE}; END IF; END $$"
        ))
        .execute(&mut conn)?;
        sql_query(format!(
            "ALTER ROLE {APP_ROLE} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION \
             NOBYPASSRLS PASSWORD '{}'",
            self.app_password
        ))
        .execute(&mut conn)?;
        Ok(())
    }

    fn init(&self, dir: &Path) -> Result<()> {
        fs::create_dir_all(&self.data_dir)?;
        fs::set_permissions(&self.data_dir, fs::Permissions::from_mode(0o700))?;
        if let Some((uid, gid)) = self.run_as {
            std::os::unix::fs::chown(&self.data_dir, Some(uid.as_raw()), Some(gid.as_raw()))?;
        }
        // initdb reads the superuser's password from a file the server account can read; it
        // is removed as soon as initdb is done.
        let pwfile = dir.join("initdb.password");
        fs::write(&pwfile, &self.superuser_password)?;
        fs::set_permissions(&pwfile, fs::Permissions::from_mode(0o600))?;
        if let Some((uid, gid)) = self.run_as {
            std::os::unix::fs::chown(&pwfile, Some(uid.as_raw()), Some(gid.as_raw()))?;
        }
        let out = self
            .command("initdb")
            .args([
                "-A",
                "scram-sha-256",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
                "-U",
                SUPERUSER,
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .arg("-D")
            .arg(&self.data_dir)
            .output();
        let _ = fs::remove_file(&pwfile);
        let out = out.context("Failed to run initdb")?;
        if !out.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    }

    /// The port of a server already running on this data directory, if any.
    fn running_port(&self) -> Option<u16> {
        let status = self
            .command("pg_ctl")
            .arg("status")
            .arg("-D")
            .arg(&self.data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok()?;
        if !status.success() {
            return None;
        }
        let pid_file = fs::read_to_string(self.data_dir.join("postmaster.pid")).ok()?;
        pid_file.lines().nth(3)?.trim().parse().ok()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// True when this process started the server (and so should stop it).
    pub fn started_here(&self) -> bool {
        self.started_here
    }

    /// URL of a database in this cluster, as the superuser (schema owner, migrations).
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{}/{database}",
            self.superuser_password, self.port
        )
    }

    /// URL of a database in this cluster, as the serving role.
    pub fn app_url(&self, database: &str) -> String {
        format!(
            "postgres://{APP_ROLE}:{}@127.0.0.1:{}/{database}",
            self.app_password, self.port
        )
    }

    /// Creates the database unless it exists.
    pub fn ensure_database(&self, name: &str) -> Result<()> {
        use diesel::{Connection, PgConnection, RunQueryDsl, sql_query};
        let mut conn = PgConnection::establish(&self.url("postgres"))
            .context("Failed to connect to the embedded PostgreSQL")?;
        #[derive(diesel::QueryableByName)]
        struct Found {
            #[diesel(sql_type = diesel::sql_types::Bool)]
            found: bool,
        }
        let found: Found =
            sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS found")
                .bind::<diesel::sql_types::Text, _>(name)
                .get_result(&mut conn)?;
        if !found.found {
            sql_query(format!("CREATE DATABASE \"{}\"", name.replace('"', "")))
                .execute(&mut conn)?;
        }
        Ok(())
    }

    /// Stops the server.
    pub fn stop(&self) -> Result<()> {
        let status = self
            .command("pg_ctl")
            .args(["stop", "-m", "fast", "-D"])
            .arg(&self.data_dir)
            .stdout(Stdio::null())
            .status()
            .context("Failed to run pg_ctl stop")?;
        if !status.success() {
            bail!("pg_ctl stop failed");
        }
        Ok(())
    }

    /// The command line that stops this cluster at once; used by watchdogs.
    pub fn stop_command(&self) -> String {
        let pg_ctl = self.bin_dir.join("pg_ctl");
        let stop = format!(
            "{} stop -m immediate -D {}",
            pg_ctl.display(),
            self.data_dir.display()
        );
        match self.run_as {
            Some(_) => format!("su -s /bin/sh postgres -c '{stop}'"),
            None => stop,
        }
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin_dir.join(program));
        cmd.current_dir("/").env("LC_ALL", "C");
        if let Some((uid, gid)) = self.run_as {
            cmd.uid(uid.as_raw()).gid(gid.as_raw()).env("HOME", "/tmp");
        }
        cmd
    }
}

/// When we are root, the account PostgreSQL runs as: `postgres` from the server package, or
/// `nobody` as a last resort.
fn unprivileged_account() -> Result<Option<(nix::unistd::Uid, nix::unistd::Gid)>> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    for name in ["postgres", "nobody"] {
        if let Some(user) = nix::unistd::User::from_name(name)? {
            return Ok(Some((user.uid, user.gid)));
        }
    }
    bail!("running as root, and there is no 'postgres' or 'nobody' account to run PostgreSQL as")
}

fn check_traversable(dir: &Path) -> Result<()> {
    for ancestor in dir.ancestors().skip(1) {
        let mode = fs::metadata(ancestor)?.permissions().mode();
        if mode & 0o001 == 0 {
            bail!(
                "PostgreSQL runs as an unprivileged account and cannot reach {}: {} is not \
                 traversable by others. Set GATEHOUSE_DATA_DIR to a folder under /tmp or /var/lib.",
                dir.display(),
                ancestor.display()
            );
        }
    }
    Ok(())
}

/// The PostgreSQL server binaries: on PATH, or the newest under /usr/lib/postgresql.
pub fn find_bin_dir() -> Result<PathBuf> {
    find_bin_dir_in(
        std::env::var_os("PATH").as_deref(),
        Path::new("/usr/lib/postgresql"),
    )
}

fn find_bin_dir_in(path: Option<&std::ffi::OsStr>, versions_dir: &Path) -> Result<PathBuf> {
    let has_server = |d: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|b| d.join(b).is_file())
    };
    for dir in path
        .map(|p| std::env::split_paths(p).collect::<Vec<_>>())
        .unwrap_or_default()
    {
        if has_server(&dir) {
            // Resolve symlinks (Debian links /usr/local/bin/initdb into the versioned dir) so
            // that pg_ctl finds its sibling `postgres`.
            let real = fs::canonicalize(dir.join("pg_ctl"))?;
            if let Some(parent) = real.parent().filter(|p| has_server(p)) {
                return Ok(parent.to_path_buf());
            }
            return Ok(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir(versions_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            has_server(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, dir)| dir).ok_or_else(|| {
        anyhow!(
            "No PostgreSQL server binaries found (initdb, pg_ctl, postgres on PATH or under \
             /usr/lib/postgresql/<version>/bin). Install them (Debian/Ubuntu: \
             `apt-get install postgresql`), or set DATABASE_URL to an existing database."
        )
    })
}

/// A generated password kept in `path` (readable by us only), made on first use.
fn secret_file(path: &Path) -> Result<String> {
    use rand::Rng;
    if let Ok(existing) = fs::read_to_string(path)
        && existing.trim().len() >= 32
    {
        let existing = existing.trim();
        // It goes into SQL and URLs as is.
        if !existing.chars().all(|c| c.is_ascii_alphanumeric()) {
            bail!("{} must hold letters and digits only", path.display());
        }
        return Ok(existing.to_string());
    }
    let password: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    let mut file = fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("Failed to write {}", path.display()))?;
    std::io::Write::write_all(&mut file, password.as_bytes())?;
    Ok(password)
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_server_binaries_say_what_to_install() {
        let empty = std::env::temp_dir().join(format!("gatehouse-no-pg-{}", std::process::id()));
        fs::create_dir_all(&empty).unwrap();
        let err = find_bin_dir_in(Some(empty.as_os_str()), &empty)
            .unwrap_err()
            .to_string();
        assert!(err.contains("apt-get install postgresql"), "{err}");
        fs::remove_dir_all(&empty).unwrap();
    }

    #[test]
    fn the_newest_versioned_server_is_chosen() {
        let root =
            std::env::temp_dir().join(format!("gatehouse-pg-versions-{}", std::process::id()));
        for version in ["13", "16", "9"] {
            let bin = root.join(version).join("bin");
            fs::create_dir_all(&bin).unwrap();
            for b in ["initdb", "pg_ctl", "postgres"] {
                fs::write(bin.join(b), "").unwrap();
            }
        }
        assert_eq!(find_bin_dir_in(None, &root).unwrap(), root.join("16/bin"));
        fs::remove_dir_all(&root).unwrap();
    }
}
