//! The outbox worker: claims due messages, sends them, and records the outcome. Woken at once
//! when any instance queues mail (PostgreSQL LISTEN/NOTIFY, see `listen`), and polls as a
//! fallback.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use diesel::Connection;

use super::Mailer;
use crate::db::{self, PgPool};

/// Wakes the worker after a request queued mail, and lets the server wait for the batch it is
/// sending when it stops.
#[derive(Clone, Default)]
pub struct OutboxSignal(Arc<Notify>, Arc<tokio::sync::Mutex<()>>);

impl OutboxSignal {
    pub fn wake(&self) {
        self.0.notify_one();
    }

    /// Waits (at most `within`) until the worker is between batches, and keeps it there: on
    /// SIGTERM, the email being sent is finished, and no new one is started.
    pub async fn finish_sending(&self, within: Duration) {
        if let Ok(guard) = tokio::time::timeout(within, self.1.clone().lock_owned()).await {
            std::mem::forget(guard);
        }
    }
}

/// The listener's hold on the signal: it lives only as long as the server and its worker do.
struct WeakSignal(std::sync::Weak<Notify>);

impl WeakSignal {
    /// Wakes the worker; false once the server is gone (the listener then stops).
    fn wake(&self) -> bool {
        self.0.upgrade().map(|n| n.notify_one()).is_some()
    }

    fn alive(&self) -> bool {
        self.0.strong_count() > 0
    }
}

const BATCH: i64 = 20;

/// Sends due mail whenever woken, and every `poll` regardless.
pub async fn run(pool: PgPool, mailer: Arc<Mailer>, signal: OutboxSignal, poll: Duration) {
    loop {
        let sending = signal.1.lock().await;
        let delivered = deliver_due(&pool, &mailer).await;
        drop(sending);
        match delivered {
            Ok(n) if n == BATCH as usize => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "outbox worker"),
        }
        tokio::select! {
            _ = signal.0.notified() => {}
            _ = tokio::time::sleep(poll) => {}
        }
    }
}

/// Wakes this instance's worker whenever any instance queues mail: a thread holds one pooled
/// connection that LISTENs on the outbox channel and checks it for notifications (a
/// non-blocking read) every 50 ms. A dropped connection is replaced, and the worker is woken
/// after each (re)connection to catch anything announced meanwhile. The thread ends (and lets go
/// of the pool) once the server and its worker are gone.
pub fn listen(pool: PgPool, signal: &OutboxSignal) -> std::io::Result<()> {
    use diesel::RunQueryDsl;
    let channel = db::outbox::CHANNEL;
    let signal = WeakSignal(Arc::downgrade(&signal.0));
    std::thread::Builder::new()
        .name("outbox-listener".into())
        .spawn(move || {
            while signal.alive() {
                let Ok(mut conn) = pool.get() else {
                    std::thread::sleep(Duration::from_secs(1));
                    continue;
                };
                if diesel::sql_query(format!("LISTEN {channel}"))
                    .execute(&mut conn)
                    .is_err()
                {
                    std::thread::sleep(Duration::from_secs(1));
                    continue;
                }
                if !signal.wake() {
                    return;
                }
                let mut checks: u32 = 0;
                'listening: loop {
                    let mut woken = false;
                    for notification in conn.notifications_iter() {
                        match notification {
                            Ok(_) => woken = true,
                            Err(e) => {
                                tracing::warn!(error = %e, "outbox listener lost its connection");
                                break 'listening;
                            }
                        }
                    }
                    if (woken && !signal.wake()) || !signal.alive() {
                        return;
                    }
                    // A silent network failure reads as nothing: ask now and then.
                    checks = checks.wrapping_add(1);
                    if checks.is_multiple_of(600)
                        && diesel::sql_query("SELECT 1").execute(&mut conn).is_err()
                    {
                        break 'listening;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                // Broken: the pool checks it on return and drops it.
                drop(conn);
            }
        })
        .map(|_| ())
}

/// Sends what is due now; returns how many messages were claimed.
pub async fn deliver_due(pool: &PgPool, mailer: &Mailer) -> anyhow::Result<usize> {
    let claimed = db::run(pool, |c| {
        db::outbox::claim_due(c, BATCH, chrono::Duration::minutes(5))
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let n = claimed.len();
    // The local mailbox shows the stored bodies, links included; SMTP has delivered them.
    let redact = !mailer.is_local_mailbox();
    for message in claimed {
        let outcome = mailer.send(&message).await;
        let counter = if outcome.is_ok() {
            crate::metrics::EMAILS_SENT
        } else {
            crate::metrics::EMAILS_FAILED
        };
        metrics::counter!(counter).increment(1);
        // The email went out (or failed): recording it is never abandoned, or it would be sent
        // again when its lease ends.
        let result = db::finish(pool, move |c| match outcome {
            Ok(()) => db::outbox::mark_sent(c, &message, redact),
            Err(error) => {
                tracing::warn!(id = message.id, %error, "email delivery failed");
                c.transaction(|c| {
                    let gave_up = db::outbox::mark_failed(c, &message, &error)?;
                    if gave_up && message.kind == "invitation" {
                        db::invitations::record_email_failed(c, message.id, &error)?;
                    }
                    Ok(())
                })
            }
        })
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not record email outcome");
        }
    }
    Ok(n)
}
