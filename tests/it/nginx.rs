//! A real reverse proxy in front of three instances (DESIGN §15): nginx, round robin, no
//! stickiness, with the proxy settings of `deploy/nginx-gatehouse.conf`. A journey (sign up,
//! verify, sign in, create an organization, invite, accept, edit roles, sign out) works whichever
//! instance answers each request, all three answer, the client's address reaches the audit log
//! through X-Forwarded-For, every email goes out once, and the sign-in throttle holds across
//! instances.

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
async fn three_instances_behind_nginx_serve_one_journey() {
    let Some(binary) = nginx() else { return };
    let proxy_port = free_port();
    let proxy = format!("http://127.0.0.1:{proxy_port}");
    let app = spawn_app_with(Options {
        base_url: Some(proxy.clone()),
        trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
        ..Options::default()
    })
    .await;
    let mut ports = vec![
        app.address
            .rsplit(':')
            .next()
            .unwrap()
            .parse::<u16>()
            .unwrap(),
    ];
    for _ in 0..2 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        ports.push(listener.local_addr().unwrap().port());
        let instance = gatehouse::startup::run(
            app.settings.clone(),
            app.pool.clone(),
            gatehouse::startup::session_key(&app.settings).unwrap(),
            listener,
        )
        .unwrap();
        actix_web::rt::spawn(instance);
    }
    let nginx = start_nginx(&binary, proxy_port, &ports);
    let browser = client(&proxy);
    eventually("nginx answers", || async {
        let r = browser.get(format!("{proxy}/healthz")).send().await.ok()?;
        (r.status() == 200).then_some(())
    })
    .await;

    // Sign up and verify through the proxy.
    let token = csrf_token(
        &browser
            .get(format!("{proxy}/signup"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    let signed_up = browser
        .post(format!("{proxy}/signup"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("name", "Olivia Owner"),
            ("email", "owner@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_up.status(), 200);
    let verify = app
        .mail
        .wait_for("owner@example.com", "Verify")
        .await
        .link(&proxy)
        .expect("link");

    let post = |path: String, page: String, fields: Vec<(&'static str, String)>| {
        let browser = &browser;
        let proxy = &proxy;
        async move {
            let html = browser
                .get(format!("{proxy}{page}"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let mut form = vec![("csrf_token", csrf_token(&html))];
            form.extend(fields);
            browser
                .post(format!("{proxy}{path}"))
                .form(&form)
                .send()
                .await
                .unwrap()
        }
    };
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
    // The link verifies the account that signed up, signed in.
    let verified = browser.get(&verify).send().await.unwrap();
    assert_eq!(verified.status(), 200);
    assert!(
        verified
            .text()
            .await
            .unwrap()
            .contains("Your email is verified")
    );
    // The session is in PostgreSQL: every page works whichever instance answers.
    for _ in 0..6 {
        assert_eq!(
            browser
                .get(format!("{proxy}/orgs"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    let created = post(
        "/orgs/new".into(),
        "/orgs/new".into(),
        vec![("name", "Acme".into())],
    )
    .await;
    assert_eq!(created.status(), 303);
    let invite = "/orgs/acme/access/invitations/new".to_string();
    let sent = post(
        invite.clone(),
        invite,
        vec![
            ("emails", "pat@example.com".into()),
            ("role", "member".into()),
        ],
    )
    .await;
    assert_eq!(sent.status(), 303);
    let link = app
        .mail
        .wait_for("pat@example.com", "invited you")
        .await
        .link(&proxy)
        .expect("link");
    let path = link.trim_start_matches(&proxy).to_string();

    // Pat accepts in a browser of their own.
    app.create_account_verified("Pat", "pat@example.com");
    let pat = client(&proxy);
    let token = csrf_token(
        &pat.get(format!("{proxy}/signin"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    let pat_in = pat
        .post(format!("{proxy}/signin"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("email", "pat@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(pat_in.status(), 303);
    let token = csrf_token(&pat.get(&link).send().await.unwrap().text().await.unwrap());
    let accepted = pat
        .post(format!("{proxy}{path}/accept"))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 303);

    // The owner edits Pat's roles, then signs out.
    let pat_id = app.user_id("pat@example.com");
    let roles = format!("/orgs/acme/access/users/{pat_id}/roles");
    let fields = vec![
        ("role", "member".to_string()),
        ("staging", "viewer".to_string()),
        ("confirm", "yes".to_string()),
    ];
    assert_eq!(post(roles.clone(), roles, fields).await.status(), 303);
    assert_eq!(
        post("/signout".into(), "/orgs".into(), vec![])
            .await
            .status(),
        303
    );
    assert_eq!(
        browser
            .get(format!("{proxy}/orgs"))
            .send()
            .await
            .unwrap()
            .status(),
        303
    );

    // The throttle holds across instances: parallel wrong guesses spread over all three.
    let guesses = (0..14).map(|_| async {
        let c = client(&proxy);
        let token = csrf_token(
            &c.get(format!("{proxy}/signin"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        );
        c.post(format!("{proxy}/signin"))
            .header("x-forwarded-for", "198.51.100.9")
            .form(&[
                ("csrf_token", token.as_str()),
                ("email", "pat@example.com"),
                ("password", "wrong-password-123"),
            ])
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    let answers = futures::future::join_all(guesses).await;
    let checked = answers.iter().filter(|s| **s == 422).count();
    assert!(
        checked <= app.settings.signin_max_failures as usize,
        "{answers:?}"
    );
    assert!(answers.contains(&429), "{answers:?}");

    // The organization limit holds across instances: Pat, at 399 organizations, accepts two
    // invitations at once, through different instances; exactly one of them lands.
    let pat_id_i = pat_id;
    crate::support::seed_memberships(&app, pat_id_i, app.settings.max_orgs_per_user - 2);
    let owner = gatehouse::db::users::find_by_email(&mut app.conn(), "owner@example.com")
        .unwrap()
        .unwrap();
    let actor = gatehouse::audit::Actor::User {
        id: owner.id,
        email: owner.email.clone(),
    };
    for (name, token) in [("Beta", "t-beta"), ("Gamma", "t-gamma")] {
        let org = gatehouse::db::orgs::create(
            &mut app.conn(),
            &actor,
            owner.id,
            &gatehouse::domain::OrgName::parse(name).unwrap(),
            400,
            &Default::default(),
        )
        .unwrap();
        diesel::RunQueryDsl::execute(
            diesel::sql_query(
                "INSERT INTO invitations (organization_id, email, role, token_hash, invited_by_name, expires_at, invited_by)
                 VALUES ($1, 'pat@example.com', 'member', sha256(convert_to($2, 'UTF8')), 'Olivia', now() + interval '1 day', $3)",
            )
            .bind::<diesel::sql_types::BigInt, _>(org.id.get())
            .bind::<diesel::sql_types::Text, _>(token)
            .bind::<diesel::sql_types::BigInt, _>(owner.id.get()),
            &mut app.conn(),
        )
        .unwrap();
    }
    let token = csrf_token(
        &pat.get(format!("{proxy}/invitations/t-beta"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    let accept = |t: &'static str| {
        let (pat, proxy, token) = (&pat, &proxy, &token);
        async move {
            pat.post(format!("{proxy}/invitations/{t}/accept"))
                .form(&[("csrf_token", token.as_str())])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let (beta, gamma) = futures::join!(accept("t-beta"), accept("t-gamma"));
    assert!(beta != 500 && gamma != 500, "{beta} {gamma}");
    assert_eq!(
        crate::support::memberships_of(&app, pat_id_i),
        app.settings.max_orgs_per_user,
        "exactly one of the two acceptances landed"
    );

    // All three instances answered; the client's address reached the audit log; one email each.
    let log = std::fs::read_to_string(nginx.dir.join("upstream.log")).unwrap();
    for port in &ports {
        assert!(
            log.contains(&format!(":{port}")),
            "instance {port} never answered:\n{log}"
        );
    }
    let ip: Option<String> = diesel::RunQueryDsl::get_result(
        diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Text>>(
            "SELECT ip FROM audit_events WHERE action = 'user.signed_in' ORDER BY id LIMIT 1",
        ),
        &mut app.conn(),
    )
    .unwrap();
    assert_eq!(ip.as_deref(), Some("203.0.113.7"));
    for to in ["owner@example.com", "pat@example.com"] {
        let n = app
            .mail
            .all()
            .iter()
            .filter(|m| m.to.iter().any(|t| t == to))
            .count();
        assert_eq!(n, 1, "{to}");
    }
}
