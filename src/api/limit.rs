//! The Platform API's rate limit per key, held across instances without a write per request:
//! each instance reserves a batch of the key's requests for the current minute in PostgreSQL
//! (`db::api_keys::reserve`) and spends it locally. The database never grants more than the
//! limit in a window, so all instances together cannot exceed it; an instance may hold back up
//! to one batch that another instance could have used.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What is left of a batch, until the window it was reserved in ends.
struct Batch {
    left: i64,
    until: Instant,
}

pub struct RateLimiter {
    per_minute: i64,
    batches: Mutex<HashMap<i64, Batch>>,
}

/// The answer for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// Over the limit: retry after this many seconds.
    Limited(i64),
}

impl RateLimiter {
    pub fn new(per_minute: i64) -> RateLimiter {
        RateLimiter {
            per_minute: per_minute.max(1),
            batches: Mutex::new(HashMap::new()),
        }
    }

    /// How many requests one reservation asks for: a tenth of the limit, 1 to 100.
    pub fn batch_size(&self) -> i64 {
        (self.per_minute / 10).clamp(1, 100)
    }

    /// Spends one request of this instance's batch for the key; false when a new batch must be
    /// reserved first.
    pub fn take_local(&self, key_id: i64) -> bool {
        let Ok(mut batches) = self.batches.lock() else {
            return false;
        };
        match batches.get_mut(&key_id) {
            Some(batch) if batch.left > 0 && batch.until > Instant::now() => {
                batch.left -= 1;
                true
            }
            _ => false,
        }
    }

    /// Records a reservation of `asked` requests after which the window holds `total`, with
    /// `seconds_left` in it, and spends one of what was granted on this request.
    pub fn granted(&self, key_id: i64, asked: i64, total: i64, seconds_left: i64) -> Decision {
        let granted = (self.per_minute - (total - asked)).clamp(0, asked);
        if granted == 0 {
            return Decision::Limited(seconds_left.max(1));
        }
        if let Ok(mut batches) = self.batches.lock() {
            if batches.len() > 10_000 {
                let now = Instant::now();
                batches.retain(|_, b| b.until > now);
            }
            let until = Instant::now() + Duration::from_secs(seconds_left.max(1).unsigned_abs());
            batches.insert(
                key_id,
                Batch {
                    left: granted - 1,
                    until,
                },
            );
        }
        Decision::Allowed
    }
}

#[cfg(test)]
mod tests {
    use super::{Decision, RateLimiter};

    #[test]
    fn a_batch_is_spent_locally_and_nothing_beyond_the_limit_is_granted() {
        let limiter = RateLimiter::new(25);
        assert_eq!(limiter.batch_size(), 2);
        assert!(!limiter.take_local(7), "nothing reserved yet");
        // The database window now holds 2 (this batch): one spent now, one left locally.
        assert_eq!(limiter.granted(7, 2, 2, 60), Decision::Allowed);
        assert!(limiter.take_local(7));
        assert!(!limiter.take_local(7));
        // Other instances took most of the window: only what is left of the limit is granted.
        assert_eq!(limiter.granted(7, 2, 26, 60), Decision::Allowed);
        assert!(!limiter.take_local(7), "1 of 2 granted, and spent");
        assert_eq!(limiter.granted(7, 2, 27, 40), Decision::Limited(40));
    }
}
