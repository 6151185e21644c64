//! Browser journeys: headless Chromium through chromedriver (fantoccini). Every page a journey
//! reaches is checked with axe-core in the page and, at the end, with the Nu Html Checker.
//! Without Chromium, chromedriver, Java or the npm checkers, journeys are skipped loudly — and
//! fail under CI=true, so CI never passes without them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn axe_path() -> PathBuf {
    root().join("node_modules/axe-core/axe.min.js")
}

fn vnu_path() -> PathBuf {
    root().join("node_modules/vnu-jar/build/dist/vnu.jar")
}

fn which(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// What is missing for browser tests, if anything.
fn missing() -> Vec<String> {
    let mut missing = Vec::new();
    if !Path::new(CHROMIUM).exists() {
        missing.push(format!("{CHROMIUM} (apt-get install chromium)"));
    }
    if !Path::new(CHROMEDRIVER).exists() {
        missing.push(format!("{CHROMEDRIVER} (apt-get install chromium-driver)"));
    }
    if !which("java") {
        missing.push("java (apt-get install default-jre-headless)".into());
    }
    if !axe_path().exists() || !vnu_path().exists() {
        missing.push("axe-core and vnu-jar (npm ci, in the project folder)".into());
    }
    missing
}

pub struct Browser {
    pub client: Client,
    driver: Child,
    /// chromedriver's address, for the commands fantoccini has no method for.
    driver_url: String,
    profile: PathBuf,
    pages: Vec<(String, String)>,
    axe: String,
}

impl Browser {
    /// Starts a browser, or returns None (after saying so loudly) when the tools are missing.
    /// Under CI=true a missing tool fails the test instead.
    pub async fn start(journey: &str) -> Option<Browser> {
        if !tools_ready(journey) {
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("port")
            .local_addr()
            .expect("addr")
            .port();
        let profile =
            std::env::temp_dir().join(format!("gatehouse-chromium-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&profile).expect("profile dir");
        let driver = Command::new(CHROMEDRIVER)
            .env("XDG_CONFIG_HOME", &profile)
            .env("XDG_CACHE_HOME", &profile)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.display()),
                ]
            }
        });
        let caps = match caps {
            serde_json::Value::Object(map) => map,
            _ => unreachable!("built as an object"),
        };
        gatehouse::startup::install_crypto_provider();
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            match ClientBuilder::rustls()
                .expect("tls")
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(client) => break client,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    actix_web::rt::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("could not start Chromium through chromedriver: {e}"),
            }
        };
        let axe = std::fs::read_to_string(axe_path()).expect("axe-core");
        Some(Browser {
            client,
            driver,
            driver_url: format!("http://127.0.0.1:{port}"),
            profile,
            pages: Vec::new(),
            axe,
        })
    }

    pub async fn goto(&mut self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("goto {url}: {e}"));
        self.check_page().await;
    }

    /// Fills the named fields of the form around `submit` and clicks it; then checks the page it
    /// lands on.
    pub async fn submit(&mut self, fields: &[(&str, &str)], submit: &str) {
        self.fill(fields).await;
        self.click(submit).await;
    }

    /// Chooses an option of a select box by its value.
    pub async fn select(&self, name: &str, value: &str) {
        let select = self
            .client
            .find(Locator::Css(&format!("select[name=\"{name}\"]")))
            .await
            .unwrap_or_else(|e| panic!("select {name}: {e}"));
        select
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("option {value} of {name}: {e}"));
    }

    pub async fn click(&mut self, css: &str) {
        let button = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("element {css}: {e}"));
        button
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("body"))
            .await
            .expect("page loaded");
        self.check_page().await;
    }

    /// Narrows the window to a phone's width and checks the page needs no sideways scrolling.
    pub async fn assert_fits(&mut self, url: &str, width: u32) {
        self.client
            .set_window_size(width, 800)
            .await
            .expect("resize");
        self.goto(url).await;
        let overflow = self
            .client
            .execute("return document.documentElement.scrollWidth - document.documentElement.clientWidth;", vec![])
            .await
            .expect("measure");
        if overflow.as_i64().unwrap_or(1) > 0 {
            let culprit = self
                .client
                .execute(
                    "const w = document.documentElement.clientWidth;
                     const wide = Array.from(document.querySelectorAll('body *'))
                       .filter(e => e.getBoundingClientRect().right > w + 1)
                       .map(e => e.tagName + '.' + e.className);
                     return wide.slice(0, 5).join(', ');",
                    vec![],
                )
                .await
                .unwrap_or_default();
            panic!("{url} scrolls sideways at {width} px by {overflow}: {culprit}");
        }
    }

    /// The width in pixels of the narrowest table cell holding text on the current page (a
    /// column squeezed to a letter or two is a few pixels wide).
    pub async fn narrowest_cell(&self) -> f64 {
        self.client
            .execute(
                "const widths = Array.from(document.querySelectorAll('table td'))
                   .filter(td => td.textContent.trim().length > 0)
                   .map(td => td.getBoundingClientRect().width);
                 return widths.length ? Math.min(...widths) : 10000;",
                vec![],
            )
            .await
            .expect("measure cells")
            .as_f64()
            .unwrap_or(0.0)
    }

    /// The words broken across two lines in the current page's table cells although they fit
    /// on one, other than those of cells marked `long` (a long token such as JSON details).
    /// With `strict`, every broken word counts (the table could have given its column room).
    pub async fn broken_words(&self, strict: bool) -> Vec<String> {
        let found = self
            .client
            .execute(
                "const broken = [];
                 for (const td of document.querySelectorAll('table td:not(.long)')) {
                   const walker = document.createTreeWalker(td, NodeFilter.SHOW_TEXT);
                   for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                     const re = /\\S+/g;
                     for (let m = re.exec(node.data); m; m = re.exec(node.data)) {
                       const range = document.createRange();
                       range.setStart(node, m.index);
                       range.setEnd(node, m.index + m[0].length);
                       const tops = new Set(Array.from(range.getClientRects()).map(r => Math.round(r.top)));
                       if (tops.size < 2) continue;
                       if (arguments[0]) { broken.push(m[0]); continue; }
                       // Broken where it had to be: the word is wider than the cell.
                       const style = getComputedStyle(td);
                       const room = td.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
                       const probe = document.createElement('span');
                       probe.style.whiteSpace = 'nowrap';
                       probe.textContent = m[0];
                       node.parentNode.insertBefore(probe, node);
                       const wide = probe.getBoundingClientRect().width;
                       probe.remove();
                       if (wide <= room) broken.push(m[0]);
                     }
                   }
                 }
                 return broken;",
                vec![serde_json::json!(strict)],
            )
            .await
            .expect("find broken words");
        found
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|w| w.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Saves a screenshot of the current page under `target/screenshots/NAME.png`, for people
    /// to look at.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = root().join("target/screenshots");
        std::fs::create_dir_all(&dir).expect("screenshots folder");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
    }

    /// Clicks `css` without checking the page it is on: for a button whose script navigates
    /// away (a check started now would be cut off by the navigation); `wait_for_text` checks
    /// the page the script leads to.
    pub async fn press(&mut self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("element {css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Types into the named fields without submitting anything.
    pub async fn fill(&mut self, fields: &[(&str, &str)]) {
        for (name, value) in fields {
            let input = self
                .client
                .find(Locator::Css(&format!("[name=\"{name}\"]")))
                .await
                .unwrap_or_else(|e| panic!("field {name}: {e}"));
            input.clear().await.expect("clear");
            input.send_keys(value).await.expect("type");
        }
    }

    /// Gives the browser a virtual authenticator (WebDriver's WebAuthn extension): a platform
    /// authenticator that holds resident keys and verifies its user, as a phone or laptop does.
    pub async fn add_virtual_authenticator(&self) {
        let session = self
            .client
            .session_id()
            .await
            .expect("session id")
            .expect("a session");
        let body = json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserConsenting": true,
            "isUserVerified": true,
        });
        let response = reqwest::Client::new()
            .post(format!(
                "{}/session/{session}/webauthn/authenticator",
                self.driver_url
            ))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("add a virtual authenticator");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(
            status.is_success(),
            "virtual authenticator: {status} {text}"
        );
    }

    /// Waits (up to 15 s) until the page's text contains `wanted`: for what a script does. The
    /// page may be navigating meanwhile, so a read that fails is tried again.
    pub async fn wait_for_text(&mut self, wanted: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut text = String::new();
        loop {
            if let Ok(body) = self.client.find(Locator::Css("body")).await {
                text = body.text().await.unwrap_or_default();
            }
            if text.contains(wanted) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "waited for {wanted:?}; the page says:\n{text}"
            );
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
        self.check_page().await;
    }

    pub async fn text(&self) -> String {
        self.text_of("body").await
    }

    /// The text of the first element `css` finds.
    pub async fn text_of(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .expect("body")
            .text()
            .await
            .expect("text")
    }

    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("url");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// Runs axe-core in the page (no violations allowed) and keeps the page's HTML for the Nu
    /// Html Checker.
    async fn check_page(&mut self) {
        let url = self.client.current_url().await.expect("url").to_string();
        let html: String = self
            .client
            .execute("return document.documentElement.outerHTML;", vec![])
            .await
            .expect("page HTML")
            .as_str()
            .unwrap_or_default()
            .to_string();
        self.pages.push((
            format!("{url} (as rendered)"),
            format!("<!DOCTYPE html>\n{html}"),
        ));
        // The DOM above is the parser's repair of the markup; validate the markup as served too.
        let served = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 fetch(location.href, { credentials: 'same-origin' }).then(r => r.text()).then(done).catch(e => done(''));",
                vec![],
            )
            .await
            .unwrap_or_else(|e| panic!("{url} as served: {e}"));
        if let Some(served) = served.as_str().filter(|s| !s.is_empty()) {
            self.pages
                .push((format!("{url} (as served)"), served.to_string()));
        }
        self.client
            .execute(&self.axe, vec![])
            .await
            .expect("inject axe-core");
        let result = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] })
                    .then(r => done(r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.html) }))))
                    .catch(e => done([{ id: 'axe-error', help: String(e) }]));",
                vec![],
            )
            .await
            .expect("run axe-core");
        let violations = result.as_array().cloned().unwrap_or_default();
        assert!(
            violations.is_empty(),
            "axe-core violations on {url}:\n{}",
            serde_json::to_string_pretty(&violations).unwrap_or_default()
        );
    }

    /// Validates every page seen with the Nu Html Checker, then
    /// closes the browser.
    pub async fn finish(mut self) {
        let errors = validate_html(&self.pages).await;
        assert!(
            errors.is_empty(),
            "Nu Html Checker errors:\n{}",
            errors.join("\n")
        );
        assert!(!self.pages.is_empty(), "the journey checked no page");
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
        self.pages.clear();
    }
}

