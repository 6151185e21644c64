//! An SMTP server on loopback for one test (mailin-embedded), collecting what lettre delivers.

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use mailin_embedded::{Handler, Server, SslConfig, response};

#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    /// The message as received, with quoted-printable soft breaks and escapes decoded.
    pub raw: String,
}

impl Mail {
    pub fn subject(&self) -> &str {
        self.raw
            .lines()
            .find_map(|l| l.strip_prefix("Subject: "))
            .unwrap_or_default()
    }

    /// The first link in the message that points at the application.
    pub fn link(&self, base: &str) -> Option<String> {
        let start = self.raw.find(base)?;
        let rest = &self.raw[start..];
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '"' || c == '<')
            .unwrap_or(rest.len());
        Some(rest[..end].to_string())
    }
}

#[derive(Clone)]
struct Collector {
    to: Vec<String>,
    data: Vec<u8>,
    inbox: Arc<Mutex<Vec<Mail>>>,
    /// While set, every conversation is refused (421), as by a mail server that is down.
    down: Arc<AtomicBool>,
    /// How long the server takes to accept a message, in milliseconds.
    delay_ms: Arc<AtomicU64>,
}

impl Handler for Collector {
    fn helo(&mut self, _ip: std::net::IpAddr, _domain: &str) -> response::Response {
        if self.down.load(Ordering::SeqCst) {
            response::NO_SERVICE
        } else {
            response::OK
        }
    }

    fn data_start(
        &mut self,
        _domain: &str,
        _from: &str,
        _is8bit: bool,
        to: &[String],
    ) -> response::Response {
        self.to = to.to_vec();
        self.data.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> response::Response {
        std::thread::sleep(std::time::Duration::from_millis(
            self.delay_ms.load(Ordering::SeqCst),
        ));
        let raw = decode_quoted_printable(&String::from_utf8_lossy(&self.data));
        self.inbox
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Mail {
                to: self.to.clone(),
                raw,
            });
        response::OK
    }
}

fn decode_quoted_printable(s: &str) -> String {
    let joined = s.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub struct SmtpSink {
    pub port: u16,
    inbox: Arc<Mutex<Vec<Mail>>>,
    down: Arc<AtomicBool>,
    delay_ms: Arc<AtomicU64>,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind SMTP");
        let port = listener.local_addr().expect("addr").port();
        let inbox = Arc::new(Mutex::new(Vec::new()));
        let down = Arc::new(AtomicBool::new(false));
        let delay_ms = Arc::new(AtomicU64::new(0));
        let mut server = Server::new(Collector {
            to: Vec::new(),
            data: Vec::new(),
            inbox: inbox.clone(),
            down: down.clone(),
            delay_ms: delay_ms.clone(),
        });
        server
            .with_name("sink.test")
            .with_ssl(SslConfig::None)
            .expect("ssl config")
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        SmtpSink {
            port,
            inbox,
            down,
            delay_ms,
        }
    }

    /// Refuses every conversation until `come_back`.
    pub fn go_down(&self) {
        self.down.store(true, Ordering::SeqCst);
    }

    /// Makes accepting each message take this long (a slow mail server).
    pub fn slow_down(&self, delay: std::time::Duration) {
        self.delay_ms.store(
            u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            Ordering::SeqCst,
        );
    }

    pub fn come_back(&self) {
        self.down.store(false, Ordering::SeqCst);
    }

    pub fn all(&self) -> Vec<Mail> {
        self.inbox.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits (up to 20 s) for a message to `to` whose subject contains `subject`.
    pub async fn wait_for(&self, to: &str, subject: &str) -> Mail {
        let what = format!("an email to {to} about {subject:?}");
        super::eventually(&what, || async {
            self.all().into_iter().rev().find(|m| {
                m.to.iter().any(|t| t.eq_ignore_ascii_case(to)) && m.subject().contains(subject)
            })
        })
        .await
    }
}
