//! Pages an instance keeps under a data version the database moves on in the transaction of
//! every change they show (`org_data_versions` for an organization's member lists,
//! `user_data_versions` for a person's organization list). The version is read on every request
//! with the access check or the session, so a kept page is served only while the database holds
//! what it shows, whichever instance made the change; the pages of an owner's other versions are
//! never served again.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, PoisonError};

use diesel::QueryResult;

/// At most this many pages are kept (about 15 KiB each with 50 members), and at most
/// `PER_OWNER` of one owner's: someone asking for page after page, or search after search,
/// replaces their own organization's (or their own) pages, not everyone's.
const PAGES: usize = 128;
const PER_OWNER: usize = 16;

/// Pages of `V`, keyed by their owner `O` (an organization, a person), the owner's data version
/// and the page asked for `P`.
pub struct Kept<O, P, V> {
    pages: Mutex<HashMap<(O, i64, P), V>>,
}

impl<O, P, V> Default for Kept<O, P, V> {
    fn default() -> Self {
        Kept {
            pages: Mutex::new(HashMap::new()),
        }
    }
}

impl<O: Hash + Eq + Copy, P: Hash + Eq + Clone, V: Clone> Kept<O, P, V> {
    /// The page `page` of `owner` kept at `version`, or `read` now and kept. `version` must have
    /// been read from the database in this request, after its permission was decided. Version 0
    /// is no version (the database never gives it): nothing is kept under it.
    pub fn get_or_read(
        &self,
        owner: O,
        version: i64,
        page: P,
        read: impl FnOnce() -> QueryResult<V>,
    ) -> QueryResult<V> {
        if version == 0 {
            return read();
        }
        let key = (owner, version, page);
        if let Some(kept) = self.pages().get(&key) {
            return Ok(kept.clone());
        }
        let value = read()?;
        let mut pages = self.pages();
        pages.retain(|(o, v, _), _| *o != owner || *v == version);
        let own = pages.keys().filter(|(o, _, _)| *o == owner).count();
        let evicted = if own >= PER_OWNER {
            pages.keys().find(|(o, _, _)| *o == owner).cloned()
        } else if pages.len() >= PAGES {
            pages.keys().next().cloned()
        } else {
            None
        };
        if let Some(evicted) = evicted {
            pages.remove(&evicted);
        }
        pages.insert(key, value.clone());
        Ok(value)
    }

    fn pages(&self) -> MutexGuard<'_, HashMap<(O, i64, P), V>> {
        self.pages.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_read_once_per_version_and_other_versions_go() {
        let kept: Kept<i64, i64, i64> = Kept::default();
        let reads = std::cell::Cell::new(0);
        let get = |owner, version, page| {
            kept.get_or_read(owner, version, page, || {
                reads.set(reads.get() + 1);
                Ok(owner * 100 + version * 10 + page)
            })
            .unwrap()
        };
        assert_eq!(get(1, 1, 1), 111);
        assert_eq!(get(1, 1, 1), 111);
        assert_eq!(get(2, 1, 1), 211);
        assert_eq!(get(1, 2, 1), 121);
        assert_eq!(reads.get(), 3);
        assert_eq!(get(2, 1, 1), 211, "another owner's page stays");
        assert_eq!(reads.get(), 3);
        assert_eq!(get(1, 1, 1), 111, "the first version's page went");
        assert_eq!(reads.get(), 4);
        assert_eq!(get(1, 0, 1), 101);
        assert_eq!(get(1, 0, 1), 101);
        assert_eq!(reads.get(), 6, "nothing is kept under version 0");
        for page in 0..100 {
            get(3, 1, page);
        }
        let pages = kept.pages();
        assert_eq!(pages.keys().filter(|(o, _, _)| *o == 3).count(), PER_OWNER);
        assert!(
            pages.contains_key(&(2, 1, 1)),
            "one owner's pages do not push out another's"
        );
        drop(pages);
        for owner in 10..40 {
            for page in 0..PER_OWNER as i64 {
                get(owner, 1, page);
            }
        }
        assert_eq!(kept.pages().len(), PAGES);
    }
}