/// True when the browser and checkers are installed. Otherwise says loudly what is missing and
/// returns false, or, under CI=true, fails.
pub fn tools_ready(what: &str) -> bool {
    let missing = missing();
    if missing.is_empty() {
        return true;
    }
    let message = format!(
        "BROWSER/CHECKER TEST SKIPPED: {what}\n  missing: {}\n  install them to run it",
        missing.join("; ")
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{message} (CI=true: these tests must run)");
    }
    eprintln!("\n!!!!!!!!!!\n{message}\n!!!!!!!!!!\n");
    false
}

/// The Nu Html Checker as a local web service, started once for the whole test run (one JVM,
/// warmed up once, instead of one cold start per journey) and stopped by a watchdog when the
/// test process ends. Its port.
static CHECKER: std::sync::LazyLock<u16> = std::sync::LazyLock::new(|| {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let script = format!(
        "java -cp '{jar}' -Dnu.validator.servlet.bind-address=127.0.0.1 nu.validator.servlet.Main {port} >/dev/null 2>&1 & checker=$!; \
         while kill -0 {pid} 2>/dev/null && kill -0 $checker 2>/dev/null; do sleep 1; done; kill $checker 2>/dev/null",
        jar = vnu_path().display(),
        pid = std::process::id(),
    );
    // Detached on purpose: it must outlive this call, and ends with the test process.
    let watchdog = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the Nu Html Checker");
    std::mem::forget(watchdog);
    let deadline = Instant::now() + Duration::from_secs(90);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the Nu Html Checker did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    port
});

/// Checks every page (label, HTML) with the Nu Html Checker; returns its errors.
pub async fn validate_html(pages: &[(String, String)]) -> Vec<String> {
    let port = actix_web::rt::task::spawn_blocking(|| *CHECKER)
        .await
        .expect("checker");
    let url = format!("http://127.0.0.1:{port}/?out=json");
    let client = reqwest::Client::new();
    let mut errors = Vec::new();
    for (label, html) in pages {
        let report = client
            .post(&url)
            .header("content-type", "text/html; charset=utf-8")
            .header("user-agent", "gatehouse-tests")
            .body(html.clone())
            .send()
            .await
            .expect("reach the Nu Html Checker")
            .text()
            .await
            .expect("the checker's report");
        let report: serde_json::Value = serde_json::from_str(&report)
            .unwrap_or_else(|_| panic!("the checker answered: {report}"));
        errors.extend(
            report["messages"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|m| m["type"] == "error" || m["subType"] == "fatal")
                .map(|m| {
                    format!(
                        "{label}: line {}: {}",
                        m["lastLine"],
                        m["message"].as_str().unwrap_or_default()
                    )
                }),
        );
    }
    errors
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}
