//! The outbox worker: claims due messages, sends them, and records the outcome. Woken at once
//! when a request queues mail, and polls as a fallback (and for other instances' mail).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use diesel::Connection;

use super::Mailer;
use crate::db::{self, PgPool};

/// Wakes the worker after a request queued mail.
#[derive(Clone, Default)]
pub struct OutboxSignal(Arc<Notify>);

impl OutboxSignal {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

const POLL: Duration = Duration::from_secs(2);
const BATCH: i64 = 20;

pub async fn run(pool: PgPool, mailer: Arc<Mailer>, signal: OutboxSignal) {
    loop {
        match deliver_due(&pool, &mailer).await {
            Ok(n) if n == BATCH as usize => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "outbox worker"),
        }
        tokio::select! {
            _ = signal.0.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
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
        let result = db::run(pool, move |c| match outcome {
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
