//! A real reverse proxy in front of two instances (DESIGN §15): nginx, round robin, no
//! stickiness, with the proxy settings of `deploy/nginx-gatehouse.conf`. A signed-in journey
//! works whichever instance answers, both instances answer, the client's address reaches the
//! audit log through X-Forwarded-For, and the invitation email goes out once.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::support::{Options, PASSWORD, client, csrf_token, eventually, spawn_app_with};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// nginx, or None after saying loudly what to install (a failure under CI=true).
fn nginx() -> Option<PathBuf> {
    let found = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        let message = "NGINX TEST SKIPPED: install nginx (apt-get install nginx)";
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "{message} (CI=true: this test must run)"
        );
        eprintln!("\n!!!!!!!!!!\n{message}\n!!!!!!!!!!\n");
    }
    found
}

struct Nginx {
    child: Child,
    dir: PathBuf,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start_nginx(binary: &PathBuf, port: u16, upstreams: &[u16]) -> Nginx {
    let dir = std::env::temp_dir().join(format!("gatehouse-nginx-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let include = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/nginx-gatehouse.conf");
    let servers: String = upstreams
        .iter()
        .map(|p| format!("server 127.0.0.1:{p};\n"))
        .collect();
    let d = dir.display();
    let conf = format!(
        "pid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\nhttp {{\n\
         client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;\n\
         uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
         log_format upstream '$upstream_addr';\naccess_log {d}/upstream.log upstream;\n\
         upstream gatehouse {{\n{servers}keepalive 8;\n}}\n\
         server {{\nlisten 127.0.0.1:{port};\nlocation / {{\ninclude {include};\n}}\n}}\n}}\n",
        include = include.display()
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let child = Command::new(binary)
        .args(["-c", &format!("{d}/nginx.conf"), "-g", "daemon off;"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nginx");
    Nginx { child, dir }
}

#[actix_web::test]
async fn two_instances_behind_nginx_serve_one_journey() {
    let Some(binary) = nginx() else { return };
    let proxy_port = free_port();
    let proxy = format!("http://127.0.0.1:{proxy_port}");
    let app = spawn_app_with(Options {
        base_url: Some(proxy.clone()),
        trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
        ..Options::default()
    })
    .await;
    let second_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let second_port = second_listener.local_addr().unwrap().port();
    let second = gatehouse::startup::run(
        app.settings.clone(),
        app.pool.clone(),
        gatehouse::startup::session_key(&app.settings).unwrap(),
        second_listener,
    )
    .unwrap();
    actix_web::rt::spawn(second);
    let first_port: u16 = app.address.rsplit(':').next().unwrap().parse().unwrap();
    let nginx = start_nginx(&binary, proxy_port, &[first_port, second_port]);
    let browser = client(&proxy);
    eventually("nginx answers", || async {
        let r = browser.get(format!("{proxy}/healthz")).send().await.ok()?;
        (r.status() == 200).then_some(())
    })
    .await;

    app.create_account_verified("Olivia Owner", "owner@example.com");
    let page = browser.get(format!("{proxy}/signin")).send().await.unwrap();
    let token = csrf_token(&page.text().await.unwrap());
    let signed_in = browser
        .post(format!("{proxy}/signin"))
        .header("x-forwarded-for", "203.0.113.7")
        .form(&[
            ("csrf_token", token.as_str()),
            ("email", "owner@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    // The session is in PostgreSQL: every page works whichever instance answers.
    for _ in 0..6 {
        let r = browser.get(format!("{proxy}/orgs")).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    let form = browser
        .get(format!("{proxy}/orgs/new"))
        .send()
        .await
        .unwrap();
    let token = csrf_token(&form.text().await.unwrap());
    let created = browser
        .post(format!("{proxy}/orgs/new"))
        .form(&[("csrf_token", token.as_str()), ("name", "Acme")])
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 303);
    let invite = format!("{proxy}/orgs/acme/access/invitations/new");
    let form = browser.get(&invite).send().await.unwrap();
    let token = csrf_token(&form.text().await.unwrap());
    let sent = browser
        .post(&invite)
        .form(&[
            ("csrf_token", token.as_str()),
            ("emails", "pat@example.com"),
            ("role", "member"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 303);
    app.mail.wait_for("pat@example.com", "invited you").await;

    // Both instances answered; the client's address reached the audit log; one email.
    let log = std::fs::read_to_string(nginx.dir.join("upstream.log")).unwrap();
    for port in [first_port, second_port] {
        assert!(
            log.contains(&format!(":{port}")),
            "instance {port} never answered:\n{log}"
        );
    }
    let ip: Option<String> = diesel::RunQueryDsl::get_result(
        diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Text>>(
            "SELECT ip FROM audit_events WHERE action = 'user.signed_in'",
        ),
        &mut app.conn(),
    )
    .unwrap();
    assert_eq!(ip.as_deref(), Some("203.0.113.7"));
    let to_pat = app
        .mail
        .all()
        .iter()
        .filter(|m| m.to.iter().any(|t| t == "pat@example.com"))
        .count();
    assert_eq!(to_pat, 1);
}
